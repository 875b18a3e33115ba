import type { Redis } from "ioredis";
import type { BrokerTransportOptions, RetryPolicy } from "../../config-values.js";
import { ConnectionLostError } from "../../errors.js";
import type { WireBudget } from "../../serialization/index.js";
import type { ReconnectPolicy } from "../retry-policy.js";
import type {
  BrokerEvents,
  BrokerMailbox,
  ConsumeOptions,
  Consumer,
  MailboxOptions,
  OutgoingMessage,
  QueueSpec,
  Transport,
  TransportCapabilities,
} from "../transport.js";
import {
  ClientClosedError,
  closeClient,
  createRedisClient,
  disconnectClient,
  ensureConnecting,
  type RedisConnectionOptions,
  withRetry,
} from "./connection.js";
import { consumeRedis } from "./consumer.js";
import { redisEvents } from "./events.js";
import { RedisKeys } from "./keys.js";
import { redisMailbox } from "./mailbox.js";
import { RedisPublisher } from "./publisher.js";
import type { QosKeys } from "./qos.js";
import { describeEndpoint, type RedisEndpoint } from "./url.js";

export { createRedisClient, isConnectionError, redisOptions, withRetry } from "./connection.js";
export { buildEnvelope, decodeEnvelope, encodeEnvelope } from "./envelope.js";
export { RedisKeys, ResultKeys, resultKeyprefix } from "./keys.js";
export { RedisPublisher } from "./publisher.js";
export { describeEndpoint, parseRedisUrl, type RedisEndpoint } from "./url.js";

/**
 * kombu's Redis transport behind the {@link Transport} interface. The
 * producer side (publish, declare, purge, size) lives here and in
 * `publisher.ts`; `consume` hands a dedicated blocking connection to the
 * worker's BRPOP consumer (`consumer.ts`, `qos.ts`).
 *
 * Connections: one command connection (publishes, declarations, ack
 * emulation) opened on first use, plus one blocking connection per
 * `consume()` call. `close()` closes them all.
 */
export interface RedisTransportOptions {
  endpoint: RedisEndpoint;
  transportOptions: Required<BrokerTransportOptions>;
  /** kombu 5.7 `_kombu.binding_permanent.` bookkeeping. */
  permanentBindings: boolean;
  /** `task_publish_retry_policy` (null: `task_publish_retry=False`). */
  publishRetryPolicy: Required<RetryPolicy> | null;
  connection?: RedisConnectionOptions;
  /** `broker_connection_*` for the worker's consumer (default: Celery's defaults). */
  reconnect?: ReconnectPolicy;
  /** Exchange types declared in this process (`task_queues`); others count as direct (kombu). */
  exchangeTypes?: ReadonlyMap<string, "direct" | "topic" | "fanout">;
  /** The wire-input budget consumed envelopes are read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
}

export class RedisTransport implements Transport {
  readonly driverType = "redis";
  readonly capabilities: TransportCapabilities = { priority: "lower-first", fanout: true, messageTtl: false };
  readonly keys: RedisKeys;
  readonly endpoint: RedisEndpoint;
  readonly options: RedisTransportOptions;
  private commandClient: Redis | null = null;
  private publisherInstance: RedisPublisher | null = null;
  private readonly extraClients = new Set<Redis>();
  private readonly consumers = new Set<Consumer>();
  private closed = false;

  constructor(options: RedisTransportOptions) {
    this.options = options;
    this.endpoint = options.endpoint;
    const t = options.transportOptions;
    this.keys = new RedisKeys(options.endpoint.db, {
      globalKeyprefix: t.globalKeyprefix,
      sep: t.sep,
      prioritySteps: t.prioritySteps,
      fanoutPrefix: t.fanoutPrefix,
      fanoutPatterns: t.fanoutPatterns,
      unackedKey: t.unackedKey,
      unackedIndexKey: t.unackedIndexKey,
      unackedMutexKey: t.unackedMutexKey,
    });
  }

  /** The shared command connection (opened lazily). */
  get client(): Redis {
    if (this.closed) throw new ClientClosedError("the Redis broker transport is closed (close() was called)");
    if (this.commandClient === null) {
      this.commandClient = createRedisClient(this.endpoint, {
        ...this.options.connection,
        connectionName: "celeriac-broker",
      });
    }
    return this.commandClient;
  }

  get publisher(): RedisPublisher {
    if (this.publisherInstance === null) {
      this.publisherInstance = new RedisPublisher({
        client: this.client,
        keys: this.keys,
        endpoint: this.endpoint,
        permanentBindings: this.options.permanentBindings,
        retryPolicy: this.options.publishRetryPolicy,
        bodyEncoding: this.options.transportOptions.bodyEncoding,
        waitForReplicas: this.options.transportOptions.waitForReplicas ?? 0,
        ...(this.options.exchangeTypes ? { exchangeTypes: this.options.exchangeTypes } : {}),
      });
    }
    return this.publisherInstance;
  }

