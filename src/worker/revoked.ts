import type { ExcInfo } from "./exc-info.js";

/** `TaskRevokedError(reason)` as celery/backends/base.py `mark_as_revoked` stores it ("revoked" or "expired"). */
export function TaskRevokedErrorInfo(reason: "revoked" | "expired"): ExcInfo {
  return { exc_type: "TaskRevokedError", exc_message: [reason], exc_module: "celery.exceptions" };
}
