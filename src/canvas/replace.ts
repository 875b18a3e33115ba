import { CeleryError } from "../errors.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { pipe } from "./compose.js";
import { freezeSignature } from "./freeze.js";
import { Chain, Group, Signature } from "./signature.js";

/**
 * `Task.replace(sig)` and `Task.add_to_chord(sig)` up to the send
 * (celery/app/task.py, 5.7.0): the signature to send, built from the running
 * task's request. Pure; the worker counts the added chord part, sends the
 * signature and, for a replacement, ends the task as `Ignore`
 * (`Task.on_replace`).
 */

/** Celery's `celery.accumulate` built-in (celery/app/builtins.py `add_accumulate_task`, 5.7.0). */
export const ACCUMULATE_TASK = "celery.accumulate";

/** The request fields `Task.replace` reads. */
export interface ReplacedRequest {
  id: string;
  rootId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  chord: SignatureDict | null;
  callbacks: readonly SignatureDict[] | null;
  errbacks: readonly SignatureDict[] | null;
  chain: readonly SignatureDict[] | null;
  replacedTaskNesting: number;
}

/**
 * `celery.exceptions.ImproperlyConfigured`, what `Task.replace` raises for a
 * signature it refuses; stored with that Python identity when not caught.
 */
export class ImproperlyConfigured extends CeleryError {
  readonly excType = "ImproperlyConfigured";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[];

  constructor(message: string) {
    super("ERR_IMPROPERLY_CONFIGURED", message);
    this.excArgs = [message];
  }
}

/** `self.app.tasks['celery.accumulate'].s(index=0)`: the group's list becomes one result. */
function accumulate(): Signature {
  return new Signature(ACCUMULATE_TASK, [], { index: 0 });
}

/**
 * Builds the replacement of `request` by `input` (never changed: a clone is
 * used). `oid` is the worker's reply-to default (`app.thread_oid`) that
 * freezing writes. Throws {@link ImproperlyConfigured} for a signature Celery
 * refuses (one already part of a chord, an empty chain).
 */
export function replacementSignature(request: ReplacedRequest, input: Signature, oid: string): Signature {
  let sig = input.clone();
  if ("chord" in sig.options)
    throw new ImproperlyConfigured("A signature replacing a task must not be part of a chord");
  if (sig instanceof Chain && sig.tasks.length === 0)
    throw new ImproperlyConfigured("Cannot replace with an empty chain");
  // Groups become chords whose body is celery.accumulate, so callbacks can be linked to the body.
  if (sig instanceof Group) sig = pipe(sig, accumulate());
  if (sig instanceof Chain) {
    const steps = sig.tasks;
    const last = steps[steps.length - 1];
    if (last instanceof Group) steps[steps.length - 1] = pipe(last, accumulate());
  }
  for (const callback of request.callbacks ?? []) sig.link(callback);
  for (const errback of request.errbacks ?? []) sig.linkError(errback);
  // A chain's callbacks go to its last step, so they run once, after the whole chain.
  if (sig instanceof Chain && "link" in sig.options) {
    const last = sig.tasks[sig.tasks.length - 1] as Signature;
    for (const callback of asList(sig.options.link)) last.link(callback);
    delete sig.options.link;
  }
  freezeSignature(sig, { id: request.id }, oid);
  const nesting = request.replacedTaskNesting + 1;
  // `sig.set(chord=, group_id=, group_index=, root_id=, replaced_task_nesting=)`: None values
  // included, as Celery sets them (a None group_id keeps a later freeze from setting one).
  Object.assign(sig.options, {
    chord: request.chord,
    group_id: request.groupId,
    group_index: request.groupIndex,
    root_id: request.rootId,
    replaced_task_nesting: nesting,
  });
  if (sig instanceof Chain) for (const step of sig.tasks) step.options.replaced_task_nesting = nesting;
  // The replaced task's remaining chain follows the replacement, each step keeping its own id.
  for (const step of [...(request.chain ?? [])].reverse()) {
    const next = Signature.fromDict(step);
    next.options.replaced_task_nesting = nesting;
    sig = pipe(sig, next);
  }
  return sig;
}

function asList(value: unknown): Signature[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => Signature.fromDict(v as Signature));
}

/**
 * `Task.add_to_chord` before the backend call: `sig` is given the chord
 * membership of the running header member (`group_id`, `group_index`,
 * `chord`, `root_id`) and frozen. Changes `sig` in place, as Celery does, so a
 * lazy caller sends the same signature.
 */
export function chordMemberSignature(
  request: Pick<ReplacedRequest, "rootId" | "groupId" | "groupIndex" | "chord">,
  sig: Signature,
  oid: string,
): Signature {
  Object.assign(sig.options, {
    group_id: request.groupId,
    group_index: request.groupIndex,
    chord: request.chord,
    root_id: request.rootId,
  });
  freezeSignature(sig, {}, oid);
  return sig;
}
