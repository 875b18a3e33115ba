import type { Settings } from "../config.js";
import { signum } from "../control/commands.js";
import type { WorkerOps } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import { logSafe, pyRepr } from "../protocol/py-repr.js";
import type { Delivery } from "../transports/transport.js";
import { runWorkerContinuations } from "./canvas-host.js";
import { requestLabel, type WorkerRequest } from "./request.js";
import { requestResultMeta } from "./result-meta.js";
import { TaskRevokedErrorInfo } from "./revoked.js";
import { hookRequest } from "./task-hooks.js";
import type { TaskDefinition } from "./task-registry.js";
import { effectiveIgnoreResult, replyDestination, type TaskRunner } from "./task-runner.js";
import type { WorkerEvents } from "./worker-events.js";

/** A message this worker holds: delivered, admitted, not yet settled. */
export interface Held {
  delivery: Delivery;
  request: WorkerRequest;
  task: TaskDefinition;
}

/** What the revocation gates read from the worker. */
export interface RevocationContext {
  /** Remote control's revoked ids and stamps, and its bookkeeping; null without events/pidbox. */
  ops: WorkerOps | null;
  settings: Settings;
  hostname: string;
  logger: Logger;
  /** Stores the REVOKED meta; its canvas returns a chord member's part. */
  runner: TaskRunner;
  events: WorkerEvents;
}

/** Request.revoked / maybe_expire: an expired task is not run; REVOKED meta with reason "expired". */
export function expired(ctx: RevocationContext, held: Held): boolean {
  const { request } = held;
  if (!request.expires || request.expires.getTime() > Date.now()) return false;
  discard(ctx, held, "expired");
  return true;
}

/**
 * Request.revoked: an id in the revoked set (remote `revoke`, mingle) is not run; nor, when
 * `stamps` (checked before running, and at receipt only for a task with `expires`, as
 * celery/worker/strategy.py calls Request.revoked), a task carrying a revoked stamp.
 */
export function revoked(ctx: RevocationContext, held: Held, stamps = false): boolean {
  const { ops } = ctx;
  if (ops?.revoked.has(held.request.id)) {
    discard(ctx, held, "revoked");
    return true;
  }
  if (!stamps || !ops || ops.revokedStamps.size === 0) return false;
  const { stampedHeaders, stamps: values } = held.request;
  const header = ops.revokedStamps.match(stampedHeaders ?? [], values);
  if (header === null) return false;
  discard(ctx, held, "revoked", header);
  return true;
}

/**
 * Request._announce_revoked: ack, REVOKED meta (when results or errors are
 * stored), `task-revoked` event.
 */
export function discard(
  ctx: RevocationContext,
  held: Held,
  reason: "revoked" | "expired",
  byHeader: Record<string, unknown> | null = null,
): void {
  const { request, task, delivery } = held;
  const { settings } = ctx;
  const suffix =
    reason === "expired"
      ? " (expired)"
      : byHeader !== null
        ? ` (revoked by header: ${logSafe(pyRepr(byHeader))})`
        : "";
  ctx.logger.info(`Discarding revoked task: ${requestLabel(request)}${suffix}`);
  ctx.ops?.revokedRun(request, { expired: reason === "expired" });
  const ignore = effectiveIgnoreResult(request.ignoreResult, task.options.ignoreResult, settings.compat);
  const exc = TaskRevokedErrorInfo(reason);
  const store = async () => {
    if (ignore && !settings.taskStoreErrorsEvenIfIgnored) return;
    await ctx.runner.store(
      requestResultMeta("REVOKED", exc, null, request, {
        hostname: ctx.hostname,
        resultExtended: settings.resultExtended,
        compat: settings.compat,
      }),
      replyDestination(request),
    );
  };
  // Backend.mark_as_revoked: the REVOKED meta, then a chord header member's part is returned
  // (the chord fails with `Dependency <id> raised TaskRevokedError(...)`, not left waiting).
  const canvas = ctx.runner.deps.canvas;
  const stored = canvas ? runWorkerContinuations(canvas, request, { kind: "revoked", exc }, store) : store();
  // _announce_revoked: mark_as_revoked, acknowledge, task_revoked; the ack is deferred with
  // call_soon (celery/worker/consumer/consumer.py on_task_received), so it goes out after the
  // receivers of task_revoked returned.
  void stored
    .then(() =>
      ctx.events.emit("task-revoked", {
        id: request.id,
        name: request.name,
        expired: reason === "expired",
        terminated: false,
        signum: null,
        request: hookRequest(request),
      }),
    )
    .then(() => delivery.ack())
    .catch(() => undefined);
}

/** The signal number in WorkerOps' terminate reason ("... (SIGKILL)"); SIGTERM by default, as Celery. */
export function signumOf(reason: unknown): number {
  const match = /\((SIG[A-Z0-9]+|[A-Z]+|\d+)\)/.exec(
    reason instanceof Error ? reason.message : String(reason),
  );
  return signum(match?.[1] ?? "SIGTERM");
}
