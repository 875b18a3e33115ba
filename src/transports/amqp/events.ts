import { randomUUID } from "node:crypto";
import { eventMessage } from "../event-message.js";
import type {
  BrokerEvents,
  ConsumeOptions,
  Delivery,
  EventStream,
  EventStreamOptions,
  OutgoingMessage,
} from "../transport.js";
import { type Declarations, eventExchange, eventReceiverDeclarations } from "./topology.js";

/** What the AMQP events need of `AmqpTransport` (named here, not imported, so the two files do not import each other). */
export interface AmqpEventsHost {
  declareRaw(key: string, declarations: Declarations): Promise<void>;
  publish(message: OutgoingMessage): Promise<void>;
  consumeDeclared(options: ConsumeOptions): Promise<{ close(): Promise<void> }>;
  forget(key: string): void;
}

/** Events on RabbitMQ: {@link publishAmqpEvent} out, {@link startAmqpEventReceiver} in. */
export function amqpEvents(transport: AmqpEventsHost): BrokerEvents {
  return {
    publish: (exchange, routingKey, body, headers) =>
      publishAmqpEvent(transport, { exchange, routingKey, body, headers }),
    listen: (options) => startAmqpEventReceiver({ ...options, transport }),
  };
}

/**
 * Events on RabbitMQ: a publish to the `celeryev` topic exchange (durable)
 * with the event's routing key (`worker.heartbeat`, `task.multi`, ...),
 * `delivery_mode: 1`, headers `{hostname}` and the JSON body. Mirrors
 * celery/events/dispatcher.py `EventDispatcher._publish` (its Producer has
 * `auto_declare`, so the exchange is declared before the first publish) and
 * celery/events/event.py `get_exchange` (topic on AMQP).
 */
export async function publishAmqpEvent(
  transport: Pick<AmqpEventsHost, "declareRaw" | "publish">,
  event: { exchange: string; routingKey: string; body: Uint8Array; headers: { hostname: string } },
): Promise<void> {
  const exchange = eventExchange(event.exchange);
  const declarations = { exchanges: [exchange], queues: [], bindings: [] };
  await transport.declareRaw(`events-exchange\u0000${exchange.name}`, declarations);
  await transport.publish(eventMessage({ ...event, exchange: exchange.name }));
}

export interface AmqpEventReceiverOptions
  extends Pick<
    EventStreamOptions,
    | "exchange"
    | "queuePrefix"
    | "queueExpires"
    | "queueTtl"
    | "exclusive"
    | "onMessage"
    | "onReady"
    | "onError"
  > {
  transport: Pick<AmqpEventsHost, "declareRaw" | "consumeDeclared" | "forget">;
}

/**
 * An event consumer on RabbitMQ, as celery/events/receiver.py
 * `EventReceiver` on py-amqp: queue `celeryev.<uuid>` (auto-delete,
 * `x-message-ttl`, `x-expires`, exclusive on 5.7) bound with `#` to the
 * `celeryev` topic exchange, consumed on a channel of this connection (an
 * exclusive queue belongs to the connection that declared it); each body
 * (one event or a `task.multi` list, `EventReceiver._receive`) goes to `onMessage` undecoded.
 */
export async function startAmqpEventReceiver(options: AmqpEventReceiverOptions): Promise<EventStream> {
  const onError = options.onError ?? (() => {});
  const declarations = eventReceiverDeclarations(randomUUID(), {
    exchange: options.exchange,
    prefix: options.queuePrefix,
    expires: options.queueExpires,
    ttl: options.queueTtl,
    exclusive: options.exclusive,
  });
  const queue = declarations.queues[0];
  const binding = declarations.bindings[0];
  if (!queue || !binding) throw new Error("eventReceiverDeclarations returned no queue");
  const key = `events-receiver\u0000${queue.name}`;
  const onMessage = (delivery: Delivery) => {
    // Celery's receiver consumes with no_ack: settle first, whatever the body holds.
    void delivery.ack();
    try {
      options.onMessage({
        body: delivery.body,
        contentType: delivery.contentType,
        contentEncoding: delivery.contentEncoding,
      });
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
