/**
 * The one converter between TS errors and Celery's serialized exception
 * triple `{exc_type, exc_message, exc_module}` (celery/backends/base.py
 * `Backend.prepare_exception` for non-pickle serializers, and
 * `exception_to_python` for the way back).
 *
 * Python rebuilds the triple by walking `exc_type` through the module named
 * `exc_module` if that module is loaded; otherwise it creates an `Exception`
 * subclass of that name. A non-exception attribute (e.g. module `builtins`,
 * type `open`) is a SecurityError there, so we only ever write `builtins`
 * with real builtin exception names.
 *
 * ## errorToExcInfo mapping (the documented contract)
 *
 * | thrown in TS                                          | exc_type                 | exc_module          |
 * |-------------------------------------------------------|--------------------------|---------------------|
 * | RemoteTaskError (a Python error passing through)      | its excType              | its excModule       |
 * | any error with string `excType` (or `pyType`)         | that                     | `excModule` or `builtins` |
 * | TaskRevokedError                                      | TaskRevokedError         | celery.exceptions   |
 * | NotRegisteredError                                    | NotRegistered            | celery.exceptions   |
 * | celeriac TimeoutError                                 | TimeoutError             | celery.exceptions   |
 * | DecodeError / EncodeError / ContentDisallowedError    | DecodeError / EncodeError / ContentDisallowed | kombu.exceptions |
 * | other CeleryError (ProtocolError, ConfigError, …)     | its class name           | celeriac            |
 * | DOMException/Error named AbortError or TimeoutError   | TimeoutError             | builtins            |
 * | Node system error `code` ENOENT, EEXIST, EACCES/EPERM, ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, ETIMEDOUT, EISDIR, ENOTDIR | FileNotFoundError, FileExistsError, PermissionError, ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError, IsADirectoryError, NotADirectoryError | builtins |
 * | TypeError                                             | TypeError                | builtins            |
 * | RangeError                                            | ValueError               | builtins            |
 * | SyntaxError (in practice JSON.parse; Python's json raises ValueError) | ValueError | builtins         |
 * | URIError                                              | ValueError               | builtins            |
 * | ReferenceError                                        | NameError                | builtins            |
 * | EvalError                                             | RuntimeError             | builtins            |
 * | AggregateError (ExceptionGroup needs 2 args)          | Exception                | builtins            |
 * | Error                                                 | Exception                | builtins            |
 * | a user subclass (`class MyError extends Error`)       | its `name`               | celeriac            |
 * | a thrown string                                       | Exception, exc_message `[the string]` | builtins |
 * | any other thrown value                                | Exception, exc_message `[saferepr(value)]` | builtins |
 *
 * `exc_message` is the error's own `excArgs` array (the Python `exc.args` a
 * declared-identity error carries, e.g. the worker's Retry or
 * TimeLimitExceeded), else its `args` array (Python errors passed through
 * keep theirs), else `[message]`. Values JSON can't
 * carry (functions, symbols, undefined, nested errors) are replaced by a
 * string, as `ensure_serializable` replaces them by their repr.
 */
import {
  CeleryError,
  TimeoutError as CeleryTimeoutError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  NotRegisteredError,
  RemoteTaskError,
  TaskRevokedError,
} from "../errors.js";
import { isPlainObject, own } from "./guards.js";
import { saferepr } from "./saferepr.js";
import { REVOKED } from "./states.js";

/** Celery's serialized exception. `exc_module` is null only when a reader found none. */
export interface ExcInfo {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string | null;
}

const BUILTINS = "builtins";
const CELERY_EXCEPTIONS = "celery.exceptions";
/** Module written for TS-only error classes; not importable in Python, so it gets a same-named Exception subclass. */
export const TS_EXCEPTION_MODULE = "celeriac";

const BY_JS_NAME: Record<string, string> = {
  TypeError: "TypeError",
  RangeError: "ValueError",
  SyntaxError: "ValueError",
  URIError: "ValueError",
  ReferenceError: "NameError",
  EvalError: "RuntimeError",
  AggregateError: "Exception",
  AbortError: "TimeoutError",
  TimeoutError: "TimeoutError",
  Error: "Exception",
};

const BY_ERRNO_CODE: Record<string, string> = {
  ENOENT: "FileNotFoundError",
  EEXIST: "FileExistsError",
  EACCES: "PermissionError",
  EPERM: "PermissionError",
  ECONNREFUSED: "ConnectionRefusedError",
  ECONNRESET: "ConnectionResetError",
  ECONNABORTED: "ConnectionAbortedError",
  EPIPE: "BrokenPipeError",
  ETIMEDOUT: "TimeoutError",
  EISDIR: "IsADirectoryError",
  ENOTDIR: "NotADirectoryError",
};

/** Like `ensure_serializable`: keep JSON-able items, stringify the rest. */
function serializableItem(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "function" || typeof value === "symbol") return String(value);
  if (value instanceof Error) return `${value.name}(${JSON.stringify(value.message)})`;
  return value;
}

function messageOf(err: Error): unknown[] {
  const args = (err as { args?: unknown }).args;
  if (Array.isArray(args)) return args.map(serializableItem);
  return [err.message];
}

/** `exc_message` of a declared-identity error: its `excArgs` (Python `exc.args`) when present. */
function declaredMessageOf(err: object): unknown[] {
  const excArgs = own(err as Record<string, unknown>, "excArgs");
  if (Array.isArray(excArgs)) return excArgs.map(serializableItem);
  return err instanceof Error ? messageOf(err) : [];
}

