/**
 * Celeriac's public API: the `Celery` app facade, result handles, settings
 * types and the error tree. Lower layers (transports, backends, protocol,
 * serialization) are reachable through `celeriac/internal`.
 */
export { Celery } from "./app.js";
export {
  applyAsync,
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
} from "./canvas/index.js";
export { AsyncResult, type GetOptions, type ResultMeta } from "./client/async-result.js";
export { GroupResult } from "./client/group-result.js";
export type { SendTaskOptions } from "./client/send-options.js";
export type { TaskSignature } from "./client/signature.js";
export { CELERY_MINORS, type CeleryMinor } from "./compat.js";
export type {
  BrokerTransportOptions,
  CeleryOptions,
  CompressionName,
  QueueSetting,
  ResultBackendTransportOptions,
  RetryPolicy,
  RouterFunction,
  RouteTarget,
  SerializerName,
  Settings,
  TaskRoutes,
  TlsSettings,
} from "./config.js";
export {
  CeleryError,
  ConfigError,
  ConnectionLostError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  NotRegisteredError,
  ProtocolError,
  RemoteTaskError,
  TaskRevokedError,
  TimeoutError,
} from "./errors.js";
export type { SignatureDict } from "./protocol/task-message.js";
