import type { RetryPolicy, TlsSettings } from "../../config-values.js";
import { brokerReconnectPolicy } from "../retry-policy.js";
import type { QueueSpec } from "../transport.js";
import type { FailoverStrategy } from "./connection.js";
import type { ExchangeType } from "./topology.js";
import { AmqpTransport } from "./transport.js";
import { type AmqpEndpoint, type PyAmqpSslDict, parseAmqpUrls } from "./url.js";

export {
  AmqpConnection,
  type AmqpConnectionOptions,
  type FailoverStrategy,
  openAmqpConnection,
} from "./connection.js";
export { AmqpConsumer } from "./consumer.js";
export { AmqpDeclarationError, applyDeclarations, pyAmqpTypedArguments } from "./declare.js";
export { amqpPublishOptions, fromMessageProperties, headersOf } from "./message.js";
export { amqpNativeDelay } from "./native-delay-route.js";
export * from "./native-delayed-delivery.js";
export { AmqpPublisher, BrokerNackError } from "./publisher.js";
export * from "./topology.js";
export { AmqpTransport, type AmqpTransportOptions } from "./transport.js";
export {
  AMQP_SCHEMES,
  type AmqpEndpoint,
  type AmqpTls,
  type AmqpUrlOptions,
  describeAmqpEndpoint,
  describeAmqpEndpoints,
  type PyAmqpSslDict,
  parseAmqpUrl,
  parseAmqpUrls,
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
  brokerConnectionRetryOnStartup?: boolean | null;
  brokerConnectionMaxRetries?: number | null;
  /** Celery's `task_publish_retry_policy` (bounds a publish while the broker is away). */
  taskPublishRetryPolicy?: RetryPolicy;
  /** `task_publish_retry` (false: one attempt). */
  taskPublishRetry?: boolean;
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
  /** `broker_native_delayed_delivery_queue_type` (default "quorum"). */
  brokerNativeDelayedDeliveryQueueType?: "classic" | "quorum";
  /** `worker_detect_quorum_queues` (default true). */
  workerDetectQuorumQueues?: boolean;
  /** `broker_failover_strategy` for a failover list (default "round-robin"). */
  brokerFailoverStrategy?: FailoverStrategy;
}

/** Parses the URL or failover list (ConfigError on a bad part) without connecting. */
export function amqpEndpointsFromSettings(url: string, settings: AmqpTransportSettings = {}): AmqpEndpoint[] {
  return parseAmqpUrls("broker", url, {
    ssl: settings.brokerUseSsl ?? null,
    heartbeat: settings.brokerHeartbeat ?? 120,
    connectTimeout: settings.brokerConnectionTimeout ?? 4,
  });
}

/** The first node of {@link amqpEndpointsFromSettings}. */
export function amqpEndpointFromSettings(url: string, settings: AmqpTransportSettings = {}): AmqpEndpoint {
  return amqpEndpointsFromSettings(url, settings)[0] as AmqpEndpoint;
}

/** An {@link AmqpTransport} for an `amqp://` / `amqps://` broker URL; connects on first use. */
export function createAmqpTransport(
  url: string,
  settings: AmqpTransportSettings = {},
  /** The app's queue table (`app.amqp.queues`, `Router.appQueues()`): quorum detection. */
  appQueues: readonly QueueSpec[] = [],
): AmqpTransport {
  const endpoints = amqpEndpointsFromSettings(url, settings);
  const defaultQueue = settings.taskDefaultQueue ?? "celery";
  return new AmqpTransport({
    endpoint: endpoints[0] as AmqpEndpoint,
    endpoints,
    failoverStrategy: settings.brokerFailoverStrategy ?? "round-robin",
    topology: {
      defaultQueue,
      defaultExchange: settings.taskDefaultExchange || defaultQueue,
      defaultExchangeType: settings.taskDefaultExchangeType ?? "direct",
      queueMaxPriority: settings.taskQueueMaxPriority ?? null,
      defaultQueueType: settings.taskDefaultQueueType ?? "classic",
    },
    confirmPublish: settings.confirmPublish ?? true,
    policy: brokerReconnectPolicy(settings),
    publishTimeoutMs: publishTimeoutMs(settings),
    ...(settings.onError ? { onError: settings.onError } : {}),
    ...(settings.wireMaxDepth !== undefined ? { maxDepth: settings.wireMaxDepth } : {}),
    appQueues,
    nativeDelayQueueType: settings.brokerNativeDelayedDeliveryQueueType ?? "quorum",
    detectQuorumQueues: settings.workerDetectQuorumQueues ?? true,
  });
}

/**
 * How long a publish may wait for the broker: kombu's `Producer.publish`
 * under `task_publish_retry_policy` makes max_retries + 1 attempts, each a
 * connect bounded by `broker_connection_timeout`, with the policy's sleeps
 * between them (kombu/utils/functional.py `retry_over_time`, 5.7.0). With
 * Celery's defaults (3 retries, 0/0.2/0.2 s, 4 s timeout): 18.4 s, plus 0.5 s
 * per attempt for the AMQP handshake after the TCP connect.
 */
export function publishTimeoutMs(settings: AmqpTransportSettings): number {
  const policy = settings.taskPublishRetryPolicy ?? {};
  const retries = settings.taskPublishRetry === false ? 0 : (policy.maxRetries ?? 3);
  const connectMs = (settings.brokerConnectionTimeout ?? 4) * 1000 + 500;
  let sleeps = 0;
  for (let i = 0; i < retries; i++) {
    sleeps += Math.min(
      (policy.intervalStart ?? 0) + i * (policy.intervalStep ?? 0.2),
      policy.intervalMax ?? 0.2,
    );
  }
  return Math.round((retries + 1) * connectMs + sleeps * 1000);
}
