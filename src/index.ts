/**
 * Celeriac's public API: the `Celery` app facade, result handles, settings
 * types, the error tree, the worker (tasks, context, task errors), remote
 * control and events. Some lower building blocks (the Redis transport and
 * result backend, the router, the message builder, settings defaults) are
 * reachable through `celeriac/internal` (src/internal.ts); protocol/ and
 * serialization/ are not exported.
 */
export { Celery } from "./app.js";
export {
  Beat,
  type BeatEntry,
  type BeatOptions,
  type BeatScheduleEntry,
  type BeatScheduler,
  type CronField,
  type CrontabFields,
  CrontabParseError,
  crontab,
  interval,
  type Schedule,
  type ScheduleStore,
  type SolarEvent,
  solar,
} from "./beat/index.js";
export {
  Chain,
  Chord,
  Chunks,
  chain,
  chord,
  chunks,
  Group,
  group,
  MapSignature,
  Signature,
  type SignatureApp,
  type SignatureResult,
  type StampHeaders,
  type StampingVisitor,
  type SubtaskType,
  s,
  si,
  signature,
  type TaskSig,
  type VisitorStamps,
  xmap,
  xstarmap,
} from "./canvas/index.js";
export type { SendTaskOptions, SignatureLike } from "./canvas/options.js";
export { ImproperlyConfigured } from "./canvas/replace.js";
export { applyAsync } from "./client/canvas-apply.js";
export { EagerResult } from "./client/eager-result.js";
export { AsyncResult, type GetOptions, GroupResult, type ResultMeta } from "./client/result.js";
export type { PartialArgs, TaskSignature } from "./client/signature.js";
export type {
  AppliedResult,
  EagerAppliedResult,
  WorkflowApplyOptions,
} from "./client/signature-methods.js";
export { CELERY_MINORS, type CeleryMinor } from "./compat.js";
export type { CeleryOptions, Settings } from "./config.js";
export type {
  BrokerTransportOptions,
  QueueSetting,
  ResultBackendTransportOptions,
  RetryPolicy,
  RouterFunction,
  RouteTarget,
  SentinelKwargs,
  TaskRoutes,
  TlsSettings,
} from "./config-values.js";
export {
  Control,
  type DestinationOptions,
  Inspect,
  type ReplyOptions,
} from "./control/control.js";
export type { ControlReply } from "./control/mailbox.js";
export {
  CeleryError,
  ConfigError,
  ConnectionLostError,
  ContentDisallowedError,
  DatabaseError,
  DecodeError,
  EncodeError,
  NotRegisteredError,
  ProtocolError,
  RemoteTaskError,
  type StoredFailure,
  TaskRevokedError,
  TimeoutError,
} from "./errors.js";
export type { AppEvents } from "./events/app-events.js";
export {
  type EventBody,
  type EventHandlers,
  State,
  type StateOptions,
  TaskState,
  WorkerState,
} from "./events/index.js";
export {
  checkLogger,
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogMethod,
  TASK_LOG_FIELDS,
} from "./logging.js";
export type { SignatureDict } from "./protocol/task-message.js";
export type { CompressionName, SerializerName } from "./serialization/index.js";
export type { TaskContext, UpdateStateOptions } from "./worker/context.js";
export type { EagerApplyOptions } from "./worker/eager-task.js";
export type { ErrbackRequest } from "./worker/errbacks.js";
export {
  Ignore,
  MaxRetriesExceededError,
  PythonError,
  Reject,
  Retry,
  type RetryOptions,
  SoftTimeLimitExceeded,
  Terminated,
  TimeLimitExceeded,
  WorkerLostError,
} from "./worker/errors.js";
export type { RateLimit } from "./worker/rate-limit.js";
export type { TaskHandle } from "./worker/task-handle.js";
export type { HookRequest, PostrunState } from "./worker/task-hooks.js";
export {
  defineTaskBase,
  type ErrorMatcher,
  type ModuleHandler,
  type ProcessHandler,
  processTask,
  type TaskBase,
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
  type ThreadedHandler,
  threadedTask,
} from "./worker/task-registry.js";
export { type CloseOptions, Worker, type WorkerOptions } from "./worker/worker.js";
export type {
  TaskEventInfo,
  WorkerEventListener,
  WorkerEventMap,
  WorkerEventName,
} from "./worker/worker-events.js";
