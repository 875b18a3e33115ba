import type { WorkerOps } from "../control/worker-ops.js";
import type { WorkerMetrics } from "../metrics.js";
import type { Worker } from "../worker/worker.js";

/**
 * Counts a TS worker's tasks from its typed events (`WorkerMetrics.observe`); the CLI's gauges
 * read the worker's own request tracking (WorkerOps) at scrape time, which also knows the
 * ETA-scheduled requests and the events the dispatcher dropped.
 */
export function observeWorkerMetrics(
  worker: Worker,
  metrics: WorkerMetrics,
  ops: () => WorkerOps | null,
): void {
  metrics.observe(worker, {
    active: () => ops()?.active(false).length ?? 0,
    prefetched: () => {
      const o = ops();
      return o === null ? 0 : o.reserved().length + o.scheduled().length;
    },
    eventsDropped: () => ops()?.events.dropped ?? 0,
  });
}
