import type { ResultMetaRecord } from "../backends/backend.js";
import type { CompatProfile } from "../compat.js";
import { formatPythonIsoformat } from "../protocol/datetime.js";
import type { WorkerRequest } from "./request.js";

/**
 * Result metas exactly as Celery's worker writes them
 * (celery/backends/base.py `Backend._get_result_meta` + `_store_result`):
 * `status, result, traceback, children, date_done`, then `group_id` /
 * `parent_id` when set, then the `result_extended` fields, then `task_id`.
 */
export const READY_STATES = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

export interface MetaContext {
  hostname: string;
  resultExtended: boolean;
  compat: CompatProfile;
  now?: Date;
}

/** A child result as `AsyncResult.as_tuple()` writes it: `[[id, parent-or-null], null]`. */
export function childTuple(taskId: string): unknown[] {
  return [[taskId, null], null];
}

export function buildResultMeta(
  status: string,
  result: unknown,
  traceback: string | null,
  request: Pick<WorkerRequest, "id"> & Partial<WorkerRequest>,
  context: MetaContext,
  children: unknown[] = [],
): ResultMetaRecord {
  const dateDone = READY_STATES.has(status)
    ? formatPythonIsoformat(context.now ?? new Date(), context.compat.dateDoneAware)
    : null;
  const meta: Record<string, unknown> = { status, result, traceback, children, date_done: dateDone };
  if (request.groupId) meta.group_id = request.groupId;
  if (request.parentId) meta.parent_id = request.parentId;
  if (context.resultExtended) {
    meta.name = request.name ?? null;
    meta.args = request.args ?? null;
    meta.kwargs = request.kwargs ?? null;
    meta.worker = context.hostname;
    meta.retries = request.retries ?? null;
    meta.queue = request.deliveryInfo?.routingKey ?? null;
    if (request.stamps && Object.keys(request.stamps).length > 0) {
      meta.stamped_headers = request.stampedHeaders ?? null;
      Object.assign(meta, request.stamps);
    }
  }
  meta.task_id = request.id;
  return meta as unknown as ResultMetaRecord;
}
