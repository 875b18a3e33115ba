import { eventExchange } from "../transports/amqp/topology.js";
import type { AmqpTransport } from "../transports/amqp/transport.js";
import type { EventSink } from "./dispatcher.js";
import type { EventBody } from "./event.js";
import { eventJson } from "./json.js";

export interface AmqpEventSinkOptions {
  transport: Pick<AmqpTransport, "declareRaw" | "publish">;
  /** Celery's `event_exchange` (`celeryev`). */
  exchange?: string;
}

/**
 * Events on RabbitMQ: a publish to the `celeryev` topic exchange (durable)
 * with the event's routing key (`worker.heartbeat`, `task.multi`, ...),
 * `delivery_mode: 1`, headers `{hostname}` and the JSON body. Mirrors
 * celery/events/dispatcher.py `EventDispatcher._publish` (its Producer has
 * `auto_declare`, so the exchange is declared before the first publish) and
 * celery/events/event.py `get_exchange` (topic on AMQP).
 */
export function amqpEventSink(options: AmqpEventSinkOptions): EventSink {
  const exchange = eventExchange(options.exchange ?? "celeryev");
  const declarations = { exchanges: [exchange], queues: [], bindings: [] };
  return {
    async publish(routingKey: string, body: EventBody | EventBody[], headers: { hostname: string }) {
      await options.transport.declareRaw(`events-exchange\u0000${exchange.name}`, declarations);
      await options.transport.publish({
        body: Buffer.from(eventJson(body), "utf8"),
        contentType: "application/json",
        contentEncoding: "utf-8",
        headers: { ...headers },
        properties: { delivery_mode: 1 },
        exchange: exchange.name,
        routingKey,
      });
    },
  };
}
