import { EventEmitter } from "node:events";
import type { WorkerRequest } from "./request.js";
import {
  type HookRequest,
  hookRequest,
  type PostrunState,
  type RunHooks,
  type RunSignal,
} from "./task-hooks.js";

/**
 * What a worker tells its observers (metrics, the CLI, user code): one typed
 * map, `worker.on("task-succeeded", (e) => ...)`. Two kinds, both fired whether
 * or not `-E` is on:
 * - Celery's task signals, with the values Celery passes and at the points it
 *   sends them (celery/app/trace.py `build_tracer`, `TraceInfo.handle_failure` /
 *   `handle_retry`, celery/worker/request.py `_announce_revoked`, 5.7.0):
 *   `task-prerun`, `task-success`, `task-failure`, `task-retry`, `task-postrun`,
 *   `task-revoked`, `worker-ready`, `worker-shutdown`. `task-success`/`-failure`/
 *   `-retry` and `task-postrun` come after the result is stored and before a
 *   late ack, as in Celery's tracer.
 * - Celery's task events (`task-received`, `task-started`, `task-succeeded`,
 *   `task-failed`, `task-retried`): where the worker sends its `task-*` events,
 *   after the message is settled.
 * Listeners run synchronously, in order, as Celery's signal receivers do; they
 * never change what the worker does, and one that throws is logged, not fatal.
 */
export interface TaskEventInfo {
  id: string;
  /** The task name (the shadow name is only for logs). */
  name: string;
}

export interface WorkerEventMap {
  /** Consuming has started (`worker_ready`). */
  "worker-ready": [{ hostname: string; queues: string[] }];
  /** The warm shutdown finished (`worker_shutdown`). */
  "worker-shutdown": [{ hostname: string }];
  /** A task message was accepted (not expired, not revoked); `task-received`. */
  "task-received": [TaskEventInfo];
  /** The task leaves the queue for a pool slot (`task-started`); `task-prerun` follows. */
  "task-started": [TaskEventInfo];
  /** `task_prerun(task_id, task, args, kwargs)`: after the early ack, before STARTED is stored and the handler runs. */
  "task-prerun": [TaskEventInfo & { args: unknown[]; kwargs: Record<string, unknown>; request: HookRequest }];
  /** `task_success(result)`: the handler's return value, after SUCCESS is stored and callbacks sent. */
  "task-success": [TaskEventInfo & { result: unknown; request: HookRequest }];
  /**
   * `task_failure(task_id, exception, args, kwargs, traceback)`: after FAILURE is stored and errbacks
   * ran; also for a hard time limit (no `task-postrun` then) and `Reject(requeue=false)` on 5.7.
   */
  "task-failure": [
    TaskEventInfo & {
      exception: unknown;
      args: unknown[];
      kwargs: Record<string, unknown>;
      traceback: string;
      request: HookRequest;
    },
  ];
  /** `task_retry(request, reason)`: `reason` is the Retry thrown, after the retry is sent and RETRY stored. */
  "task-retry": [TaskEventInfo & { request: HookRequest; reason: unknown; traceback: string }];
  "task-succeeded": [TaskEventInfo & { runtime: number; resultRepr: string }];
  /** `runtime` in seconds from `task-prerun`. */
  "task-failed": [TaskEventInfo & { runtime: number; exceptionRepr: string; traceback: string }];
  "task-retried": [TaskEventInfo & { exceptionRepr: string; traceback: string }];
  /**
   * `task_revoked(request, terminated, signum, expired)`: revoked before running, expired, or
   * terminated while running; after REVOKED is stored, before the message is acked (Celery
   * defers that ack with `call_soon`, so it goes out after the receivers returned).
   */
  "task-revoked": [
    TaskEventInfo & { expired: boolean; terminated: boolean; signum: number | null; request: HookRequest },
  ];
  /**
   * `task_postrun(task_id, task, args, kwargs, retval, state)`: the handler returned or threw
   * (`retval` is the value or what was thrown); after the outcome hook, before a late ack. Not
   * fired when the run was terminated or killed at its hard time limit (Celery's pool process is
   * gone by then).
   */
  "task-postrun": [
    TaskEventInfo & {
      args: unknown[];
      kwargs: Record<string, unknown>;
      retval: unknown;
      state: PostrunState;
      request: HookRequest;
    },
  ];
  /** The consumer hit an error it recovered from. */
  "consumer-error": [Error];
  /** The broker connection was lost; the consumer retries (once per loss, before `broker-back`). */
  "broker-lost": [Error];
  /** Consuming again after a loss; `downtime` in seconds since `broker-lost`. */
  "broker-back": [{ downtime: number }];
  /** The broker is gone for good; the worker stops with exit status 1. */
  "fatal-error": [Error];
}

export type WorkerEventName = keyof WorkerEventMap;
/**
 * A listener. One that returns a promise holds the worker at that point until it settles, as a
 * Celery signal receiver blocks the tracer (for the task signals; other events do not wait).
 */
export type WorkerEventListener<K extends WorkerEventName> = (...args: WorkerEventMap[K]) => unknown;

