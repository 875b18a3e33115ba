/**
 * The narrow broker interface the producer and the worker see (modelled on
 * kombu's virtual transport: put/get/ack/reject/purge/size plus capability
 * flags). One implementation per broker lives in its own folder
 * (`transports/redis/`, `transports/amqp/`).
 *
 * A message crosses this interface as an {@link OutgoingMessage} /
 * {@link Delivery}: serialized body bytes plus headers and properties, exactly
 * what kombu's `Message` carries. Envelope formats (kombu's Redis JSON
 * envelope, AMQP properties) are the transport's business.
 */
import type { WireBudget } from "../serialization/index.js";

/** What a producer hands to a transport: the serialized task (or event, or reply) plus routing. */
export interface OutgoingMessage {
  /** Serialized and, if `headers.compression` is set, compressed body. */
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
  headers: Record<string, unknown>;
  /** AMQP basic properties as kombu names them (`correlation_id`, `reply_to`, `delivery_mode`, `priority`, `expiration`, ...). */
  properties: Record<string, unknown>;
  /** Exchange name; `""` is the default (direct-to-queue) exchange. */
  exchange: string;
  routingKey: string;
}

/** Where a message came from, as kombu's `delivery_info`. */
export interface DeliveryInfo {
  exchange: string;
  routingKey: string;
  priority: number;
  redelivered: boolean;
  /** Opaque per-transport ack handle (kombu's `delivery_tag`). */
  deliveryTag: string;
  /** The queue it was consumed from. */
  queue: string;
}

/** A message received from a queue; the consumer must settle it exactly once. */
export interface Delivery {
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  deliveryInfo: DeliveryInfo;
  ack(): Promise<void>;
  /** Reject; with `requeue` the message goes back to its queue (kombu `reject(requeue=True)`). */
  reject(requeue: boolean): Promise<void>;
}

/** A queue as kombu's `Queue` describes it (enough for Redis bindings and AMQP declarations). */
export interface QueueSpec {
  name: string;
  exchange: string;
  exchangeType: "direct" | "topic" | "fanout";
  routingKey: string;
  durable?: boolean;
  autoDelete?: boolean;
  exclusive?: boolean;
  /** x-arguments (`x-max-priority`, `x-expires`, `x-message-ttl`, `x-queue-type`, ...). */
  arguments?: Record<string, unknown>;
}

/**
 * A task message with an ETA on its way out, as celery/app/base.py `Celery.send_task` (5.7.0)
 * weighs it for native delay.
 */
export interface EtaMessage {
  /** The queue the message is routed to. */
  queue: QueueSpec;
  /** `countdown` as the caller gave it (seconds), if any. */
  countdown: number | undefined;
  /** The caller gave an `eta` (rather than a countdown). */
  etaGiven: boolean;
  /** The message's `eta` header (ISO 8601). */
  eta: string;
  /** Now, in ms since the epoch. */
  now: number;
}

/** Where a message the broker holds until its ETA is published, instead of its queue's exchange and routing key. */
export interface DelayedRoute {
  exchange: string;
  routingKey: string;
}

/**
 * Native delay: where a message with an ETA goes so the broker holds it until it is due
 * (RabbitMQ's delay levels when the app has a quorum queue). Null: it is published to its
 * queue's route at once and the worker holds it until its ETA. Throws a ConfigError naming
 * `countdown` for a delay longer than the broker can hold.
 */
export type NativeDelay = (message: EtaMessage) => DelayedRoute | null;

export interface TransportCapabilities {
  /** Priorities honoured; `"lower-first"` on Redis (bucket 0 wins), `"higher-first"` on RabbitMQ. */
  priority: "lower-first" | "higher-first";
  /** Fanout exchanges (Redis PUB/SUB, AMQP fanout). */
  fanout: boolean;
  /** Broker-side per-message TTL from `expiration` (AMQP only). */
  messageTtl: boolean;
}

export interface ConsumeOptions {
  queues: QueueSpec[];
  /** Most messages delivered but not yet settled (`concurrency × prefetchMultiplier`). */
  prefetch: number;
  onMessage(delivery: Delivery): void;
  /** Called when the transport hits an error it recovered from (logged by the caller). */
  onError?(err: Error): void;
  /**
   * Called once when the broker is gone for good (the `broker_connection_*`
   * retries ran out); the consumer has stopped. Celery's worker exits with
   * status 1 here. Without it the consumer keeps retrying at the longest delay.
   */
  onFatal?(err: Error): void;
  /**
   * Called once the broker connection is back after a loss (the consumer consumes again;
   * kombu's `Connection.ensure_connection` returning after `on_connection_error` calls).
   */
  onReconnected?(): void;
}

export interface Consumer {
  /** Stop taking new messages; already delivered ones stay the caller's to settle. */
  cancel(): Promise<void>;
  /** Grow or shrink prefetch at run time (ETA tasks raise it as kombu's QoS does). */
  setPrefetch(prefetch: number): void;
}

/** One message off Celery's event exchange, before the JSON decode (which is the events layer's). */
export interface RawEvent {
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
}

/** Where a receiver listens: Celery's `event_*` settings as celery/events/receiver.py `EventReceiver` reads them. */
export interface EventStreamOptions {
  /** `event_exchange` (celeryev). */
  exchange: string;
  /** `event_queue_prefix` (celeryev). */
  queuePrefix: string;
  /** `event_queue_expires` seconds. */
  queueExpires: number;
  /** `event_queue_ttl` seconds (AMQP `x-message-ttl`). */
  queueTtl: number;
  /** `event_queue_exclusive` (AMQP): true from Celery 5.7. */
  exclusive: boolean;
  /** kombu 5.7 binding deadlines (Redis). */
  bindingDeadlines: boolean;
  /** The wire-input budget each message is read within. */
  budget: WireBudget;
  onMessage(event: RawEvent): void;
  /** Called once listening (Celery's receiver broadcasts `heartbeat` to wake workers). */
  onReady?(): void | Promise<void>;
  onError?(err: unknown): void;
}

