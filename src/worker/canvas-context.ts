import type { ResultBackend } from "../backends/backend.js";
import { applySignature } from "../canvas/apply.js";
import type { SignatureLike } from "../canvas/options.js";
import { chordMemberSignature, replacementSignature } from "../canvas/replace.js";
import { Signature } from "../canvas/signature.js";
import { resultOf, trailTuple } from "../client/canvas-apply.js";
import { addTrail } from "../client/current-task.js";
import type { AnyResult } from "../client/result.js";
import type { WorkerCanvas } from "./canvas-host.js";
import { PythonError, Replace } from "./errors.js";
import type { WorkerRequest } from "./request.js";

/**
 * The task-context methods that reach into the canvas from inside a running
 * task: `ctx.replace(sig)` (celery/app/task.py `Task.replace`) and
 * `ctx.addToChord(sig, lazy)` (`Task.add_to_chord`), 5.7.0.
 */

/** Options of the messages a task sends itself: `send_task` makes the running task their parent. */
export function sentFromTask(request: Pick<WorkerRequest, "id" | "rootId">): Record<string, unknown> {
  return { parent_id: request.id, root_id: request.rootId ?? request.id };
}

function canvasOf(canvas: WorkerCanvas | undefined, what: string): WorkerCanvas {
  if (canvas) return canvas;
  throw new PythonError("RuntimeError", [`${what} needs the worker's canvas (none configured)`]);
}

/**
 * `ctx.replace(sig)`: builds the replacement (synchronously, so a refused
 * signature throws `ImproperlyConfigured` inside the handler, as in Celery)
 * and returns the {@link Replace} for the handler to throw.
 */
export function replaceError(
  request: WorkerRequest,
  sig: SignatureLike,
  canvas: WorkerCanvas | undefined,
): Replace {
  const { publisher } = canvasOf(canvas, "replace()").deps;
  const replacement = replacementSignature(
    {
      id: request.id,
      rootId: request.rootId,
      groupId: request.groupId,
      groupIndex: request.groupIndex,
      chord: request.embed.chord,
      callbacks: request.embed.callbacks,
      errbacks: request.embed.errbacks,
      chain: request.embed.chain,
      replacedTaskNesting: request.replacedTaskNesting,
    },
    Signature.fromDict(sig),
    publisher.oid,
  );
  return new Replace(replacement);
}

/** `Task.on_replace`: `sig.delay()` from inside the replaced task. */
export async function sendReplacement(
  request: WorkerRequest,
  replace: Replace,
  canvas: WorkerCanvas | undefined,
): Promise<void> {
  const { publisher } = canvasOf(canvas, "replace()").deps;
  await applySignature(publisher, replace.replacement, [], {}, sentFromTask(request));
}

/**
 * `Task.add_to_chord(sig, lazy)`: `sig` joins the chord this task is a
 * header member of (same group id, index and chord body), the backend
 * counts one more part (`add_to_chord`, Redis `INCR .t`), then `sig` is sent
 * unless `lazy`, in which case the frozen signature is returned for the
 * caller to send. A `Signature` passed in is updated in place, as Celery's is.
 */
export async function addToChord(
  request: WorkerRequest,
  input: SignatureLike,
  lazy: boolean,
  canvas: WorkerCanvas | undefined,
  backend: ResultBackend | null,
): Promise<AnyResult | Signature> {
  if (!request.embed.chord || !request.groupId)
    throw new PythonError("ValueError", ["Current task is not member of any chord"]);
  const { publisher } = canvasOf(canvas, "addToChord()").deps;
  const sig = chordMemberSignature(
    {
      rootId: request.rootId,
      groupId: request.groupId,
      groupIndex: request.groupIndex,
      chord: request.embed.chord,
    },
    Signature.fromDict(input),
    publisher.oid,
  );
  const joiner = backend?.chordJoiner;
  if (!joiner?.addToChord)
    throw new PythonError("NotImplementedError", ["Backend does not support add_to_chord"]);
  await joiner.addToChord(request.groupId);
  if (lazy) return sig;
  const node = await applySignature(publisher, sig, [], {}, sentFromTask(request));
  // `sig.delay()` from inside the task: send_task's add_trail puts it in this task's children.
  addTrail(trailTuple(node));
  return resultOf(node, backend);
}
