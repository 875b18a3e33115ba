import type { WorkerOps } from "../control/worker-ops.js";
import type { WorkerMetrics } from "../metrics.js";

/**
 * Counts a TS worker's tasks by observing the calls the worker makes on its
 * {@link WorkerOps} (`received`, `started`, `finished`, `revokedRun`): the
 * same points where Celery's worker sends its task events, so the counters
 * agree with `task-*` events whether or not `-E` is on.
 */
export function instrumentWorkerOps(ops: WorkerOps, metrics: WorkerMetrics): WorkerOps {
  const names = new Map<string, string>();
  const startedAt = new Map<string, number>();
  const received = ops.received.bind(ops);
  const started = ops.started.bind(ops);
  const finished = ops.finished.bind(ops);
  const revokedRun = ops.revokedRun.bind(ops);
  const released = ops.released.bind(ops);
  const forget = (id: string) => {
    names.delete(id);
    startedAt.delete(id);
  };
  ops.received = (request) => {
    metrics.onReceived(request.name);
    const accepted = received(request);
    if (accepted) names.set(request.id, request.name);
    else metrics.onRevoked(request.name);
    return accepted;
  };
  ops.started = (id, abort) => {
    startedAt.set(id, performance.now());
    started(id, abort);
  };
  ops.finished = (id, outcome) => {
    const name = names.get(id);
    const t0 = startedAt.get(id);
    forget(id);
    finished(id, outcome);
    if (name === undefined) return;
    if (outcome.kind === "succeeded") metrics.onSucceeded(name, outcome.runtime);
    else if (outcome.kind === "failed")
      metrics.onFailed(name, t0 === undefined ? undefined : (performance.now() - t0) / 1000);
    else if (outcome.kind === "retried") metrics.onRetried(name);
  };
  ops.revokedRun = (request, how) => {
    const name = names.get(request.id) ?? (request as { name?: unknown }).name;
    forget(request.id);
    revokedRun(request, how);
    if (typeof name === "string") metrics.onRevoked(name);
  };
  ops.released = (id) => {
    forget(id);
    released(id);
  };
  metrics.attach({
    active: () => ops.active(false).length,
    prefetched: () => ops.reserved().length + ops.scheduled().length,
    eventsDropped: () => ops.events.dropped,
  });
  return ops;
}
