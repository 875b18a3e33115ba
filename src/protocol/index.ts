/** Pure Celery protocol: task messages (v2/hybrid/v1), result metas, exception triples. No I/O. */
export {
  type BuildTaskInput,
  buildTaskMessage,
  buildTaskMessageV1,
  REPR_MAXLEVELS,
  REPR_MAXSIZE,
  taskSentEventFields,
  usesBalancedRepr,
} from "./build.js";
export type { IsoDatetimeText } from "./build-input.js";
export { formatIsoUtc, formatPythonIsoformat, parseIsoDatetime } from "./datetime.js";
export {
  type ExcInfo,
  type ExcInfoContext,
  errorToExcInfo,
  excInfoToError,
  isExcInfo,
  TS_EXCEPTION_MODULE,
  toExcInfo,
} from "./exceptions.js";
export { CELERY_HEADER_KEYS } from "./header-keys.js";
export {
  parseTaskMessage,
  type RawDeliveryInfo,
  type RawTaskMessage,
  type TaskProtocol,
  type TaskRequest,
} from "./parse.js";
export { pyNumberRepr } from "./py-scalar-repr.js";
export {
  asyncResultTuple,
  type BuildResultMetaInput,
  buildGroupMeta,
  buildResultMeta,
  type GroupMeta,
  type GroupMetaWire,
  groupResultTuple,
  type ParsedResultMeta,
  parseGroupMeta,
  parseResultMeta,
  parseResultTuple,
  parseStartedResult,
  type ResultMetaWire,
  type ResultRequestInfo,
  type ResultTuple,
  type ResultTupleNode,
  resultNodeToTuple,
  type StartedInfo,
  startedResult,
} from "./result-meta.js";
export { PyTuple, type SafereprOptions, saferepr } from "./saferepr.js";
export {
  ALL_STATES,
  type BuiltinTaskState,
  EXCEPTION_STATES,
  FAILURE,
  IGNORED,
  PENDING,
  PROPAGATE_STATES,
  READY_STATES,
  RECEIVED,
  REJECTED,
  RETRY,
  REVOKED,
  STARTED,
  SUCCESS,
  type TaskStateName,
  UNREADY_STATES,
} from "./states.js";
export type {
  Embed,
  SignatureDict,
  TaskBody,
  TaskBodyV1,
  TaskHeaders,
  TaskMessage,
  TaskMessageV1,
  TaskProperties,
} from "./task-message.js";
