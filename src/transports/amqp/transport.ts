import type { Channel } from "amqplib";
import { CeleryError, ConnectionLostError } from "../../errors.js";
import { type ReconnectPolicy, withDeadline } from "../retry-policy.js";
import type {
  BrokerEvents,
  BrokerMailbox,
  ConsumeOptions,
  Consumer,
  MailboxOptions,
  NativeDelay,
  OutgoingMessage,
  QueueSpec,
  Transport,
  TransportCapabilities,
} from "../transport.js";
import { AmqpConnection, type FailoverStrategy } from "./connection.js";
import { AmqpConsumer } from "./consumer.js";
import { applyDeclarations } from "./declare.js";
import { DeclaredEntities } from "./declared-entities.js";
import { amqpEvents } from "./events.js";
import { amqpMailbox } from "./mailbox.js";
import { amqpNativeDelay } from "./native-delay-route.js";
import {
  DELAYED_PUBLISH_EXCHANGE,
  delayedDeliveryBindings,
  detectQuorumQueues,
  type NativeDelayQueueType,
  nativeDelayedDeliveryDeclarations,
} from "./native-delayed-delivery.js";
import { AmqpPublisher } from "./publisher.js";
import {
  DEFAULT_TASK_TOPOLOGY,
  type Declarations,
  type TaskTopologySettings,
  taskQueueDeclarations,
} from "./topology.js";
import { type AmqpEndpoint, describeAmqpEndpoints } from "./url.js";

/**
 * kombu's py-amqp transport behind the {@link Transport} interface.
 *
 * One connection ({@link AmqpConnection}) carrying: an admin channel for
 * declarations, purge and size; one ConfirmChannel for every publish
 * ({@link AmqpPublisher}); one channel per `consume()` ({@link AmqpConsumer}).
 * Every declaration made is remembered and made again, first, after a
 * reconnect, then the consumers come back ({@link DeclaredEntities}).
 */
export interface AmqpTransportOptions {
  endpoint: AmqpEndpoint;
  /** A failover list, `endpoint` first (`amqp://a;amqp://b`). */
  endpoints?: readonly AmqpEndpoint[];
  /** kombu `failover_strategy` (default "round-robin"). */
  failoverStrategy?: FailoverStrategy;
  /** Task-queue settings (`task_queue_max_priority`, `task_default_queue_type`, ...). */
  topology?: Partial<TaskTopologySettings>;
  /** Publisher confirms (kombu `confirm_publish`); default true. */
  confirmPublish?: boolean;
  /** Channel losses one publish survives before it rejects (default 10). */
  publishMaxAttempts?: number;
  /** `broker_connection_*` (default: Celery's defaults). */
  policy?: ReconnectPolicy;
  /**
   * Most ms a publish (with its declarations) waits for the broker before it
   * rejects with ConnectionLostError (default 18 400, `publishTimeoutMs()` of
   * Celery's defaults in `index.ts`).
   */
  publishTimeoutMs?: number;
  connectionName?: string;
  /** Errors the transport recovered from (connection or channel losses). */
  onError?: (err: Error) => void;
  /** `wireMaxDepth`: deepest headers table a consumer hands over (default 512). */
  maxDepth?: number;
  /**
   * The app's queue table (`app.amqp.queues`): a quorum queue among them turns on
   * native delayed delivery and per-consumer QoS, as Celery's `detect_quorum_queues`.
   */
  appQueues?: readonly QueueSpec[];
  /** `broker_native_delayed_delivery_queue_type` (default "quorum"). */
  nativeDelayQueueType?: NativeDelayQueueType;
  /** `worker_detect_quorum_queues` (default true): per-consumer QoS when the app has a quorum queue. */
  detectQuorumQueues?: boolean;
}

/** Celery's task_publish_retry_policy bound: 4 attempts x (broker_connection_timeout 4 s + 0.5 s) + 0.4 s. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 18_400;

function declarationKey(kind: string, name: string, extra = ""): string {
  return `${kind}\u0000${name}\u0000${extra}`;
}

/** Keys already made, per spec object (a route's queue spec is one object per queue). */
const taskDeclarationKeys = new WeakMap<QueueSpec, string>();

function taskDeclarationKey(queue: QueueSpec): string {
  let key = taskDeclarationKeys.get(queue);
  if (key === undefined) {
    key = declarationKey("task", queue.name, `${queue.exchange}\u0000${queue.routingKey}`);
    taskDeclarationKeys.set(queue, key);
  }
  return key;
}

