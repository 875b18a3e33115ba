import { randomUUID } from "node:crypto";
import type { ChordJoin, ChordPart, ResultMetaRecord } from "../backends/backend.js";
import { applySignature, type CanvasPublisher } from "../canvas/apply.js";
import {
  type ChainLink,
  type ContinuationOutcome,
  type ContinuationRequest,
  planErrbacks,
  planFailure,
  planSuccess,
} from "../canvas/continuation.js";
import { type ResultNode, resultTuple } from "../canvas/freeze.js";
import { Chord, Group, Signature } from "../canvas/signature.js";
import { excInfoToError, isExcInfo } from "../protocol/exceptions.js";
import { logSafe } from "../protocol/py-repr.js";
import { saferepr } from "../protocol/saferepr.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { ErrbackRequest, LocalErrback } from "./errbacks.js";

/**
 * What the worker does after a task finishes (celery/app/trace.py
 * `_dispatch_callbacks_and_chain`, `Backend.mark_as_done` / `mark_as_failure`,
 * `_fail_chain`, `_call_task_errbacks`, `on_chord_part_return`), carrying out
 * the plans of src/canvas/continuation.ts in Celery's order.
 */

/** The collaborators continuations need; {@link workerCanvas} (canvas-host.ts) builds them for the TS worker. */
export interface ContinuationDeps {
  publisher: CanvasPublisher;
  /** Null when the backend has no chord support (a chord part is then an error logged by the caller). */
  chordJoin(): {
    onChordPartReturn(part: ChordPart, state: string, result: unknown): Promise<ChordJoin>;
  } | null;
  /** Stores a meta (never overwriting SUCCESS, as `_store_result`). */
  storeMeta(meta: ResultMetaRecord): Promise<void>;
  /** The meta Celery writes for `taskId` in `state` with request context `ctx` (null: `request=None`). */
  buildMeta(
    state: string,
    result: unknown,
    traceback: string | null,
    taskId: string,
    ctx: MetaRequest | null,
  ): ResultMetaRecord;
  inheritParentPriority: boolean;
  log?(level: "warn" | "error", message: string, err?: unknown): void;
  /** The in-process call of a new-style errback registered here, or null to send it (errbacks.ts). */
  localErrback?(sig: Signature): LocalErrback | null;
}

/** The request fields a meta needs (a subset of the worker request). */
export interface MetaRequest {
  id: string;
  name?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  groupId?: string | null;
  parentId?: string | null;
  /** `_fail_chain` contexts carry no worker, retries 0 and no delivery info. */
  synthetic?: boolean;
}

async function applyAll(pub: CanvasPublisher, links: readonly ChainLink[]): Promise<ResultNode[]> {
  const nodes: ResultNode[] = [];
  for (const link of links) nodes.push(await applySignature(pub, link.sig, link.args, {}, link.options));
  return nodes;
}

/**
 * Runs every continuation of a finished request. `store(children)` is the
 * worker's own result write (SUCCESS/FAILURE meta of the request with
 * these `children`): it is called exactly once, at the point Celery stores
 * the result, so the order of effects is Celery's.
 */
export async function runContinuations(
  deps: ContinuationDeps,
  request: ContinuationRequest,
  outcome: ContinuationOutcome,
  store: (children: unknown[]) => Promise<void>,
): Promise<void> {
  if (outcome.kind === "success") {
    const nodes = await applyAll(
      deps.publisher,
      planSuccess(request, outcome.value, deps.inheritParentPriority),
    );
    await store(nodes.map(resultTuple));
    if (request.chord) await returnChordPart(deps, request, "SUCCESS", outcome.value);
    return;
  }
  await store([]);
  const state = outcome.kind === "failure" ? "FAILURE" : "REVOKED";
  if (request.chord) await returnChordPart(deps, request, state, outcome.exc);
  if (outcome.kind === "revoked") return;
  await failChain(deps, request.chain, outcome.exc, outcome.traceback);
  const failed: ErrbackRequest = {
    id: request.id,
    task: request.name ?? "unknown",
    args: request.args ?? [],
    kwargs: request.kwargs ?? {},
    rootId: request.rootId,
    parentId: request.parentId,
    groupId: request.groupId,
    groupIndex: request.groupIndex,
    chord: request.chord,
    chain: request.chain,
    callbacks: request.callbacks,
    errbacks: request.errbacks,
  };
  const error = outcome.error ?? storedError(outcome.exc);
  await callTaskErrbacks(deps, failed, error, outcome.traceback, request.errbacks ?? []);
}

