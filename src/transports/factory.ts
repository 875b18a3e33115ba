import type { Settings } from "../config.js";
import { wireBudget } from "../serialization/index.js";
import { amqpEndpointFromSettings, amqpNativeDelay, createAmqpTransport } from "./amqp/index.js";
import { RedisTransport } from "./redis/index.js";
import { parseRedisUrl, type RedisEndpoint } from "./redis/url.js";
import { brokerReconnectPolicy } from "./retry-policy.js";
import type { NativeDelay, QueueSpec, Transport } from "./transport.js";

/**
 * Which broker transport a `broker` URL opens (kombu/transport/__init__.py `TRANSPORT_ALIASES`,
 * 5.7.0). Adding a broker is a folder under transports/ and one entry in {@link BROKER_KINDS}; the
 * `Celery` facade and everything above it see only {@link Transport}.
 */
export interface BrokerContext {
  readonly settings: Settings;
  /** Exchange name -> type from the task queues and routes (Redis keeps no exchange declarations). */
  readonly exchangeTypes: ReadonlyMap<string, "direct" | "topic" | "fanout">;
  /** The app's queue table (`app.amqp.queues`); AMQP detects quorum queues in it. */
  readonly appQueues?: readonly QueueSpec[];
}

interface BrokerKind {
  accepts(url: string): boolean;
  /** Parses the URL (ConfigError on a bad one) without connecting. */
  check(url: string, settings: Settings): void;
  create(url: string, context: BrokerContext): Transport;
  /** The transport's {@link Transport.nativeDelay}, without opening it; absent when the broker offers none. */
  nativeDelay?(appQueues: readonly QueueSpec[]): NativeDelay;
}

/** kombu's `amqp`/`pyamqp` transport on RabbitMQ. */
const amqpKind: BrokerKind = {
  accepts: isAmqpBrokerUrl,
  check: (url, settings) => void amqpEndpointFromSettings(url, settings),
  create: (url, { settings, appQueues }) => createAmqpTransport(url, settings, appQueues),
  nativeDelay: amqpNativeDelay,
};

/** kombu/transport/redis.py (redis://, rediss://, redis+socket://, socket://, unix://). */
const redisKind: BrokerKind = {
  accepts: () => true, // last: any other scheme gets the Redis URL parser's error naming the schemes
  check: (url, settings) => void brokerRedisEndpoint(url, settings),
  create(url, { settings: s, exchangeTypes }) {
    return new RedisTransport({
      endpoint: brokerRedisEndpoint(url, s),
      transportOptions: s.brokerTransportOptions,
      permanentBindings: s.compat.permanentBindings,
      publishRetryPolicy: s.taskPublishRetry && s.brokerConnectionRetry ? s.taskPublishRetryPolicy : null,
      connection: {
        connectTimeout: s.brokerConnectionTimeout,
        maxReconnects: s.brokerConnectionMaxRetries,
        reconnect: s.brokerConnectionRetry,
      },
      reconnect: brokerReconnectPolicy(s),
      exchangeTypes,
      budget: wireBudget(s),
    });
  },
};

/** A redis://, socket or sentinel:// broker URL; Sentinel settings from `brokerTransportOptions` (kombu `SentinelChannel`). */
function brokerRedisEndpoint(url: string, s: Settings): RedisEndpoint {
  const { masterName, sentinelKwargs } = s.brokerTransportOptions;
  return parseRedisUrl("broker", url, s.brokerUseSsl, {
    optionsName: "brokerTransportOptions",
    masterName,
    sentinelKwargs,
    defaultPort: 26379,
  });
}

/** Tried in order; the first that accepts the URL opens it. */
const BROKER_KINDS: readonly BrokerKind[] = [amqpKind, redisKind];

function kindOf(url: string): BrokerKind {
  return BROKER_KINDS.find((k) => k.accepts(url)) ?? redisKind;
}

/** `amqp://`, `amqps://`, `pyamqp://`: RabbitMQ. */
export function isAmqpBrokerUrl(url: string): boolean {
  return /^(py)?amqps?:\/\//i.test(url);
}

/** Validates `broker` (at app construction: a bad URL fails before anything is sent). */
export function checkBrokerSettings(settings: Settings): void {
  kindOf(settings.broker).check(settings.broker, settings);
}

/**
 * Native delay as the transport of `broker` offers it (undefined on Redis), for an app whose
 * queue table is `appQueues`: the producer asks it for a message with an ETA without opening
 * the transport (a dry-run `prepareTask` stays offline).
 */
export function brokerNativeDelay(broker: string, appQueues: readonly QueueSpec[]): NativeDelay | undefined {
  return kindOf(broker).nativeDelay?.(appQueues);
}

/** The broker transport `settings.broker` names; it connects on first use. */
export function createBrokerTransport(context: BrokerContext): Transport {
  return kindOf(context.settings.broker).create(context.settings.broker, context);
}
