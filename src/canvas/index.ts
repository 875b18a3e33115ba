/**
 * Canvas: signatures and workflows (celery/canvas.py, 5.7.0) as data, plus the rules
 * for what runs next. Sending a workflow is `applyAsync` (src/client/canvas-apply.ts);
 * what a worker does after a task is src/worker/continuations.ts (docs/canvas.md).
 */

export { applySignature, type CanvasPublisher } from "./apply.js";
export { chain, chord, group, type SignatureResult, s, si, signature, type TaskSig } from "./builders.js";
export {
  type ChainLink,
  type ContinuationOutcome,
  type ContinuationRequest,
  planErrbacks,
  planFailure,
  planSuccess,
} from "./continuation.js";
export { chordSizeOf, freezeSignature, type ResultNode, resultTuple } from "./freeze.js";
export {
  CHUNKS_TASK,
  Chunks,
  chunks,
  MAP_TASK,
  MapSignature,
  STARMAP_TASK,
  xmap,
  xstarmap,
} from "./maps.js";
export { type PublishOptions, type SendTaskOptions, toPublishOptions } from "./options.js";
export {
  Chain,
  Chord,
  Group,
  Signature,
  type SignatureApp,
  type StampingVisitor,
  type SubtaskType,
} from "./signature.js";
export type { StampHeaders, VisitorStamps } from "./stamping.js";