/** A stored exception dict as the error a TS errback receives (a typed error, as `AsyncResult.get` throws). */
function storedError(exc: unknown): unknown {
  return isExcInfo(exc) ? excInfoToError(exc) : exc;
}

/**
 * `Backend._call_task_errbacks`: errbacks registered here that take the request form are called
 * in this process (an error they throw is logged); the others are sent as one group with the
 * failed task's id, `parent_id` = that id, `root_id` = its root (or that id).
 */
async function callTaskErrbacks(
  deps: ContinuationDeps,
  request: ErrbackRequest,
  exc: unknown,
  traceback: string | null,
  errbacks: readonly (SignatureDict | Signature)[],
): Promise<void> {
  const send: Signature[] = [];
  for (const item of errbacks) {
    const sig = Signature.fromDict(item);
    const local = deps.localErrback?.(sig) ?? null;
    if (local === null) {
      send.push(sig);
      continue;
    }
    try {
      await local(request, exc, traceback);
    } catch (err) {
      deps.log?.("error", `Errback ${logSafe(saferepr(sig.task))} raised an exception`, err);
    }
  }
  await applyAll(deps.publisher, planErrbacks(request.id, request.rootId, send));
}

async function failChain(
  deps: ContinuationDeps,
  chain: readonly SignatureDict[] | null,
  exc: unknown,
  traceback: string | null,
): Promise<void> {
  for (const step of planFailure(chain)) {
    if (step.id !== null) {
      const ctx: MetaRequest = {
        id: step.id,
        name: step.sig.task,
        args: step.sig.args,
        kwargs: step.sig.kwargs,
        groupId:
          step.chordPart?.groupId ??
          (typeof step.sig.options.group_id === "string" ? step.sig.options.group_id : null),
        parentId: typeof step.sig.options.parent_id === "string" ? step.sig.options.parent_id : null,
        synthetic: true,
      };
      await deps.storeMeta(deps.buildMeta("FAILURE", exc, traceback, step.id, ctx));
    }
    if (step.chordPart) {
      const body = step.sig.options.chord;
      const chordDict = body instanceof Signature ? body.toDict() : (body as SignatureDict);
      await returnChordPart(deps, { ...step.chordPart, rootId: null, chord: chordDict }, "FAILURE", exc);
    }
  }
}

/** `on_chord_part_return` + what follows: body published, or ChordError stored on it. */
async function returnChordPart(
  deps: ContinuationDeps,
  request: Pick<ContinuationRequest, "id" | "groupId" | "groupIndex" | "chord" | "rootId">,
  state: string,
  result: unknown,
): Promise<void> {
  const join = deps.chordJoin();
  if (join === null || request.chord === null) {
    deps.log?.(
      "error",
      `Chord part ${request.id} of group ${request.groupId} not returned: the result backend has no chord support`,
    );
    return;
  }
  const outcome = await join.onChordPartReturn(
    { id: request.id, groupId: request.groupId, groupIndex: request.groupIndex },
    state,
    result,
  );
  if (outcome.kind === "waiting") return;
  const body = Signature.fromDict(request.chord);
  if (outcome.kind === "ready") {
    try {
      // `callback.delay(results)` from inside the header task: its id is the body's parent.
      const extra: Record<string, unknown> = { parent_id: body.options.parent_id ?? request.id };
      if (body.options.root_id === undefined) extra.root_id = request.rootId ?? request.id;
      await applySignature(deps.publisher, body, [outcome.results], {}, extra);
    } catch (err) {
      deps.log?.("error", `Chord callback for ${request.groupId} raised: ${String(err)}`, err);
      await chordErrorFromStack(deps, body, {
        exc_type: "ChordError",
        exc_message: [`Callback error: ${String(err)}`],
        exc_module: "celery.exceptions",
      });
    } finally {
      await outcome.done();
    }
    return;
  }
  // `logger.exception('Chord %r raised: %r', request.group, exc)` (celery/backends/redis.py
  // RedisBackend.on_chord_part_return, 5.7): reprs that never throw (celery/utils/saferepr.py
  // `saferepr`), escaped so a hostile group id cannot forge a log line.
  deps.log?.(
    "error",
    `Chord ${logSafe(saferepr(request.groupId))} raised: ChordError(${logSafe(saferepr(outcome.error.exc_message[0]))})`,
  );
  try {
    await chordErrorFromStack(deps, body, outcome.error, outcome.cause);
  } finally {
    await outcome.done();
  }
}

