import type { ResolvedTaskOptions } from "./task-registry.js";

/** Why a run failed, as far as settling its message goes. */
export type FailureKind = "failure" | "timeout" | "worker-lost";

/**
 * How a failed run's message is settled and whether its FAILURE is stored,
 * as celery/worker/request.py `Request.on_failure` and `on_timeout` (5.7)
 * decide for an `acks_late` task:
 *
 * - child lost with `reject_on_worker_lost`: requeued, nothing stored, no task-failed event;
 * - hard time limit: FAILURE stored (`on_timeout` stores it in any case), then acked when
 *   `acks_on_failure_or_timeout`, else requeued;
 * - any other failure (a lost child included): FAILURE stored, then acked when
 *   `acks_on_failure_or_timeout`, else rejected without requeue.
 *
 * Without `acks_late` the message was acked before the run: "ack" (a no-op) and stored.
 */
export function lateSettlement(
  options: Pick<ResolvedTaskOptions, "acksLate" | "acksOnFailureOrTimeout" | "rejectOnWorkerLost">,
  kind: FailureKind,
): { settle: "ack" | "reject" | "requeue"; store: boolean } {
  if (!options.acksLate) return { settle: "ack", store: true };
  if (kind === "worker-lost" && options.rejectOnWorkerLost) return { settle: "requeue", store: false };
  if (options.acksOnFailureOrTimeout) return { settle: "ack", store: true };
  return { settle: kind === "timeout" ? "requeue" : "reject", store: true };
}
