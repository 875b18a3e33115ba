import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The task a worker is running in this async context: Celery's
 * `app.current_worker_task` (celery/app/base.py, a thread-local stack in
 * Python; an AsyncLocalStorage here, so concurrent handlers each see their
 * own). `Celery.send_task` reads it for tasks sent from inside a task: the
 * parent and root ids, the priority with `task_inherit_parent_priority`, and
 * `parent.add_trail(result)`, which puts the sent task into the running
 * task's `children` (stored in its result meta).
 */
export interface CurrentWorkerTask {
  readonly id: string;
  readonly rootId: string | null;
  /** `delivery_info.priority` of the running task's message. */
  readonly priority: number | null;
  /** `request.children`: `as_tuple()` of each result sent from inside the task. */
  readonly children: unknown[];
}

const running = new AsyncLocalStorage<CurrentWorkerTask>();
/** Inside an `apply_async` of a canvas, whose members are sent with `add_to_parent=False`. */
const trailSuppressed = new AsyncLocalStorage<true>();

/** Runs `fn` (a task handler) as the current worker task. */
export function runAsWorkerTask<T>(task: CurrentWorkerTask, fn: () => T): T {
  return running.run(task, fn);
}

/** The worker task running in this async context, or null (outside any handler). */
export function currentWorkerTask(): CurrentWorkerTask | null {
  return running.getStore() ?? null;
}

/** `parent.add_trail(result)` (celery/app/task.py `Task.add_trail`, `trail=True`), unless suppressed. */
export function addTrail(tuple: unknown): void {
  const parent = running.getStore();
  if (parent && !trailSuppressed.getStore()) parent.children.push(tuple);
}

/** Runs `fn` with the per-task trail off: a canvas adds its own one result instead. */
export function withoutTrail<T>(fn: () => T): T {
  return trailSuppressed.run(true, fn);
}
