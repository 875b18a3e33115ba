import type { TlsSettings } from "../../config.js";
import type { ExchangeType } from "./topology.js";
import { AmqpTransport } from "./transport.js";
import { type AmqpEndpoint, type PyAmqpSslDict, parseAmqpUrl } from "./url.js";

export { AmqpConnection, type AmqpConnectionOptions, openAmqpConnection } from "./connection.js";
export { AmqpConsumer } from "./consumer.js";
export { fromMessageProperties, headersOf, toPublishOptions } from "./message.js";
export { AmqpPublisher, BrokerNackError } from "./publisher.js";
export * from "./topology.js";
export {
  AmqpDeclarationError,
  AmqpTransport,
  type AmqpTransportOptions,
  applyDeclarations,
} from "./transport.js";
export {
  AMQP_SCHEMES,
  type AmqpEndpoint,
  type AmqpTls,
  type AmqpUrlOptions,
  describeAmqpEndpoint,
  type PyAmqpSslDict,
  parseAmqpUrl,
  tlsFromSslOption,
} from "./url.js";

/**
 * The settings the AMQP transport reads, under Celery's names (camelCase).
 * The app's resolved `Settings` object fits as is; the two task-queue
 * settings Celery has and `config.ts` does not yet are optional here.
 */
export interface AmqpTransportSettings {
  brokerUseSsl?: boolean | TlsSettings | PyAmqpSslDict | null;
  /** Seconds (default 120). */
  brokerHeartbeat?: number;
  /** Seconds (default 4). */
  brokerConnectionTimeout?: number;
  brokerConnectionRetry?: boolean;
  brokerConnectionMaxRetries?: number | null;
  taskDefaultQueue?: string;
  /** Default: the default queue's name, as Celery. */
  taskDefaultExchange?: string;
  taskDefaultExchangeType?: ExchangeType;
  /** `task_queue_max_priority`: `x-max-priority` on every task queue. */
  taskQueueMaxPriority?: number | null;
  /** `task_default_queue_type` (5.5+). */
  taskDefaultQueueType?: "classic" | "quorum";
  /** kombu `confirm_publish` (default true). */
  confirmPublish?: boolean;
  /** Recovered errors (connection/channel losses), for logging. */
  onError?: (err: Error) => void;
  /** `wireMaxDepth`: deepest headers table a consumer hands over (default 512). */
  wireMaxDepth?: number;
}

/** Parses the URL (ConfigError on a bad one) without connecting. */
export function amqpEndpointFromSettings(url: string, settings: AmqpTransportSettings = {}): AmqpEndpoint {
  return parseAmqpUrl("broker", url, {
    ssl: settings.brokerUseSsl ?? null,
    heartbeat: settings.brokerHeartbeat ?? 120,
    connectTimeout: settings.brokerConnectionTimeout ?? 4,
  });
}

/** An {@link AmqpTransport} for an `amqp://` / `amqps://` broker URL; connects on first use. */
export function createAmqpTransport(url: string, settings: AmqpTransportSettings = {}): AmqpTransport {
  const endpoint = amqpEndpointFromSettings(url, settings);
  const defaultQueue = settings.taskDefaultQueue ?? "celery";
  return new AmqpTransport({
    endpoint,
    topology: {
      defaultQueue,
      defaultExchange: settings.taskDefaultExchange || defaultQueue,
      defaultExchangeType: settings.taskDefaultExchangeType ?? "direct",
      queueMaxPriority: settings.taskQueueMaxPriority ?? null,
      defaultQueueType: settings.taskDefaultQueueType ?? "classic",
    },
    confirmPublish: settings.confirmPublish ?? true,
    reconnect: settings.brokerConnectionRetry ?? true,
    maxRetries: settings.brokerConnectionMaxRetries === undefined ? 100 : settings.brokerConnectionMaxRetries,
    ...(settings.onError ? { onError: settings.onError } : {}),
    ...(settings.wireMaxDepth !== undefined ? { maxDepth: settings.wireMaxDepth } : {}),
  });
}