export class AmqpTransport implements Transport {
  readonly driverType = "amqp";
  readonly capabilities: TransportCapabilities = { priority: "higher-first", fanout: true, messageTtl: true };
  readonly connection: AmqpConnection;
  readonly topology: TaskTopologySettings;
  private readonly publisher: AmqpPublisher;
  /** The error of a publish the broker did not take in time (one function for every publish). */
  private readonly publishExpired = (): Error =>
    new ConnectionLostError(
      `publish to ${describeAmqpEndpoints(this.connection.endpoints)}: the broker did not take the message within ${((this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS) / 1000).toFixed(1)}s`,
    );
  private admin: Channel | null = null;
  private adminOpening: Promise<Channel> | null = null;
  private readonly declared: DeclaredEntities;
  private readonly consumers = new Set<AmqpConsumer>();
  private closed = false;
  /**
   * The app has a quorum queue (celery/utils/quorum_queues.py `detect_quorum_queues`):
   * ETA tasks go through the native delayed delivery levels, workers declare them.
   */
  readonly quorumQueuesDetected: boolean;
  /** Where an ETA task goes on this broker (native-delay-route.ts). */
  readonly nativeDelay: NativeDelay;

  constructor(readonly options: AmqpTransportOptions) {
    this.topology = { ...DEFAULT_TASK_TOPOLOGY, ...options.topology };
    this.quorumQueuesDetected = detectQuorumQueues(options.appQueues ?? []);
    this.nativeDelay = amqpNativeDelay(options.appQueues ?? []);
    this.connection = new AmqpConnection({
      endpoint: options.endpoint,
      ...(options.endpoints ? { endpoints: options.endpoints } : {}),
      ...(options.failoverStrategy ? { failoverStrategy: options.failoverStrategy } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      connectionName: options.connectionName ?? "celeriac",
      onError: (err) => options.onError?.(err),
    });
    this.declared = new DeclaredEntities(this.connection, (run) => this.onAdmin(run));
    // Runs before consumers' hooks (registered later): topology first.
    this.connection.addSetupHook((model, generation) => {
      this.admin = null;
      return this.declared.redeclareAll(model, generation);
    });
    this.publisher = new AmqpPublisher(this.connection, {
      confirm: options.confirmPublish ?? true,
      maxAttempts: options.publishMaxAttempts ?? 10,
    });
  }

  /** The node connected to now (or tried next, while reconnecting). */
  get endpoint(): AmqpEndpoint {
    return this.connection.endpoint;
  }

  private adminChannel(): Promise<Channel> {
    if (this.admin !== null) return Promise.resolve(this.admin);
    this.adminOpening ??= this.connection
      .channel(false)
      .then(({ channel }) => {
        channel.on("close", () => {
          if (this.admin === channel) this.admin = null;
        });
        this.admin = channel;
        return channel;
      })
      .finally(() => {
        this.adminOpening = null;
      });
    return this.adminOpening;
  }

  /** Runs one admin operation; a channel-level refusal closes the channel, the next call opens another. */
  private async onAdmin<T>(run: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await this.adminChannel();
    return run(channel);
  }

  /**
   * Declares raw declarations once per connection and remembers them for
   * reconnects (events, pidbox and the RPC reply queue use this).
   */
  declareRaw(key: string, declarations: Declarations): Promise<void> {
    return this.declared.declare(key, declarations);
  }

  /** Forgets remembered declarations (an exclusive/auto-delete queue no longer wanted). */
  forget(key: string): void {
    this.declared.forget(key);
  }

  /** Task queues as Celery declares them (exchange, queue with x-arguments, binding). */
  taskQueueDeclarations(queue: QueueSpec): Declarations {
    return taskQueueDeclarations(queue, this.topology);
  }

  async declare(queues: QueueSpec[]): Promise<void> {
    for (const queue of queues) {
      await this.declareRaw(taskDeclarationKey(queue), this.taskQueueDeclarations(queue));
    }
  }

  /**
   * Publishes one message; `declare` declares those queues first (once per connection), as
   * kombu's `declare=`. Bounded: rejects with
   * ConnectionLostError after `publishTimeoutMs` when the broker does not
   * take it (kombu's `Producer.publish` under `retry_policy` gives up too).
   */
  publish(message: OutgoingMessage, declare: readonly QueueSpec[] = []): Promise<void> {
    const timeoutMs = this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    const expired = this.publishExpired;
    // Queues already declared on this connection: straight to the publisher, with no promise,
    // timer or tick of the declaration path per message.
    if (message.exchange !== DELAYED_PUBLISH_EXCHANGE && this.declared.allDone(declare, taskDeclarationKey)) {
      return this.publisher.publish(message, timeoutMs, expired);
    }
    return this.declareThenPublish(message, declare, timeoutMs, expired);
  }

  private async declareThenPublish(
    message: OutgoingMessage,
    declare: readonly QueueSpec[],
    timeoutMs: number,
    expired: () => Error,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (declare.length > 0) await withDeadline(this.declare([...declare]), timeoutMs, expired);
    if (message.exchange === DELAYED_PUBLISH_EXCHANGE && declare.length > 0) {
      // Python's send_task declares nothing here and relies on a worker having declared the
      // levels; declaring them (same arguments) and the queue's delivery binding first means a
      // delayed task sent before any worker started still reaches its queue.
      await withDeadline(this.declareNativeDelay(declare), Math.max(1, deadline - Date.now()), expired);
    }
    return this.publisher.publish(message, Math.max(1, deadline - Date.now()), expired);
  }

  /**
   * The 28 delay levels and the delivery bindings of `queues`
   * (kombu `declare_native_delayed_delivery_exchanges_and_queues` and
   * `bind_queue_to_native_delayed_delivery_exchange`), once per connection
   * and again after a reconnect. A queue on a direct exchange gets no binding.
   */
  async declareNativeDelay(queues: readonly QueueSpec[]): Promise<void> {
    await this.declareRaw(
      "native-delay",
      nativeDelayedDeliveryDeclarations(this.options.nativeDelayQueueType ?? "quorum"),
    );
    for (const queue of queues) {
      const bindings = delayedDeliveryBindings(queue);
      if (bindings === null) continue;
      await this.declareRaw(
        declarationKey("native-delay-bind", queue.name, `${queue.exchange}\u0000${queue.routingKey}`),
        bindings,
      );
    }
  }

  /**
   * celery/worker/consumer/delayed_delivery.py `DelayedDelivery.start`: a worker of
   * an app with a quorum queue declares the levels and binds every app queue (and
   * those it consumes). Failures are reported, never fatal, as Celery logs them.
   */
  private async setUpNativeDelay(
    consumed: readonly QueueSpec[],
    report: (err: Error) => void,
  ): Promise<void> {
    try {
      await this.declareNativeDelay([]);
    } catch (err) {
      report(
        new CeleryError("ERR_DECLARE", `native delayed delivery: ${(err as Error).message}`, { cause: err }),
      );
      return;
    }
    const byName = new Map<string, QueueSpec>();
    for (const q of [...(this.options.appQueues ?? []), ...consumed]) byName.set(q.name, q);
    for (const queue of byName.values()) {
      try {
        await this.declareNativeDelay([queue]);
      } catch (err) {
        report(
          new CeleryError(
            "ERR_DECLARE",
            `native delayed delivery: failed to bind queue ${JSON.stringify(queue.name)}: ${(err as Error).message}`,
            { cause: err },
          ),
        );
      }
    }
  }

  async consume(options: ConsumeOptions): Promise<Consumer> {
    const consumer = new AmqpConsumer(
      {
        connection: this.connection,
        declare: async (channel, queues) => {
          for (const q of queues) await applyDeclarations(channel, this.taskQueueDeclarations(q));
        },
        ...(this.options.maxDepth !== undefined ? { maxDepth: this.options.maxDepth } : {}),
        // celery/worker/consumer/tasks.py `Tasks.qos_global`: quorum queues in the app -> per consumer.
        perConsumerQos: this.quorumQueuesDetected && (this.options.detectQuorumQueues ?? true),
      },
      options,
    );
    // Remember them too, so a reconnect re-declares them before consuming.
    for (const q of options.queues) {
      this.declared.remember(taskDeclarationKey(q), this.taskQueueDeclarations(q));
    }
    await consumer.start();
    this.consumers.add(consumer);
    if (this.quorumQueuesDetected) {
      await this.setUpNativeDelay(options.queues, (err) => options.onError?.(err));
    }
    return consumer;
  }

  /** Consumes queues declared by the caller (`declareRaw`), e.g. the RPC reply queue. */
  async consumeDeclared(options: ConsumeOptions): Promise<AmqpConsumer> {
    const deps = {
      connection: this.connection,
      declare: async () => {},
      ...(this.options.maxDepth !== undefined ? { maxDepth: this.options.maxDepth } : {}),
    };
    const consumer = new AmqpConsumer(deps, options);
    await consumer.start();
    this.consumers.add(consumer);
    return consumer;
  }

  private async queueOp(run: (channel: Channel) => Promise<number>): Promise<number> {
    try {
      return await this.onAdmin(run);
    } catch (err) {
      // 404 NOT_FOUND: no such queue holds nothing (as Redis answers for a missing list).
      if (/\b404\b|NOT[-_]FOUND/.test((err as Error).message)) return 0;
      throw err;
    }
  }

  async purge(queue: string): Promise<number> {
    return this.queueOp(async (ch) => (await ch.purgeQueue(queue)).messageCount);
  }

  /** Ready messages (not counting delivered-but-unacked ones), as queue.declare-ok reports. */
  async size(queue: string): Promise<number> {
    return this.queueOp(async (ch) => (await ch.checkQueue(queue)).messageCount);
  }

  /** Deletes a queue (tests, `celery purge`-like tools). */
  async deleteQueue(queue: string): Promise<number> {
    return this.queueOp(async (ch) => (await ch.deleteQueue(queue)).messageCount);
  }

  events(): BrokerEvents {
    return amqpEvents(this);
  }

  mailbox(options: MailboxOptions): BrokerMailbox {
    return amqpMailbox(this, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) await consumer.close().catch(() => {});
    this.consumers.clear();
    await this.publisher.close();
    await this.connection.close();
  }
}
