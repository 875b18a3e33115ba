/**
 * Result metas exactly as Celery's worker writes them: `requestResultMeta`
 * is a thin adapter from the worker's request to `buildResultMeta` of src/protocol/result-meta.ts
 * (Celery key order, `date_done` per compat, `result_extended` fields,
 * stamps), which mirrors celery/backends/base.py `Backend._get_result_meta`
 * + `_store_result`.
 */
import type { ResultMetaRecord } from "../backends/backend.js";
import type { CompatProfile } from "../compat.js";
import { asyncResultTuple, buildResultMeta, type ResultTuple } from "../protocol/result-meta.js";
import type { WorkerRequest } from "./request.js";

export interface MetaContext {
  hostname: string;
  resultExtended: boolean;
  compat: CompatProfile;
  now?: Date;
}

/** A child result as `AsyncResult.as_tuple()` writes it: `[[id, parent-or-null], null]`. */
export function childTuple(taskId: string): unknown[] {
  return asyncResultTuple(taskId);
}

/**
 * `request` may be partial (`{ id }` for a message that never became a
 * request, e.g. an unknown task); it is still a request to Celery, so
 * `children` defaults to `[]`, not the request-less `null`.
 */
export function requestResultMeta(
  status: string,
  result: unknown,
  traceback: string | null,
  request: Pick<WorkerRequest, "id"> & Partial<WorkerRequest>,
  context: MetaContext,
  children: unknown[] = [],
): ResultMetaRecord {
  const meta = buildResultMeta(
    {
      taskId: request.id,
      status,
      result,
      traceback,
      // current_task_children(request): what the handler sent, then what the worker sent for it.
      children: [...(request.children ?? []), ...children] as ResultTuple[],
      request: {
        task: request.name ?? null,
        args: request.args ?? null,
        kwargs: request.kwargs ?? null,
        hostname: context.hostname,
        retries: request.retries ?? null,
        routingKey: request.deliveryInfo?.routingKey ?? null,
        group: request.groupId ?? null,
        parentId: request.parentId ?? null,
        stampedHeaders: request.stampedHeaders ?? null,
        stamps: request.stamps ?? null,
      },
      extended: context.resultExtended,
      ...(context.now ? { now: context.now } : {}),
    },
    context.compat,
  );
  return meta as ResultMetaRecord;
}
