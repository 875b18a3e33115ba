import type { ResultBackend } from "../backends/backend.js";
import { ConfigError } from "../errors.js";
import { EXCEPTION_STATES } from "../protocol/states.js";
import type { UpdateStateOptions } from "./context.js";
import { excInfoOf } from "./exc-info.js";
import type { WorkerRequest } from "./request.js";
import { type MetaContext, requestResultMeta } from "./result-meta.js";
import { type ResultEncoder, serializableExcInfo, storedValue } from "./result-value.js";
import { replyDestination } from "./task-outcome.js";

export interface UpdateStateDeps {
  backend: ResultBackend | null;
  encodeResult: ResultEncoder;
  metaContext(): MetaContext;
}

/**
 * celery/app/task.py `Task.update_state` → `backend.store_result(task_id,
 * meta, state, request=self.request)` (5.7.0): the meta is built from this
 * task's request (name, args, worker, group, parent, stamps under
 * `result_extended`), `date_done` only for ready states, whatever the task's
 * `ignore_result` says. `Backend.encode_result` turns the value of an
 * exception state (FAILURE, RETRY, REVOKED) that is an exception into `{exc_type, exc_message,
 * exc_module}` and stores any other as is. A backend error reaches the
 * handler, as it reaches the Python task; without a backend Celery's
 * `DisabledBackend` raises, and so does this.
 */
export async function updateTaskState(
  deps: UpdateStateDeps,
  request: WorkerRequest,
  state: string,
  meta: unknown,
  options: UpdateStateOptions = {},
): Promise<void> {
  if (typeof state !== "string" || state === "") {
    throw new TypeError(
      `ctx.updateState(state, meta): state must be a non-empty string, got ${String(state)}`,
    );
  }
  if (!deps.backend) {
    throw new ConfigError(
      "backend",
      "ctx.updateState() needs a result backend: set `backend` (Celery raises NotImplementedError without one)",
    );
  }
  const value =
    EXCEPTION_STATES.has(state) && meta instanceof Error
      ? serializableExcInfo(excInfoOf(meta), deps.encodeResult)
      : storedValue(meta);
  const target = options.taskId === undefined ? request : { ...request, id: options.taskId };
  await deps.backend.storeResult(
    requestResultMeta(state, value, null, target, deps.metaContext()),
    replyDestination(request),
  );
}
