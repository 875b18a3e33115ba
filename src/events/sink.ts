import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import type { BrokerEvents } from "../transports/transport.js";
import type { EventSink } from "./dispatcher.js";
import type { EventBody } from "./event.js";
import { eventJson } from "./json.js";

/** A broker that may carry events (`Transport.events`; absent on a transport without them). */
export interface EventBroker {
  events?(): BrokerEvents;
}

/** The broker's events, or a ConfigError saying this broker has none. */
export function brokerEvents(transport: EventBroker): BrokerEvents {
  const events = transport.events?.();
  if (!events) throw new ConfigError("broker", "events need a redis:// or amqp:// broker transport");
  return events;
}

/**
 * Where an event dispatcher publishes on this broker (celery/events/dispatcher.py
 * `EventDispatcher.publish` on the `event_exchange`, 5.7.0), for the app's dispatcher and the
 * worker's: the body is kombu's JSON of the event (or the `task.multi` list); the transport wraps it
 * as its broker does.
 */
export function brokerEventSink(transport: EventBroker, settings: Settings): EventSink {
  const events = brokerEvents(transport);
  const exchange = settings.eventExchange;
  return {
    publish(routingKey: string, body: EventBody | EventBody[], headers: { hostname: string }) {
      return events.publish(exchange, routingKey, Buffer.from(eventJson(body), "utf8"), headers);
    },
  };
}
