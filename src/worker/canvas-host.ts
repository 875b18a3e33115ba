import { randomUUID } from "node:crypto";
import { hostname as osHostname } from "node:os";
import { type ResultBackend, type ResultMetaRecord, requireChordJoiner } from "../backends/backend.js";
import type { CanvasPublisher } from "../canvas/apply.js";
import type { ContinuationOutcome, ContinuationRequest } from "../canvas/continuation.js";
import { applyChordOnBackend } from "../client/chord-unlock.js";
import { prepareTaskMessage } from "../client/producer.js";
import { Router } from "../client/router.js";
import type { Settings } from "../config.js";
import type { Logger } from "../logging.js";
import type { NativeDelay, OutgoingMessage, QueueSpec } from "../transports/transport.js";
import { type ContinuationDeps, runContinuations } from "./continuations.js";
import type { WorkerRequest } from "./request.js";
import { type MetaContext, requestResultMeta } from "./result-meta.js";

/**
 * The glue between the TS worker and the canvas: builds the collaborators
 * of {@link runContinuations} from what the worker already holds, so the
 * worker needs one call where it stores a result:
 *
 * ```ts
 * await runWorkerContinuations(canvas, request, { kind: "success", value }, (children) =>
 *   this.store(requestResultMeta("SUCCESS", value, null, request, ctx, children)));
 * ```
 */
export interface WorkerCanvasHost {
  settings: Settings;
  backend: ResultBackend | null;
  /** Publishes a task; `declare` lists the queues to declare first (Celery's `send_task_message(declare=[queue])`). */
  publish(message: OutgoingMessage, declare?: readonly QueueSpec[]): Promise<void>;
  /** The broker transport's native delay (RabbitMQ); absent = messages with an ETA go to their queue. */
  nativeDelay?: NativeDelay | undefined;
  hostname: string;
  logger?: Logger;
}

export interface WorkerCanvas {
  deps: ContinuationDeps;
}

export function workerCanvas(host: WorkerCanvasHost): WorkerCanvas {
  const settings = host.settings;
  const router = new Router(settings);
  const identity = { origin: `gen${process.pid}@${osHostname()}`, replyTo: randomUUID() };
  const publishTask: CanvasPublisher["publishTask"] = async (name, args, kwargs, options) => {
    const prepared = prepareTaskMessage(
      settings,
      router,
      identity,
      name,
      args,
      kwargs,
      options,
      host.nativeDelay,
    );
    // celery/app/amqp.py send_task_message (5.7.0) declares the routed queue on every send, so a
    // next step routed to a queue no worker consumes yet waits there instead of being dropped.
    await host.publish(prepared.message, prepared.declare);
  };
  const publisher: CanvasPublisher = {
    oid: identity.replyTo,
    publishTask,
    setChordSize: (gid, size) => requireChordJoiner(host.backend).setChordSize(gid, size),
    applyChord: (gid, headerTuples, body) =>
      applyChordOnBackend(requireChordJoiner(host.backend), settings, publishTask, gid, headerTuples, body),
  };
  const metaContext: MetaContext = {
    hostname: host.hostname,
    resultExtended: settings.resultExtended,
    compat: settings.compat,
  };
  const deps: ContinuationDeps = {
    publisher,
    chordJoin: () => host.backend?.chordJoiner ?? null,
    storeMeta: async (meta: ResultMetaRecord) => {
      // Metas written for other tasks (remaining chain steps, a chord body) have no request of
      // their own here: no reply queue is known, so the RPC backend sends nothing, as Celery's
      // does for an empty reply_to; key/value backends ignore the destination.
      await host.backend?.storeResult(meta, { replyTo: null, correlationId: null });
    },
    buildMeta: (state, result, traceback, taskId, ctx) => {
      if (ctx === null) {
        // Celery's `mark_as_failure(task_id, exc)` without a request: core fields only.
        return requestResultMeta(
          state,
          result,
          traceback,
          { id: taskId },
          { ...metaContext, resultExtended: false },
        );
      }
      const meta = requestResultMeta(
        state,
        result,
        traceback,
        {
          id: taskId,
          ...(ctx.name !== undefined ? { name: ctx.name } : {}),
          ...(ctx.args !== undefined ? { args: ctx.args } : {}),
          ...(ctx.kwargs !== undefined ? { kwargs: ctx.kwargs } : {}),
          groupId: ctx.groupId ?? null,
          parentId: ctx.parentId ?? null,
          retries: 0,
        },
        metaContext,
      );
      if (ctx.synthetic && settings.resultExtended) {
        // `_fail_chain` builds a Context from the signature: no worker, no delivery info.
        const m = meta as Record<string, unknown>;
        m.worker = null;
        m.queue = null;
      }
      return meta;
    },
    inheritParentPriority: settings.taskInheritParentPriority,
    log: (level, message, err) => {
      if (!host.logger) return;
      if (level === "error") host.logger.error(err === undefined ? {} : { err }, message);
      else host.logger.warn(err === undefined ? {} : { err }, message);
    },
  };
  return { deps };
}

