import type { ResultMetaRecord } from "../backends/backend.js";
import { NotRegisteredError, RemoteTaskError, TaskRevokedError } from "../errors.js";

/**
 * Turns a FAILURE/REVOKED meta into the TS error a caller of `get()` sees,
 * as celery/backends/base.py `exception_to_python` + celery/result.py
 * `AsyncResult.maybe_throw` do on the Python side:
 *
 * - REVOKED (`TaskRevokedError`, `exc_message` `["revoked"]` or `["expired"]`) -> {@link TaskRevokedError};
 * - `celery.exceptions.NotRegistered` -> {@link NotRegisteredError} (the name is `exc_message[0]`);
 * - anything else -> {@link RemoteTaskError} carrying `excType`, `excModule`,
 *   `excMessage` (the exception's args list) and the Python traceback.
 */
export interface ExcInfo {
  exc_type?: unknown;
  exc_message?: unknown;
  exc_module?: unknown;
}

function excArgs(message: unknown): unknown[] {
  if (Array.isArray(message)) return message;
  if (message === undefined || message === null) return [];
  return [message];
}

export function metaToError(meta: ResultMetaRecord): Error {
  const info = (meta.result !== null && typeof meta.result === "object" ? meta.result : {}) as ExcInfo;
  const excType =
    typeof info.exc_type === "string"
      ? info.exc_type
      : meta.status === "REVOKED"
        ? "TaskRevokedError"
        : "Exception";
  const excModule = typeof info.exc_module === "string" ? info.exc_module : undefined;
  const args = excArgs(info.exc_message);
  if (meta.status === "REVOKED" || (excType === "TaskRevokedError" && excModule === "celery.exceptions")) {
    const reason = typeof args[0] === "string" ? args[0] : "revoked";
    return new TaskRevokedError(
      `Task ${meta.task_id} was ${reason === "expired" ? "expired" : "revoked"} (${reason})`,
      meta.task_id,
    );
  }
  if (excType === "NotRegistered" && excModule === "celery.exceptions") {
    const err = new NotRegisteredError(
      typeof args[0] === "string" ? args[0].replace(/^'(.*)'$/, "$1") : String(args[0]),
    );
    return Object.assign(err, { taskId: meta.task_id, traceback: meta.traceback });
  }
  return new RemoteTaskError({
    excType,
    excModule,
    excMessage: args,
    traceback: meta.traceback,
    taskId: meta.task_id,
  });
}
