import { randomUUID } from "node:crypto";
import type { WireBudget } from "../serialization/index.js";
import { eventReceiverDeclarations } from "../transports/amqp/topology.js";
import type { AmqpTransport } from "../transports/amqp/transport.js";
import type { Delivery } from "../transports/transport.js";
import { decodeEventBody } from "./json.js";
import type { EventProcessor } from "./receiver.js";
import type { RunningReceiver } from "./redis-receiver.js";

export interface AmqpEventReceiverOptions {
  transport: Pick<AmqpTransport, "declareRaw" | "consumeDeclared" | "forget">;
  processor: EventProcessor;
  /** `event_exchange` (celeryev). */
  exchange?: string;
  /** `event_queue_prefix` (celeryev). */
  queuePrefix?: string;
  /** `event_queue_expires` seconds (60). */
  queueExpires?: number;
  /** `event_queue_ttl` seconds (5). */
  queueTtl?: number;
  /** `event_queue_exclusive`: true from Celery 5.7, false before. */
  exclusive?: boolean;
  /** Called once consuming (Celery's receiver broadcasts `heartbeat` to wake workers). */
  onReady?(): void | Promise<void>;
  onError?(err: unknown): void;
  /** The wire-input budget each event is read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
}

/**
 * An event consumer on RabbitMQ, as celery/events/receiver.py
 * `EventReceiver` on py-amqp: queue `celeryev.<uuid>` (auto-delete,
 * `x-message-ttl`, `x-expires`, exclusive on 5.7) bound with `#` to the
 * `celeryev` topic exchange, consumed on a channel of this connection (an
 * exclusive queue belongs to the connection that declared it); each body is
 * one event or a `task.multi` list (`EventReceiver._receive`).
 */
export async function startAmqpEventReceiver(options: AmqpEventReceiverOptions): Promise<RunningReceiver> {
  const onError = options.onError ?? (() => {});
  const declarations = eventReceiverDeclarations(randomUUID(), {
    ...(options.exchange !== undefined ? { exchange: options.exchange } : {}),
    ...(options.queuePrefix !== undefined ? { prefix: options.queuePrefix } : {}),
    ...(options.queueExpires !== undefined ? { expires: options.queueExpires } : {}),
    ...(options.queueTtl !== undefined ? { ttl: options.queueTtl } : {}),
    ...(options.exclusive !== undefined ? { exclusive: options.exclusive } : {}),
  });
  const queue = declarations.queues[0];
  const binding = declarations.bindings[0];
  if (!queue || !binding) throw new Error("eventReceiverDeclarations returned no queue");
  const key = `events-receiver\u0000${queue.name}`;
  const onMessage = (delivery: Delivery) => {
    // Celery's receiver consumes with no_ack: settle first, whatever the body holds.
    void delivery.ack();
    let body: unknown;
    try {
      body = decodeEventBody(delivery.body, delivery.contentType, delivery.contentEncoding, options.budget);
    } catch (err) {
      onError(err);
      return;
    }
    try {
      options.processor.receive(body);
    } catch (err) {
      onError(err);
    }
  };
  await options.transport.declareRaw(key, declarations);
  const consumer = await options.transport.consumeDeclared({
    queues: [
      {
        name: queue.name,
        exchange: binding.exchange,
        exchangeType: "topic",
        routingKey: binding.routingKey,
        durable: queue.durable,
        exclusive: queue.exclusive,
        autoDelete: queue.autoDelete,
        arguments: queue.arguments,
      },
    ],
    prefetch: 0,
    onMessage,
    onError: (err) => onError(err),
  });
  await options.onReady?.();
  return {
    queue: queue.name,
    async close() {
      // Auto-delete: RabbitMQ drops the queue once its consumer is cancelled.
      options.transport.forget(key);
      await consumer.close().catch(onError);
    },
  };
}
