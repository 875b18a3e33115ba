import type { ResultMetaRecord } from "../backends/backend.js";
import { excInfoToError, toExcInfo } from "../protocol/exceptions.js";

/**
 * Turns a FAILURE/REVOKED meta into the TS error a caller of `get()` sees, as
 * celery/result.py `AsyncResult.maybe_throw` does with the backend's
 * `exception_to_python`: the protocol's one converter does the mapping
 * (TaskRevokedError, NotRegisteredError, else RemoteTaskError).
 */
export function metaToError(meta: ResultMetaRecord): Error {
  const info = toExcInfo(meta.result) ?? {
    exc_type: meta.status === "REVOKED" ? "TaskRevokedError" : "Exception",
    exc_message: [],
    exc_module: null,
  };
  return excInfoToError(info, { traceback: meta.traceback, taskId: meta.task_id, state: meta.status });
}
