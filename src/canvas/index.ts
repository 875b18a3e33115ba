/**
 * Canvas: signatures and workflows (celery/canvas.py) that Python workers
 * execute and that the TS worker continues (docs/canvas.md).
 */

export {
  applyAsync,
  type CanvasApp,
  type CanvasOptions,
  canvasPublisher,
  chordJoinFor,
  resultOf,
} from "./app-apply.js";
export {
  applySignature,
  type CanvasPublisher,
  chordSizeOf,
  freezeSignature,
  type ResultNode,
  resultTuple,
} from "./apply.js";
export {
  type ChainLink,
  type ContinuationDeps,
  type ContinuationOutcome,
  type ContinuationRequest,
  planFailure,
  planSuccess,
  runContinuations,
} from "./continuation.js";
export { toPublishOptions } from "./options.js";
export {
  Chain,
  Chord,
  chain,
  chord,
  Group,
  group,
  Signature,
  type SubtaskType,
  s,
  si,
  signature,
} from "./signature.js";
