import type { ChordPart } from "../backends/backend.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { Chord, Group, Signature } from "./signature.js";

/**
 * The rules for what runs after a task finishes (the plans; the worker carries
 * them out in src/worker/continuations.ts), mirroring celery/app/trace.py (5.7.0)
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
 * Errbacks planned here are SENT as tasks; the worker calls the ones it
 * hosts that take `(request, exc, traceback)` in-process instead
 * (src/worker/errbacks.ts).
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
  /**
   * `exc` is the stored exception dict (`{exc_type, exc_message, exc_module}`); `error` the value
   * the handler threw, which a new-style errback called in this process receives.
   */
  | { kind: "failure"; exc: unknown; traceback: string | null; error?: unknown }
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
