/**
 * Canvas: signatures and workflows (celery/canvas.py) as data, plus the rules
 * for what runs next. Sending a workflow is `applyAsync` (src/client/canvas-apply.ts);
 * what a worker does after a task is src/worker/continuations.ts (docs/canvas.md).
 */

export { applySignature, type CanvasPublisher } from "./apply.js";
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
  chain,
  chord,
  Group,
  group,
  Signature,
  type SignatureApp,
  type SignatureResult,
  type StampingVisitor,
  type SubtaskType,
  s,
  si,
  signature,
  type TaskSig,
} from "./signature.js";
export type { StampHeaders, VisitorStamps } from "./stamping.js";
