import type { StoredExcInfo } from "./exc-info.js";

/**
 * `TaskRevokedError(reason)` as celery/backends/base.py `mark_as_revoked` stores it: "revoked",
 * "expired", or "terminated" (celery/worker/request.py `_announce_revoked` after a terminate).
 */
export function TaskRevokedErrorInfo(reason: "revoked" | "expired" | "terminated"): StoredExcInfo {
  return { exc_type: "TaskRevokedError", exc_message: [reason], exc_module: "celery.exceptions" };
}
