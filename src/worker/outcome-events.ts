import type { WorkerOps } from "../control/worker-ops.js";
import type { WorkerRequest } from "./request.js";
import type { RunnerOutcome } from "./task-runner.js";
import type { WorkerEvents } from "./worker-events.js";

/** What a finished run is reported to. */
export interface OutcomeReport {
  events: WorkerEvents;
  /** Remote control's bookkeeping and task events; null without events/pidbox. */
  ops: WorkerOps | null;
  /** When each running task's handler started (`performance.now()`), for the failed runtime. */
  startedAt: ReadonlyMap<string, number>;
}

/** Task events for a finished run (WorkerOps counts it and sends task-succeeded/failed/...). */
export function reportOutcome(report: OutcomeReport, request: WorkerRequest, outcome: RunnerOutcome): void {
  emitOutcome(report, request, outcome);
  const { ops } = report;
  if (!ops) return;
  if (outcome.kind === "terminated")
    ops.revokedRun(request, { expired: false, terminated: true, signum: outcome.signum });
  else ops.finished(request.id, outcome);
}

/** The typed event for a finished run (what WorkerOps turns into task-succeeded/failed/...). */
function emitOutcome(report: OutcomeReport, request: WorkerRequest, outcome: RunnerOutcome): void {
  const { events } = report;
  // A terminated run's task-revoked is a hook (task_revoked), sent before its ack by the runner.
  if (outcome.kind === "succeeded") {
    // Per task on the hot path: no payload when nobody listens, and a literal, not a spread.
    if (events.has("task-succeeded")) {
      events.emit("task-succeeded", {
        id: request.id,
        name: request.name,
        runtime: outcome.runtime,
        resultRepr: outcome.resultRepr,
      });
    }
    return;
  }
  const task = { id: request.id, name: request.name };
  if (outcome.kind === "failed") {
    const t0 = report.startedAt.get(request.id);
    events.emit("task-failed", {
      ...task,
      runtime: t0 === undefined ? 0 : (performance.now() - t0) / 1000,
      exceptionRepr: outcome.exceptionRepr,
      traceback: outcome.traceback,
    });
  } else if (outcome.kind === "retried") {
    events.emit("task-retried", {
      ...task,
      exceptionRepr: outcome.exceptionRepr,
      traceback: outcome.traceback,
    });
  }
}