function triple(excType: string, excMessage: unknown[], excModule: string): ExcInfo {
  return { exc_type: excType, exc_message: excMessage, exc_module: excModule };
}

/** Maps anything thrown by a TS task to Celery's exception triple (see the table above). */
export function errorToExcInfo(err: unknown): ExcInfo {
  if (err instanceof RemoteTaskError) {
    return {
      exc_type: err.excType,
      exc_message: err.excMessage.map(serializableItem),
      exc_module: err.excModule ?? null,
    };
  }
  if (typeof err === "object" && err !== null) {
    const declared =
      own(err as Record<string, unknown>, "excType") ?? own(err as Record<string, unknown>, "pyType");
    if (typeof declared === "string" && declared !== "") {
      const module = own(err as Record<string, unknown>, "excModule");
      return triple(
        declared,
        declaredMessageOf(err),
        typeof module === "string" && module !== "" ? module : BUILTINS,
      );
    }
  }
  if (!(err instanceof Error)) {
    // DOMException is an Error in Node 20, so AbortSignal.timeout() reasons land below.
    return triple("Exception", [typeof err === "string" ? err : saferepr(err, { maxlen: 1024 })], BUILTINS);
  }
  if (err instanceof TaskRevokedError) return triple("TaskRevokedError", messageOf(err), CELERY_EXCEPTIONS);
  if (err instanceof NotRegisteredError) return triple("NotRegistered", [err.taskName], CELERY_EXCEPTIONS);
  if (err instanceof CeleryTimeoutError) return triple("TimeoutError", messageOf(err), CELERY_EXCEPTIONS);
  if (err instanceof DecodeError) return triple("DecodeError", messageOf(err), "kombu.exceptions");
  if (err instanceof EncodeError) return triple("EncodeError", messageOf(err), "kombu.exceptions");
  if (err instanceof ContentDisallowedError)
    return triple("ContentDisallowed", messageOf(err), "kombu.exceptions");
  if (err instanceof CeleryError) return triple(err.constructor.name, messageOf(err), TS_EXCEPTION_MODULE);
  const code = own(err as unknown as Record<string, unknown>, "code");
  if (typeof code === "string" && BY_ERRNO_CODE[code])
    return triple(BY_ERRNO_CODE[code], messageOf(err), BUILTINS);
  const builtin = BY_JS_NAME[err.name];
  if (builtin) return triple(builtin, messageOf(err), BUILTINS);
  return triple(err.name || "Exception", messageOf(err), err.name ? TS_EXCEPTION_MODULE : BUILTINS);
}

/** True for an exception triple as Celery writes it (exc_type string; exc_module string, or absent/null). */
export function isExcInfo(value: unknown): value is ExcInfo {
  if (!isPlainObject(value)) return false;
  const type = own(value, "exc_type");
  const module = own(value, "exc_module");
  return (
    typeof type === "string" &&
    Array.isArray(own(value, "exc_message")) &&
    (module === undefined || module === null || typeof module === "string")
  );
}

/**
 * Lenient reader: anything `exception_to_python` accepts (exc_type required;
 * a non-list exc_message becomes `[value]`, as Python does `cls(exc_message)`).
 * Returns null when `value` is not an exception triple.
 */
export function toExcInfo(value: unknown): ExcInfo | null {
  if (!isPlainObject(value)) return null;
  const type = own(value, "exc_type");
  const module = own(value, "exc_module");
  if (typeof type !== "string" || (module !== undefined && module !== null && typeof module !== "string"))
    return null;
  const message = own(value, "exc_message");
  return {
    exc_type: type,
    exc_message: Array.isArray(message) ? message : message === undefined ? [] : [message],
    exc_module: (module as string | null | undefined) ?? null,
  };
}

export interface ExcInfoContext {
  traceback?: string | null;
  taskId?: string;
  /** The meta's status: REVOKED always gives a TaskRevokedError. */
  state?: string;
}

/**
 * Rebuilds a typed TS error from a stored exception: TaskRevokedError for
 * REVOKED or `celery.exceptions.TaskRevokedError`, NotRegisteredError for
 * `celery.exceptions.NotRegistered`, otherwise a RemoteTaskError carrying
 * excType/excModule/excMessage/traceback.
 */
export function excInfoToError(info: ExcInfo, context: ExcInfoContext = {}): Error {
  const first = info.exc_message[0];
  const fromCelery = info.exc_module === CELERY_EXCEPTIONS;
  const stored = {
    taskId: context.taskId,
    excType: info.exc_type,
    excModule: info.exc_module ?? undefined,
    excMessage: info.exc_message,
    traceback: context.traceback ?? null,
  };
  if (context.state === REVOKED || (fromCelery && info.exc_type === "TaskRevokedError")) {
    const reason = first === undefined ? "revoked" : String(first);
    const what = context.taskId === undefined ? "Task" : `Task ${context.taskId}`;
    return new TaskRevokedError(`${what} was ${reason === "expired" ? "expired" : "revoked"} (${reason})`, {
      ...stored,
      // A REVOKED meta without an exception (metaToError fills in the type): name its module too.
      excModule: stored.excModule ?? CELERY_EXCEPTIONS,
    });
  }
  if (fromCelery && info.exc_type === "NotRegistered") {
    // The worker stores NotRegistered(str(KeyError(name))) (celery/worker/consumer/consumer.py
    // on_unknown_task), so the name arrives wrapped in the KeyError's quotes: unwrap it.
    const name = first === undefined ? "" : String(first).replace(/^'(.*)'$/, "$1");
    return new NotRegisteredError(name, stored);
  }
  return new RemoteTaskError(stored);
}