export interface EventStream {
  /** The receiver's own queue (`celeryev.<uuid>`). */
  readonly queue: string;
  close(): Promise<void>;
}

/** Events as this broker carries them (celery/events/dispatcher.py `EventDispatcher`, receiver.py `EventReceiver`). */
export interface BrokerEvents {
  /** Publishes one serialized (JSON) event body on `exchange` with its routing key (`worker.heartbeat`, `task.multi`). */
  publish(
    exchange: string,
    routingKey: string,
    body: Uint8Array,
    headers: { hostname: string },
  ): Promise<void>;
  /** Starts a receiver bound with `#` to the event exchange. */
  listen(options: EventStreamOptions): Promise<EventStream>;
}

/** One pidbox message off the broker, before the JSON decode (which is the control layer's). */
export interface MailboxMessage {
  body: Uint8Array;
  contentType: string;
  contentEncoding: string;
  headers: Record<string, unknown>;
}

/** Where the pidbox lives: Celery's `control_*` settings as kombu/pidbox.py `Mailbox` takes them. */
export interface MailboxOptions {
  /** `control_exchange` (celery): the `<ns>.pidbox` fanout and the `reply.<ns>.pidbox` direct exchange. */
  namespace: string;
  /** `control_queue_exclusive` (AMQP): true from Celery 5.7 (kombu `Mailbox(queue_exclusive=True)`). */
  exclusive: boolean;
  /** kombu 5.7 binding deadlines for the expiring pidbox queues (Redis). */
  bindingDeadlines: boolean;
  /** The wire-input budget each message is read within. */
  budget: WireBudget;
}

/** A node listening on its mailbox queue (`Mailbox.Node.listen`). */
export interface MailboxListener {
  close(): Promise<void>;
}

/** A client's reply queue `<oid>.reply.<ns>.pidbox` (kombu `Mailbox.reply_queue`). */
export interface ReplyInbox {
  /** The `reply_to` a request carries to get its replies here (`{exchange, routing_key: oid}`). */
  readonly replyTo: { exchange: string; routingKey: string };
  /** Before publishing a request that wants replies: the reply queue exists and is bound. */
  open(): Promise<void>;
  /** The next message in the reply queue, or null when `timeoutSeconds` pass with none. */
  next(timeoutSeconds: number): Promise<MailboxMessage | null>;
  /** The broadcast is over: replies arriving from now on are dropped (kombu `after_reply_message_received`). */
  done(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Celery's control mailbox as this broker carries it (kombu/pidbox.py `Mailbox`, 5.7.0), at the
 * byte level: requests to the `<ns>.pidbox` fanout, each node on `<hostname>.<ns>.pidbox`,
 * replies through the `reply.<ns>.pidbox` direct exchange. What a request or reply means
 * (tickets, clocks, destinations) is the control layer's.
 */
export interface BrokerMailbox {
  /** Publishes a request (JSON body) to the fanout, `delivery_mode` 2 (kombu `Mailbox._publish`). */
  broadcast(body: Uint8Array, headers: Record<string, unknown>): Promise<void>;
  /**
   * Publishes a reply (JSON body) to a request's `reply_to`, `delivery_mode` 1
   * (`Mailbox._publish_reply`); dropped when no queue is bound for it, as kombu's is.
   */
  reply(
    to: { exchange: string; routingKey: string },
    body: Uint8Array,
    headers: Record<string, unknown>,
  ): Promise<void>;
  /**
   * Joins as node `hostname` (kombu `Node.listen`): its queue bound to the fanout, every request
   * handed to `onMessage` in arrival order; a message that is no readable envelope goes to `onError`.
   */
  listen(
    hostname: string,
    handlers: { onMessage(message: MailboxMessage): void; onError(err: unknown): void },
  ): Promise<MailboxListener>;
  /** The reply queue of client `oid` (opened by {@link ReplyInbox.open}). */
  replies(oid: string): ReplyInbox;
}

export interface Transport {
  /** kombu's `Transport.driver_type` ("redis", "amqp"): what `inspect stats` reports as the broker. */
  readonly driverType: string;
  readonly capabilities: TransportCapabilities;
  /** Declare queues/exchanges/bindings as Celery does, argument for argument. */
  declare(queues: QueueSpec[]): Promise<void>;
  /** Publishes one message; `declare` are the queues to make sure of first (kombu `Producer.publish(declare=...)`). */
  publish(message: OutgoingMessage, declare?: readonly QueueSpec[]): Promise<void>;
  consume(options: ConsumeOptions): Promise<Consumer>;
  purge(queue: string): Promise<number>;
  size(queue: string): Promise<number>;
  /** The event sink and stream on this broker; a transport without events (a test double) leaves it out. */
  events?(): BrokerEvents;
  /**
   * Fails fast when the broker cannot be reached (a round trip with the connection's bounded
   * retries; a ConnectionLostError naming the broker, credentials masked). Left out by a broker
   * whose connection already fails fast on first use (RabbitMQ).
   */
  ping?(): Promise<void>;
  /** The pidbox mailbox on this broker (remote control, mingle); a transport without one leaves it out. */
  mailbox?(options: MailboxOptions): BrokerMailbox;
  /**
   * Native delay on this broker (RabbitMQ); a broker that cannot hold a message until its ETA
   * (Redis) leaves it out, and its worker holds ETA tasks.
   */
  readonly nativeDelay?: NativeDelay;
  close(): Promise<void>;
}