/**
 * `Backend.chord_error_from_stack`: the body's errbacks are called with a request made from the
 * body (sent ones get the body id), the body gets the FAILURE meta, and its chain fails with it.
 * A group body (`_handle_group_chord_error`): each member's errbacks and the group's are called
 * with the failed header member's exception (`cause`, else `exc`), and each member and the group
 * id are stored FAILURE with it. (Celery then revokes the members, which were never sent.)
 */
export async function chordErrorFromStack(
  deps: ContinuationDeps,
  body: Signature,
  exc: unknown,
  cause?: unknown,
): Promise<void> {
  if (body instanceof Group) {
    const original = cause ?? exc;
    const groupErrbacks = linkErrors(body);
    for (const member of body.tasks) {
      const { id, errbacks } = resultErrbacks(member);
      if (id === undefined) continue;
      const all = uniqueSignatures([...errbacks, ...groupErrbacks]);
      try {
        await callTaskErrbacks(deps, fakeRequest(id, "unknown", all), storedError(original), null, all);
      } catch (err) {
        deps.log?.("error", `Failed to handle chord error for task ${id}: ${String(err)}`, err);
      }
      // fail_from_current_stack -> mark_as_failure(id, exc): stored without a request.
      await deps.storeMeta(deps.buildMeta("FAILURE", original, null, id, null));
    }
    if (body.id !== undefined) await deps.storeMeta(deps.buildMeta("FAILURE", original, null, body.id, null));
  } else {
    const id = body.id ?? randomUUID();
    const errbacks = linkErrors(body);
    const request = { ...fakeRequest(id, body.task, errbacks), args: body.args, kwargs: body.kwargs };
    await callTaskErrbacks(deps, request, storedError(exc), null, errbacks);
    await deps.storeMeta(deps.buildMeta("FAILURE", exc, null, id, null));
  }
  const chain = body.options.chain;
  if (Array.isArray(chain))
    await failChain(
      deps,
      chain.map((c) => (c instanceof Signature ? c.toDict() : (c as SignatureDict))),
      exc,
      null,
    );
}

function linkErrors(sig: Signature): Signature[] {
  const value = sig.options.link_error;
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.map((d) => Signature.fromDict(d as SignatureDict));
}

/** `_result_errbacks`: the id of `sig`'s result and the errbacks linked to it (a chord's go to its body). */
function resultErrbacks(sig: Signature): { id: string | undefined; errbacks: Signature[] } {
  const errbacks: Signature[] = [];
  let current = sig;
  while (current instanceof Chord) {
    errbacks.push(...linkErrors(current));
    current = current.body;
  }
  errbacks.push(...linkErrors(current));
  if (current instanceof Group) for (const t of current.tasks) errbacks.push(...resultErrbacks(t).errbacks);
  return { id: current.id, errbacks };
}

/** Each errback once (`if errback not in errbacks`: dict equality). */
function uniqueSignatures(sigs: Signature[]): Signature[] {
  const seen = new Set<string>();
  return sigs.filter((sig) => {
    const key = JSON.stringify(sig.toDict());
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `_create_fake_task_request(task_id, errbacks, task_name)`: what Celery gives errbacks of a chord body. */
function fakeRequest(id: string, task: string, errbacks: Signature[]): ErrbackRequest {
  return {
    id,
    task,
    args: [],
    kwargs: {},
    rootId: null,
    parentId: null,
    groupId: null,
    groupIndex: null,
    chord: null,
    chain: null,
    callbacks: null,
    errbacks: errbacks.map((e) => e.toDict()),
  };
}
