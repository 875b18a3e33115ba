import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import { serialize } from "../serialization/index.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisConnectionOptions } from "../transports/redis/connection.js";
import { parseRedisUrl, type RedisEndpoint } from "../transports/redis/url.js";
import type { Transport } from "../transports/transport.js";
import type { ResultBackend } from "./backend.js";
import { checkDatabaseBackend, createDatabaseBackend, isDatabaseBackend } from "./database/index.js";
import { resultCodec } from "./meta-codec.js";
import { RedisBackend } from "./redis.js";
import { createRpcBackend } from "./rpc.js";

/**
 * Which result backend a `backend` URL opens (celery/app/backends.py `by_url`, 5.7.0). Adding a
 * backend is a folder or file under backends/ and one entry in {@link BACKEND_KINDS}; the `Celery`
 * facade and everything above it see only {@link ResultBackend}.
 */
export interface BackendContext {
  readonly settings: Settings;
  /** The app's reply id (Celery's `thread_oid`): the RPC backend's reply queue. */
  readonly oid: string;
  /** The app's broker transport, opened on demand (the RPC backend rides on it). */
  brokerTransport(): Transport;
}

interface BackendKind {
  /** True when this kind serves the URL (by scheme). */
  accepts(url: string): boolean;
  /** Checks the URL against the settings at app construction: a bad one fails before anything is sent. */
  check(url: string, settings: Settings): void;
  create(url: string, context: BackendContext): ResultBackend;
}

const isAmqpUrl = (url: string) => /^(py)?amqps?:\/\//i.test(url);

/** celery/backends/rpc.py `RPCBackend`: replies over the AMQP broker. */
const rpcKind: BackendKind = {
  accepts: (url) => /^rpcs?:\/\//i.test(url),
  check(_url, settings) {
    if (!isAmqpUrl(settings.broker)) {
      throw new ConfigError(
        "backend",
        `backend rpc:// sends results over the broker and needs an amqp:// or amqps:// broker (got ${JSON.stringify(
          settings.broker.replace(/\/\/[^@/]*@/, "//***@"),
        )})`,
      );
    }
  },
  create(_url, { settings, oid, brokerTransport }) {
    const transport = brokerTransport();
    if (!(transport instanceof AmqpTransport)) {
      throw new ConfigError("backend", "backend rpc:// needs an amqp:// or amqps:// broker transport");
    }
    return createRpcBackend({
      transport,
      oid,
      codec: resultCodec(settings),
      compat: settings.compat,
      resultExpires: settings.resultExpires,
    });
  },
};

/** celery/backends/database `DatabaseBackend` (db+postgresql://) and django-celery-results (django-db). */
const databaseKind: BackendKind = {
  accepts: isDatabaseBackend,
  check: (url, settings) => checkDatabaseBackend({ ...settings, backend: url }),
  create: (url, { settings: s }) =>
    createDatabaseBackend(
      { ...s, backend: url },
      {
        meta: resultCodec(s),
        dumps: (value) => serialize(value, s.resultSerializer, { compat: s.compat, option: "serializer" }),
      },
    ),
};

/**
 * A redis://, socket:// or sentinel:// backend URL; Sentinel settings from
 * `resultBackendTransportOptions` (celery/backends/redis.py `SentinelBackend._get_pool`, 5.7.0).
 */
function backendRedisEndpoint(url: string, s: Settings): RedisEndpoint {
  const { masterName, sentinelKwargs } = s.resultBackendTransportOptions;
  return parseRedisUrl("backend", url, s.redisBackendUseSsl, {
    optionsName: "resultBackendTransportOptions",
    masterName,
    sentinelKwargs,
    defaultPort: 6379,
  });
}

/** celery/backends/redis.py `RedisBackend` and `SentinelBackend` (redis://, rediss://, socket://, sentinel://). */
const redisKind: BackendKind = {
  accepts: () => true, // last: every other scheme gets the Redis URL parser's error naming the schemes
  check(url, settings) {
    const scheme = url.slice(0, Math.max(0, url.indexOf("://"))).toLowerCase();
    if (scheme.startsWith("amqp")) {
      throw new ConfigError(
        "backend",
        `backend ${scheme}:// is not supported yet; use redis://, rediss://, socket://, django-db or db+postgresql://`,
      );
    }
    backendRedisEndpoint(url, settings);
  },
  create(url, { settings: s }) {
    const connection: RedisConnectionOptions = { maxReconnects: s.brokerConnectionMaxRetries };
    if (s.redisSocketConnectTimeout !== null) connection.connectTimeout = s.redisSocketConnectTimeout;
    return new RedisBackend({
      endpoint: backendRedisEndpoint(url, s),
      codec: resultCodec(s),
      globalKeyprefix: s.resultBackendTransportOptions.globalKeyprefix,
      resultExpires: s.resultExpires,
      resultFailureExpires: s.resultFailureExpires,
      chordClaimKeys: s.compat.chordClaimKeys,
      chordExpires: s.resultChordExpires,
      connection,
    });
  },
};

/** Tried in order; the first that accepts the URL opens it. */
const BACKEND_KINDS: readonly BackendKind[] = [rpcKind, databaseKind, redisKind];

function kindOf(url: string): BackendKind {
  return BACKEND_KINDS.find((k) => k.accepts(url)) ?? redisKind;
}

/** Validates `backend` and the result codec settings (at app construction). */
export function checkBackendSettings(settings: Settings): void {
  if (settings.backend === null) return;
  kindOf(settings.backend).check(settings.backend, settings);
  resultCodec(settings); // validates result serializer/accept settings
}

/** The result backend `settings.backend` names, or null when none is configured (Celery's DisabledBackend). */
export function createResultBackend(context: BackendContext): ResultBackend | null {
  const url = context.settings.backend;
  return url === null ? null : kindOf(url).create(url, context);
}