/** The worker's emitter: listeners run in order; one that throws is reported to `onListenerError`. */
export class WorkerEvents {
  private readonly emitter = new EventEmitter<WorkerEventMap>();

  constructor(private readonly onListenerError: (event: WorkerEventName, err: unknown) => void) {
    // Many observers (metrics, CLI, user hooks) may attach; none of them is a leak.
    this.emitter.setMaxListeners(0);
  }

  on<K extends WorkerEventName>(event: K, listener: WorkerEventListener<K>): void {
    (this.emitter.on as (e: K, l: WorkerEventListener<K>) => unknown)(event, listener);
  }

  /** True when `event` has a listener (the payload of an event nobody hears is not built). */
  has(event: WorkerEventName): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  off<K extends WorkerEventName>(event: K, listener: WorkerEventListener<K>): void {
    (this.emitter.off as (e: K, l: WorkerEventListener<K>) => unknown)(event, listener);
  }

  /**
   * Runs the listeners in order. Synchronous listeners finish before it returns (undefined);
   * from the first one that returns a promise on, each is awaited before the next, and the
   * returned promise settles when all have (it never rejects).
   */
  emit<K extends WorkerEventName>(event: K, ...args: WorkerEventMap[K]): Promise<void> | undefined {
    // Nobody listening (the usual worker: no user observers): no copy of the listener array.
    if (this.emitter.listenerCount(event) === 0) return undefined;
    const listeners = this.emitter.listeners(event) as WorkerEventListener<K>[];
    for (let i = 0; i < listeners.length; i++) {
      const pending = this.call(event, listeners[i] as WorkerEventListener<K>, args);
      if (pending) return this.rest(event, pending, listeners.slice(i + 1), args);
    }
    return undefined;
  }

  private call<K extends WorkerEventName>(
    event: K,
    listener: WorkerEventListener<K>,
    args: WorkerEventMap[K],
  ): Promise<void> | undefined {
    try {
      const out = listener(...args);
      if (isThenable(out)) {
        return Promise.resolve(out).then(
          () => undefined,
          (err: unknown) => this.onListenerError(event, err),
        );
      }
    } catch (err) {
      this.onListenerError(event, err);
    }
    return undefined;
  }

  private async rest<K extends WorkerEventName>(
    event: K,
    pending: Promise<void>,
    listeners: WorkerEventListener<K>[],
    args: WorkerEventMap[K],
  ): Promise<void> {
    await pending;
    for (const listener of listeners) await this.call(event, listener, args);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * The runner's hooks as typed events: Celery's task signals in the tracer's
 * order (celery/app/trace.py `build_tracer`, 5.7.0): prerun; then success,
 * failure or retry; then postrun (a parent-side `task_failure` for
 * `Reject(requeue=False)` after it, as Request.on_failure sends it).
 */
export function taskSignalHooks(events: WorkerEvents): RunHooks {
  // The task signals a finished run may send; with none of them listened to, a run builds no
  // payload and awaits nothing (the common case: no hooks, thousands of tasks a second).
  const settledEvents: readonly WorkerEventName[] = [
    "task-success",
    "task-failure",
    "task-retry",
    "task-revoked",
    "task-postrun",
  ];
  return {
    prerun: (r) => {
      if (!events.has("task-prerun")) return undefined;
      return events.emit("task-prerun", {
        id: r.id,
        name: r.name,
        args: r.args,
        kwargs: r.kwargs,
        request: hookRequest(r),
      });
    },
    settled: (r, signal) => {
      if (!settledEvents.some((event) => events.has(event))) return undefined;
      return emitSettled(events, r, signal);
    },
  };
}

/** The signals of a finished run, in the tracer's order (see {@link taskSignalHooks}). */
async function emitSettled(events: WorkerEvents, r: WorkerRequest, signal: RunSignal): Promise<void> {
  const request = hookRequest(r);
  const task = { id: r.id, name: r.name };
  const failure = async () => {
    if (signal.kind !== "failure") return;
    await events.emit("task-failure", {
      ...task,
      exception: signal.exception,
      args: r.args,
      kwargs: r.kwargs,
      traceback: signal.traceback,
      request,
    });
  };
  if (signal.kind === "success")
    await events.emit("task-success", { ...task, result: signal.result, request });
  else if (signal.kind === "retry")
    await events.emit("task-retry", {
      ...task,
      request,
      reason: signal.reason,
      traceback: signal.traceback,
    });
  else if (signal.kind === "failure" && !signal.afterPostrun) await failure();
  else if (signal.kind === "terminated")
    await events.emit("task-revoked", {
      ...task,
      expired: false,
      terminated: true,
      signum: signal.signum,
      request,
    });
  if (signal.postrun) {
    await events.emit("task-postrun", {
      ...task,
      args: r.args,
      kwargs: r.kwargs,
      retval: signal.postrun.retval,
      state: signal.postrun.state,
      request,
    });
  }
  if (signal.kind === "failure" && signal.afterPostrun) await failure();
}
