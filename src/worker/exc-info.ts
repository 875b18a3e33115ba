import { type ExcInfo, errorToExcInfo, TS_EXCEPTION_MODULE } from "../protocol/exceptions.js";
import { saferepr } from "../protocol/saferepr.js";

/**
 * How a TS failure is stored so Python's `exception_to_python`
 * (celery/backends/base.py) rebuilds a sensible exception. The mapping is
 * protocol's {@link errorToExcInfo} (table at the top of
 * src/protocol/exceptions.ts); the worker's control-flow errors
 * (src/worker/errors.ts: PythonError, Retry, Reject, time limits, ...) carry
 * their Python identity as `excType` / `excModule` / `excArgs`, which that
 * converter honours. Stored, `exc_module` is never null.
 */
export type StoredExcInfo = ExcInfo & { exc_module: string };

export function excInfoOf(err: unknown): StoredExcInfo {
  const info = errorToExcInfo(err);
  // Only a RemoteTaskError read from a meta without `exc_module` gives null. Python's
  // exception_to_python treats None and an unimportable module alike (a same-named
  // Exception subclass), so the TS-only module name keeps that meaning.
  return { ...info, exc_module: info.exc_module ?? TS_EXCEPTION_MODULE };
}

/** The text Python shows as `AsyncResult.traceback`: the JS stack when there is one. */
export function tracebackOf(err: unknown): string {
  if (err instanceof Error && typeof err.stack === "string") return err.stack;
  const info = excInfoOf(err);
  return `${info.exc_type}: ${info.exc_message.map((m) => String(m)).join(", ")}`;
}

/** Python's `repr(exc)` for log lines and events (`ValueError('bad')`); never throws. */
export function excRepr(err: unknown): string {
  const info = excInfoOf(err);
  return `${info.exc_type}(${info.exc_message.map((arg) => saferepr(arg, { maxlen: 1024 })).join(", ")})`;
}
