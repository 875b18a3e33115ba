import type { WorkerRequest } from "./request.js";

/**
 * The request a hook is told about: Celery's task `Context` (`task.request`)
 * as the worker received it. Read-only; a hook that wants to change what runs
 * has no business here, as in Celery.
 */
export type HookRequest = Readonly<
  Pick<
    WorkerRequest,
    | "id"
    | "name"
    | "args"
    | "kwargs"
    | "retries"
    | "eta"
    | "expires"
    | "rootId"
    | "parentId"
    | "groupId"
    | "groupIndex"
    | "origin"
    | "replyTo"
    | "correlationId"
    | "headers"
    | "stamps"
    | "deliveryInfo"
  >
>;

/** The final state a run reports to `task-postrun` (celery/app/trace.py `build_tracer`'s `state`). */
export type PostrunState = "SUCCESS" | "FAILURE" | "RETRY" | "IGNORED" | "REJECTED";

/**
 * The signal a recorded run sends, with the values Celery's tracer passes
 * (celery/app/trace.py `build_tracer` / `TraceInfo.handle_failure` /
 * `handle_retry`, celery/worker/request.py `on_failure`/`on_timeout`, 5.7.0):
 * `result` is the handler's return value, `exception` / `reason` what it threw.
 * `postrun` is false when Celery's pool process is gone before it could send
 * `task_postrun` (hard time limit, `revoke(terminate=True)`).
 */
export type RunSignal =
  | { kind: "success"; result: unknown; postrun: { state: "SUCCESS"; retval: unknown } }
  | {
      kind: "failure";
      exception: unknown;
      traceback: string;
      /** Reject(requeue=False) reports task_failure after task_postrun (Request.on_failure runs in the parent). */
      afterPostrun: boolean;
      postrun: { state: PostrunState; retval: unknown } | null;
    }
  | { kind: "retry"; reason: unknown; traceback: string; postrun: { state: "RETRY"; retval: unknown } }
  /** `revoke(terminate=True)`: task_revoked(terminated=True, signum), no postrun. */
  | { kind: "terminated"; signum: number; postrun: null }
  | { kind: "none"; postrun: { state: PostrunState; retval: unknown } | null };

/** What the runner tells the worker, in Celery's order (the worker turns these into typed events). */
export interface RunHooks {
  /**
   * `task_prerun`: after the early ack, before STARTED is stored and the handler runs. Undefined
   * when nothing is to be waited for (no listener, or only synchronous ones).
   */
  prerun(request: WorkerRequest): Promise<void> | undefined;
  /**
   * `task_success` / `task_failure` / `task_retry` then `task_postrun`, after the meta is stored,
   * before a late ack. Undefined when nothing is to be waited for.
   */
  settled(request: WorkerRequest, signal: RunSignal): Promise<void> | undefined;
}

/** The {@link HookRequest} view of a worker request (a copy: hooks cannot change the run). */
export function hookRequest(r: WorkerRequest): HookRequest {
  return {
    id: r.id,
    name: r.name,
    args: r.args,
    kwargs: r.kwargs,
    retries: r.retries,
    eta: r.eta,
    expires: r.expires,
    rootId: r.rootId,
    parentId: r.parentId,
    groupId: r.groupId,
    groupIndex: r.groupIndex,
    origin: r.origin,
    replyTo: r.replyTo,
    correlationId: r.correlationId,
    headers: r.headers,
    stamps: r.stamps,
    deliveryInfo: r.deliveryInfo,
  };
}
