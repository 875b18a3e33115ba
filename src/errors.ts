/**
 * Every error Celeriac throws descends from {@link CeleryError} and carries a
 * stable `code`, so callers can branch on `err.code` without string matching.
 *
 * The tree mirrors kombu's and Celery's (`kombu.exceptions`, `celery.exceptions`):
 * decode/encode/content-disallowed for serialization, a recoverable connection
 * error for transports, and the task-outcome errors a caller of
 * `AsyncResult.get()` sees.
 */
import { redactUrl } from "./redact.js";

export class CeleryError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A message that is not a valid Celery task message (missing `id`, 2-element body, ...). */
export class ProtocolError extends CeleryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_PROTOCOL", message, options);
  }
}

/** A body that could not be decoded (bad JSON, unknown `__type__` marker, bad compression stream). */
export class DecodeError extends CeleryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_DECODE", message, options);
  }
}

/** A value that the chosen serializer cannot represent. */
export class EncodeError extends CeleryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ENCODE", message, options);
  }
}

/** Mirrors `kombu.exceptions.ContentDisallowed`: a content type outside the accept list (pickle, for one). */
export class ContentDisallowedError extends CeleryError {
  readonly contentType: string;

  constructor(contentType: string, message?: string) {
    super("ERR_CONTENT_DISALLOWED", message ?? `Refusing to deserialize content of type ${contentType}`);
    this.contentType = contentType;
  }
}

/**
 * A bad option, setting or URL. The message names the option and what it accepts; a URL
 * quoted in it has its password masked.
 */
export class ConfigError extends CeleryError {
  readonly option: string;

  constructor(option: string, message: string) {
    super("ERR_CONFIG", redactUrl(message));
    this.option = option;
  }
}

/**
 * Broker or backend unreachable or lost (kombu's `OperationalError`); retrying may succeed.
 * A URL quoted in the message has its password masked.
 */
export class ConnectionLostError extends CeleryError {
  readonly recoverable = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_CONNECTION", redactUrl(message), options);
  }
}

/**
 * A database result backend's query failed for a reason other than an unreachable server (that
 * is a ConnectionLostError): a missing table, a constraint, a permission. The message names the
 * database (password masked) and what to do.
 */
export class DatabaseError extends CeleryError {
  /** PostgreSQL's SQLSTATE when the server answered (e.g. `42P01` undefined table). */
  readonly sqlState: string | undefined;

  constructor(message: string, sqlState: string | undefined, options?: { cause?: unknown }) {
    super("ERR_DATABASE", message, options);
    this.sqlState = sqlState;
  }
}

/** A wait ran out of time (`AsyncResult.get({ timeout })`). Mirrors `celery.exceptions.TimeoutError`. */
export class TimeoutError extends CeleryError {
  constructor(message: string) {
    super("ERR_TIMEOUT", message);
  }
}

/**
 * What a stored FAILURE (or REVOKED) result says about the exception: the task id, Celery's
 * exception triple (`exc_type`, `exc_module`, `exc_message`) and the remote traceback. Every error
 * rebuilt from a result meta carries these fields, whichever class it is.
 */
export interface StoredFailure {
  /** The task whose result this is. */
  readonly taskId: string | undefined;
  /** `exc_type`: the exception class name (`ValueError`, `NotRegistered`, `TaskRevokedError`). */
  readonly excType: string | undefined;
  /** `exc_module`: where the class lives (`builtins`, `celery.exceptions`), when the meta says. */
  readonly excModule: string | undefined;
  /** `exc_message`: the exception's args. */
  readonly excMessage: unknown[];
  /** The traceback text the worker stored, or null. */
  readonly traceback: string | null;
}

/** The StoredFailure fields given to a constructor; all optional (a locally raised error has none). */
export type StoredFailureInit = Partial<{ -readonly [K in keyof StoredFailure]: StoredFailure[K] }>;

function storedFailureFields(init: StoredFailureInit | undefined): StoredFailure {
  return {
    taskId: init?.taskId,
    excType: init?.excType,
    excModule: init?.excModule,
    excMessage: init?.excMessage ?? [],
    traceback: init?.traceback ?? null,
  };
}

/** The task was revoked or expired (`celery.exceptions.TaskRevokedError`). */
export class TaskRevokedError extends CeleryError implements StoredFailure {
  readonly taskId: string | undefined;
  readonly excType: string | undefined;
  readonly excModule: string | undefined;
  readonly excMessage: unknown[];
  readonly traceback: string | null;

  /** `failure`: the stored meta's fields; a string is the task id alone (the older signature). */
  constructor(message: string, failure?: string | StoredFailureInit) {
    super("ERR_TASK_REVOKED", message);
    const stored = storedFailureFields(typeof failure === "string" ? { taskId: failure } : failure);
    this.taskId = stored.taskId;
    this.excType = stored.excType;
    this.excModule = stored.excModule;
    this.excMessage = stored.excMessage;
    this.traceback = stored.traceback;
  }
}

/**
 * A task failed on the remote side. Carries Celery's exception triple
 * (`exc_type`, `exc_module`, `exc_message`) and the remote traceback text, so
 * a Python exception keeps its identity across the bridge.
 */
export class RemoteTaskError extends CeleryError implements StoredFailure {
  readonly excType: string;
  readonly excModule: string | undefined;
  readonly excMessage: unknown[];
  readonly traceback: string | null;
  readonly taskId: string | undefined;

  constructor(info: {
    excType: string;
    excModule?: string | undefined;
    excMessage: unknown[];
    traceback?: string | null;
    taskId?: string | undefined;
  }) {
    const shown = info.excMessage.length === 1 ? String(info.excMessage[0]) : JSON.stringify(info.excMessage);
    super("ERR_REMOTE_TASK", `${info.excModule ? `${info.excModule}.` : ""}${info.excType}: ${shown}`);
    this.excType = info.excType;
    this.excModule = info.excModule;
    this.excMessage = info.excMessage;
    this.traceback = info.traceback ?? null;
    this.taskId = info.taskId;
  }
}

/** The task name is not registered on the worker that received it (`celery.exceptions.NotRegistered`). */
export class NotRegisteredError extends CeleryError implements StoredFailure {
  readonly taskName: string;
  readonly taskId: string | undefined;
  readonly excType: string | undefined;
  readonly excModule: string | undefined;
  readonly excMessage: unknown[];
  readonly traceback: string | null;

  /** `failure`: the stored meta's fields, when the error is rebuilt from a FAILURE result. */
  constructor(taskName: string, failure?: StoredFailureInit) {
    super("ERR_NOT_REGISTERED", `Task of kind ${JSON.stringify(taskName)} is not registered`);
    this.taskName = taskName;
    const stored = storedFailureFields(failure);
    this.taskId = stored.taskId;
    this.excType = stored.excType;
    this.excModule = stored.excModule;
    this.excMessage = stored.excMessage;
    this.traceback = stored.traceback;
  }
}
