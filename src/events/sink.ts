import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import { amqpEventSink } from "./amqp-sink.js";
import type { EventSink } from "./dispatcher.js";
import { redisEventSink } from "./redis-sink.js";

/** The broker events go out on: kombu's Redis transport (its keys and command connection) or RabbitMQ. */
export type EventTransport = AmqpTransport | { readonly keys: RedisKeys; readonly client: Redis };

/**
 * Where an event dispatcher publishes on this broker (celery/events/dispatcher.py
 * `EventDispatcher.publish` on the `event_exchange`, 5.7.0): the one place that picks the
 * Redis or the AMQP event sink, for the app's dispatcher and the worker's.
 */
export function brokerEventSink(transport: EventTransport, settings: Settings): EventSink {
  if (transport instanceof AmqpTransport) {
    return amqpEventSink({ transport, exchange: settings.eventExchange });
  }
  return redisEventSink({
    client: transport.client,
    keys: transport.keys,
    exchange: settings.eventExchange,
    bodyEncoding: settings.brokerTransportOptions.bodyEncoding,
  });
}
