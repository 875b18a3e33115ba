import type { WorkerOps } from "../control/worker-ops.js";
import type { WorkerMetrics } from "../metrics.js";
import type { Worker } from "../worker/worker.js";

/**
 * Counts a TS worker's tasks from its typed events (`worker.on("task-succeeded", ...)`): the
 * same points where Celery's worker sends its task events, so the counters agree with `task-*`
 * events whether or not `-E` is on. The gauges read the worker's request tracking at scrape time.
 */
export function observeWorkerMetrics(
  worker: Worker,
  metrics: WorkerMetrics,
  ops: () => WorkerOps | null,
): void {
  worker.on("task-received", (t) => metrics.onReceived(t.name));
  worker.on("task-succeeded", (t) => metrics.onSucceeded(t.name, t.runtime));
  worker.on("task-failed", (t) => metrics.onFailed(t.name, t.runtime));
  worker.on("task-retried", (t) => metrics.onRetried(t.name));
  worker.on("task-revoked", (t) => metrics.onRevoked(t.name));
  metrics.attach({
    active: () => ops()?.active(false).length ?? 0,
    prefetched: () => {
      const o = ops();
      return o === null ? 0 : o.reserved().length + o.scheduled().length;
    },
    eventsDropped: () => ops()?.events.dropped ?? 0,
  });
}