  /** A new connection owned by this transport (closed by `close()`); for blocking or pub/sub use. */
  newClient(name: string): Redis {
    if (this.closed) throw new ClientClosedError("the Redis broker transport is closed (close() was called)");
    const client = createRedisClient(this.endpoint, { ...this.options.connection, connectionName: name });
    this.extraClients.add(client);
    return client;
  }

  /** The key helpers the worker's QoS/consumer use. */
  qosKeys(): QosKeys {
    return {
      unacked: this.keys.unackedKey(),
      unackedIndex: this.keys.unackedIndexKey(),
      unackedMutex: this.keys.unackedMutexKey(),
      bindingTable: (exchange) => this.keys.bindingKey(exchange),
      queueKey: (queue, priority) => this.keys.queueKey(queue, priority),
    };
  }

  declare(queues: QueueSpec[]): Promise<void> {
    return this.publisher.declare(queues);
  }

  /** Publishes one message; `declare` binds those queues first (once per connection). */
  publish(message: OutgoingMessage, declare: readonly QueueSpec[] = []): Promise<void> {
    return this.publisher.publish(message, declare);
  }

  async consume(options: ConsumeOptions): Promise<Consumer> {
    const t = this.options.transportOptions;
    await this.declare(options.queues);
    const blockingClient = this.newClient("celeriac-brpop");
    const consumer = await consumeRedis({
      ...options,
      blockingClient,
      client: this.client,
      keys: this.qosKeys(),
      visibilityTimeout: t.visibilityTimeout,
      brpopTimeout: t.brpopTimeout,
      restoreInterval: t.unackedRestoreInterval,
      restoreThrottle: t.unackedRestoreThrottle,
      mutexExpire: t.unackedMutexExpire,
      sep: t.sep,
      prioritySteps: [...t.prioritySteps],
      ...(this.options.budget ? { budget: this.options.budget } : {}),
      brokerUrl: describeEndpoint(this.endpoint),
      ...(this.options.reconnect ? { reconnect: this.options.reconnect } : {}),
    });
    this.consumers.add(consumer);
    // The blocking connection belongs to this consumer alone: a cancelled consumer (worker
    // shutdown, `cancel_consumer`, a queue change) hands it back instead of leaving it idle.
    const cancel = consumer.cancel.bind(consumer);
    consumer.cancel = async () => {
      await cancel();
      this.consumers.delete(consumer);
      this.extraClients.delete(blockingClient);
      disconnectClient(blockingClient);
    };
    return consumer;
  }

  private command<T>(what: string, run: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.client;
    return withRetry(what, this.endpoint, this.options.publishRetryPolicy, () => {
      ensureConnecting(client);
      return run(client);
    });
  }

  /** Deletes every bucket of the queue; returns how many messages were dropped (kombu `_purge`). */
  async purge(queue: string): Promise<number> {
    const keys = this.keys.queueKeys(queue);
    return this.command("purge", async (c) => {
      const multi = c.multi();
      for (const key of keys) multi.llen(key);
      multi.del(...keys);
      const replies = (await multi.exec()) ?? [];
      return replies.slice(0, keys.length).reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
    });
  }

  /** Messages waiting in every bucket of the queue (kombu `_size`). */
  async size(queue: string): Promise<number> {
    const keys = this.keys.queueKeys(queue);
    return this.command("size", async (c) => {
      const p = c.pipeline();
      for (const key of keys) p.llen(key);
      const replies = (await p.exec()) ?? [];
      return replies.reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
    });
  }

  events(): BrokerEvents {
    return redisEvents(this, this.options.transportOptions.bodyEncoding);
  }

  /** PING; ioredis reports the last retry ("max retries per request"), so the broker is named instead. */
  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      if (!/max retries/i.test(err instanceof Error ? err.message : "")) throw err;
      throw new ConnectionLostError(`${describeEndpoint(this.endpoint)} is unreachable`, { cause: err });
    }
  }

  mailbox(options: MailboxOptions): BrokerMailbox {
    return redisMailbox(this, options, this.options.transportOptions.bodyEncoding);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) await consumer.cancel().catch(() => {});
    // Publishes already accepted go out before their connection closes (`app.close()` after an
    // un-awaited `sendTask` still sends it).
    await this.publisherInstance?.drain();
    const all = [...this.extraClients, ...(this.commandClient ? [this.commandClient] : [])];
    await Promise.all(all.map(closeClient));
  }
}
