import type { Redis } from "ioredis";
import { ensureConnecting } from "../transports/redis/connection.js";
import { type BodyEncoding, buildEnvelope } from "../transports/redis/envelope.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import type { EventSink } from "./dispatcher.js";
import type { EventBody } from "./event.js";
import { eventJson } from "./json.js";

export interface RedisEventSinkOptions {
  client: Redis;
  keys: RedisKeys;
  /** Celery's `event_exchange` (`celeryev`). */
  exchange?: string;
  bodyEncoding?: BodyEncoding;
}

/**
 * Events on Redis: `PUBLISH /<db>.celeryev/<routing.key> <envelope>`, the
 * kombu envelope with headers `{hostname}` and `delivery_mode: 1`
 * (celery/events/dispatcher.py `_publish` on the `celeryev` exchange, which
 * `get_exchange` makes fanout on Redis; kombu/transport/redis.py `_put_fanout`).
 * Captured from Celery 5.7: properties are exactly `delivery_mode,
 * delivery_info, priority, body_encoding, delivery_tag`.
 */
export function redisEventSink(options: RedisEventSinkOptions): EventSink {
  const exchange = options.exchange ?? "celeryev";
  const bodyEncoding = options.bodyEncoding ?? "base64";
  return {
    async publish(routingKey: string, body: EventBody | EventBody[], headers: { hostname: string }) {
      const envelope = buildEnvelope(
        {
          body: Buffer.from(eventJson(body), "utf8"),
          contentType: "application/json",
          contentEncoding: "utf-8",
          headers: { ...headers },
          properties: { delivery_mode: 1 },
          exchange,
          routingKey,
        },
        { bodyEncoding },
      );
      ensureConnecting(options.client);
      await options.client.publish(
        options.keys.fanoutPublishChannel(exchange, routingKey),
        JSON.stringify(envelope),
      );
    },
  };
}
