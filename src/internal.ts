/**
 * Building blocks below the public facade, for the worker, canvas, control
 * and benchmark code and for advanced users (`celeriac/internal`). Not
 * covered by semver as strictly as `celeriac`.
 */
export {
  pendingMeta,
  type ResultBackend,
  type ResultMetaRecord,
  type WaitOptions,
} from "./backends/backend.js";
export {
  COMPRESSED_PREFIX,
  createMetaCodec,
  type MetaCodec,
  resultCodec,
  unwrapCompressed,
  wrapCompressed,
} from "./backends/meta-codec.js";
export { RedisBackend, type RedisBackendOptions } from "./backends/redis.js";
export { RedisResultConsumer } from "./backends/redis-result-consumer.js";
export type { PublishOptions } from "./canvas/options.js";
export { serializeBody } from "./client/codecs.js";
export { type PreparedMessage, prepareTaskMessage } from "./client/producer.js";
export { childIds, toResultMeta } from "./client/result.js";
export { metaToError } from "./client/result-error.js";
export { routeGlobToRegExp } from "./client/route-glob.js";
export { type ResolvedRoute, type RouteOptions, Router } from "./client/router.js";
export { checkSendOptions, SEND_OPTION_NAMES } from "./client/send-options.js";
export { signatureDict, taskSignature } from "./client/signature.js";
export { type CompatProfile, compatProfile, LATEST_COMPAT } from "./compat.js";
export { resolveSettings } from "./config-checks.js";
export {
  DEFAULT_BROKER_TRANSPORT_OPTIONS,
  DEFAULT_PUBLISH_RETRY_POLICY,
  KNOWN_OPTIONS,
} from "./config-defaults.js";
export { READY_STATES } from "./protocol/states.js";
export {
  createRedisClient,
  ensureConnecting,
  isConnectionError,
  type RedisConnectionOptions,
  redisOptions,
  tlsOptions,
  withRetry,
} from "./transports/redis/connection.js";
export {
  buildEnvelope,
  type DecodedEnvelope,
  decodeEnvelope,
  encodeEnvelope,
} from "./transports/redis/envelope.js";
export { RedisTransport, type RedisTransportOptions } from "./transports/redis/index.js";
export { RedisKeys, ResultKeys, resultKeyprefix } from "./transports/redis/keys.js";
export { RedisPublisher } from "./transports/redis/publisher.js";
export { describeEndpoint, parseRedisUrl, type RedisEndpoint } from "./transports/redis/url.js";
export type * from "./transports/transport.js";
