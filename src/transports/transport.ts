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
  close(): Promise<void>;
}
