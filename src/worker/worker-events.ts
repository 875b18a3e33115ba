import { EventEmitter } from "node:events";

/**
 * What a worker tells its observers (metrics, the CLI, user code): one typed
 * map, `worker.on("task-succeeded", (e) => ...)`. The task events fire where
 * Celery's worker sends its `task-*` events and signals (celery/worker/strategy.py
 * `task_message_handler`, celery/app/trace.py `build_tracer`: `task_prerun`,
 * `task_postrun`, 5.7.0), whether or not `-E` is on; observers never change
 * what the worker does, and an observer that throws is logged, not fatal.
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
  /** The task leaves the queue for a pool slot (`task-started`); `task-prerun` follows at once. */
  "task-started": [TaskEventInfo];
  /** The handler is about to run (`task_prerun`). */
  "task-prerun": [TaskEventInfo];
  "task-succeeded": [TaskEventInfo & { runtime: number; resultRepr: string }];
  /** `runtime` in seconds from `task-prerun`. */
  "task-failed": [TaskEventInfo & { runtime: number; exceptionRepr: string; traceback: string }];
  "task-retried": [TaskEventInfo & { exceptionRepr: string; traceback: string }];
  /** Revoked before running, expired, or terminated while running. */
  "task-revoked": [TaskEventInfo & { expired: boolean; terminated: boolean }];
  /** The run is over, whatever its outcome, and its slot is free (`task_postrun`). */
  "task-postrun": [TaskEventInfo];
  /** The consumer hit an error it recovered from. */
  "consumer-error": [Error];
  /** The broker is gone for good; the worker stops with exit status 1. */
  "fatal-error": [Error];
}

export type WorkerEventName = keyof WorkerEventMap;
export type WorkerEventListener<K extends WorkerEventName> = (...args: WorkerEventMap[K]) => void;

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

  off<K extends WorkerEventName>(event: K, listener: WorkerEventListener<K>): void {
    (this.emitter.off as (e: K, l: WorkerEventListener<K>) => unknown)(event, listener);
  }

  emit<K extends WorkerEventName>(event: K, ...args: WorkerEventMap[K]): void {
    for (const listener of this.emitter.listeners(event) as WorkerEventListener<K>[]) {
      try {
        listener(...args);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }
}
