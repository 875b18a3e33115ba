import type { ResultMetaRecord } from "../backends/backend.js";
import type { ChordJoin, ChordPart } from "../backends/redis-chord.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { applySignature, type CanvasPublisher, type ResultNode, resultTuple } from "./apply.js";
import { Chord, Group, Signature } from "./signature.js";

/**
 * What runs after a task finishes, mirroring celery/app/trace.py
 * `_dispatch_callbacks_and_chain` + `Backend.mark_as_done` on success and
 * `Backend.mark_as_failure` (`_fail_chain`, `_call_task_errbacks`) on
 * failure, with the Redis chord join of `on_chord_part_return`.
 *
 * Order, as in Celery:
 * - success: callbacks, then the next chain step, are SENT FIRST; then the
 *   SUCCESS meta is stored with their results as `children`; then the chord
 *   part is returned (the last part publishes the body with the ordered
 *   results, or stores a ChordError FAILURE on it).
 * - failure: the FAILURE meta is stored; the chord part is returned; every
 *   remaining chain step with a task id gets the same FAILURE meta (so a
 *   caller waiting on the end of the chain does not hang); errbacks are sent
 *   as one group with the failed task id as their first argument.
 *
 * Errbacks are always SENT as tasks (Celery's convention for errbacks that
 * are not local Python functions taking `(request, exc, traceback)`).
 */
export interface ContinuationRequest {
  id: string;
  name?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
  /** `delivery_info.priority`, inherited only with `task_inherit_parent_priority`. */
  priority?: number | null;
}

export type ContinuationOutcome =
  | { kind: "success"; value: unknown }
  /** `exc` is the stored exception dict (`{exc_type, exc_message, exc_module}`). */
  | { kind: "failure"; exc: unknown; traceback: string | null }
  /** Revoked/expired: only the chord part is returned (`mark_as_revoked`). */
  | { kind: "revoked"; exc: unknown };

/** One `apply_async` to perform: `sig.apply_async(args, **options)`. */
export interface ChainLink {
  sig: Signature;
  args: unknown[];
  options: Record<string, unknown>;
}

function idsOf(request: ContinuationRequest, inheritPriority: boolean): Record<string, unknown> {
  const options: Record<string, unknown> = { parent_id: request.id, root_id: request.rootId ?? request.id };
  if (inheritPriority && typeof request.priority === "number") options.priority = request.priority;
  return options;
}

/**
 * `_dispatch_callbacks_and_chain`: callbacks with the return value
 * prepended (one callback alone; several: the group callbacks each on their
 * own, the rest together as ONE group), then `chain[-1]` with
 * `chain = chain[:-1]`.
 */
export function planSuccess(
  request: ContinuationRequest,
  value: unknown,
  inheritPriority = false,
): ChainLink[] {
  const ids = idsOf(request, inheritPriority);
  const links: ChainLink[] = [];
  const callbacks = (request.callbacks ?? []).map((d) => Signature.fromDict(d));
  if (callbacks.length === 1) {
    links.push({ sig: callbacks[0] as Signature, args: [value], options: { ...ids } });
  } else if (callbacks.length > 1) {
    const groups = callbacks.filter((c) => c instanceof Group);
    const sigs = callbacks.filter((c) => !(c instanceof Group));
    for (const g of groups) links.push({ sig: g, args: [value], options: { ...ids } });
    if (sigs.length > 0) links.push({ sig: new Group(sigs), args: [value], options: { ...ids } });
  }
  const chain = request.chain ?? [];
  const next = chain[chain.length - 1];
  if (next !== undefined) {
    links.push({
      sig: Signature.fromDict(next),
      args: [value],
      options: { ...ids, chain: chain.slice(0, -1) },
    });
  }
  return links;
}

/** `_call_task_errbacks` (sent form): `group(errbacks).apply_async((task_id,), parent_id=task_id, root_id=root)`. */
export function planErrbacks(
  taskId: string,
  rootId: string | null,
  errbacks: readonly SignatureDict[] | readonly Signature[],
): ChainLink[] {
  if (errbacks.length === 0) return [];
  const sigs = errbacks.map((d) => Signature.fromDict(d));
  return [
    { sig: new Group(sigs), args: [taskId], options: { parent_id: taskId, root_id: rootId ?? taskId } },
  ];
}

/** A step of a failed chain as `_fail_chain` sees it (`Context(sig)` updated with its options). */
export interface FailedStep {
  id: string | null;
  sig: Signature;
  /** Set when the step is a chord header member: its part must be returned too. */
  chordPart: ChordPart | null;
}

/** `_fail_chain`: every remaining step, descending into the body of chord steps. */
export function planFailure(chain: readonly SignatureDict[] | null): FailedStep[] {
  const out: FailedStep[] = [];
  const queue = (chain ?? []).map((d) => Signature.fromDict(d));
  while (queue.length > 0) {
    const sig = queue.shift() as Signature;
    const id = sig.id ?? null;
    const groupId = typeof sig.options.group_id === "string" ? sig.options.group_id : null;
    const groupIndex = typeof sig.options.group_index === "number" ? sig.options.group_index : null;
    const chordPart = "chord" in sig.options && id !== null ? { id, groupId, groupIndex } : null;
    out.push({ id, sig, chordPart });
    if (sig instanceof Chord) queue.push(sig.body);
  }
  return out;
}

/** The collaborators continuations need; {@link workerContinuationDeps} builds them for the TS worker. */
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
  await applyAll(deps.publisher, planErrbacks(request.id, request.rootId, request.errbacks ?? []));
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
  deps.log?.(
    "error",
    `Chord ${request.groupId} raised: ChordError(${JSON.stringify(outcome.error.exc_message[0])})`,
  );
  try {
    await chordErrorFromStack(deps, body, outcome.error);
  } finally {
    await outcome.done();
  }
}

/**
 * `Backend.chord_error_from_stack`: the body's errbacks are sent with the
 * body id, the body gets the FAILURE meta, and its chain fails with it.
 * A group body: every member is failed and gets its errbacks.
 */
async function chordErrorFromStack(deps: ContinuationDeps, body: Signature, exc: unknown): Promise<void> {
  const targets = body instanceof Group ? body.tasks : [body];
  for (const target of targets) {
    const id = target.id ?? body.id;
    if (id === undefined) continue;
    const errbacks = target.options.link_error;
    const list = Array.isArray(errbacks) ? errbacks : errbacks ? [errbacks] : [];
    await applyAll(deps.publisher, planErrbacks(id, id, list as SignatureDict[]));
    // fail_from_current_stack -> mark_as_failure(callback_id, exc): stored without a request.
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