/** The continuation view of a worker request. */
export function continuationRequest(request: WorkerRequest): ContinuationRequest {
  const priority = request.properties.priority;
  return {
    id: request.id,
    name: request.name,
    args: request.args,
    kwargs: request.kwargs,
    rootId: request.rootId,
    parentId: request.parentId,
    groupId: request.groupId,
    groupIndex: request.groupIndex,
    callbacks: request.embed.callbacks,
    errbacks: request.embed.errbacks,
    chain: request.embed.chain,
    chord: request.embed.chord,
    priority: typeof priority === "number" ? priority : null,
  };
}

/**
 * The single worker call site: runs the request's continuations around
 * `store(children)` (the worker's own meta write). An error sending a success's
 * callbacks or next step (before `store`) is thrown, for the caller to record as the
 * task's failure; any later error is logged, and `store` is still called once.
 */
export function runWorkerContinuations(
  canvas: WorkerCanvas,
  request: WorkerRequest,
  outcome: ContinuationOutcome,
  store: (children: unknown[]) => Promise<void>,
): Promise<void> {
  const { callbacks, errbacks, chain, chord } = request.embed;
  if (!callbacks?.length && !errbacks?.length && !chain?.length && !chord) {
    // Nothing to send, join or fail: only the request's own meta (no children), as the full path
    // below would store it, and an error there is logged the same way. No async wrapper: this
    // is every plain task's path.
    const failed = (err: unknown) => logContinuationError(canvas, request, err);
    try {
      return store([]).catch(failed);
    } catch (err) {
      failed(err);
      return Promise.resolve();
    }
  }
  return continueAndStore(canvas, request, outcome, store);
}

async function continueAndStore(
  canvas: WorkerCanvas,
  request: WorkerRequest,
  outcome: ContinuationOutcome,
  store: (children: unknown[]) => Promise<void>,
): Promise<void> {
  let stored = false;
  const guardedStore = async (children: unknown[]) => {
    stored = true;
    await store(children);
  };
  try {
    await runContinuations(canvas.deps, continuationRequest(request), outcome, guardedStore);
  } catch (err) {
    // Sending the callbacks or the next chain step failed before the result was stored: Celery's
    // tracer turns that into on_error (FAILURE, chain failed, errbacks); the caller does it.
    if (outcome.kind === "success" && !stored) throw err;
    logContinuationError(canvas, request, err);
    if (!stored) await store([]);
  }
}

function logContinuationError(canvas: WorkerCanvas, request: WorkerRequest, err: unknown): void {
  canvas.deps.log?.(
    "error",
    `Canvas continuation of ${request.name}[${request.id}] failed: ${String(err)}`,
    err,
  );
}
