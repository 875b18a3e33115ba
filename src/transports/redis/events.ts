import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { eventMessage } from "../event-message.js";
import type { BrokerEvents, EventStream, EventStreamOptions } from "../transport.js";
import { bindExpiring, type ExpiringBinding, keepBinding, unbind } from "./binding.js";
import { ensureConnecting } from "./connection.js";
import { type BodyEncoding, buildEnvelope, decodeEnvelope } from "./envelope.js";
import type { RedisKeys } from "./keys.js";

/** What the Redis events need of the transport. */
export interface RedisEventsHost {
  readonly client: Redis;
  readonly keys: RedisKeys;
  newClient(name: string): Redis;
}

/** Events on Redis: {@link publishRedisEvent} out, {@link startRedisEventReceiver} in. */
export function redisEvents(host: RedisEventsHost, bodyEncoding: BodyEncoding): BrokerEvents {
  return {
    publish: (exchange, routingKey, body, headers) =>
      publishRedisEvent(host, { exchange, routingKey, body, headers, bodyEncoding }),
    async listen(options) {
      const subscriber = host.newClient("celeriac-events");
      try {
        const running = await startRedisEventReceiver({
          ...options,
          subscriber,
          client: host.client,
          keys: host.keys,
        });
        return {
          queue: running.queue,
          async close() {
            await running.close();
            subscriber.disconnect();
          },
        };
      } catch (err) {
        subscriber.disconnect();
        throw err;
      }
    },
  };
}

/**
 * Events on Redis: `PUBLISH /<db>.celeryev/<routing.key> <envelope>`, the
 * kombu envelope with headers `{hostname}` and `delivery_mode: 1`
 * (celery/events/dispatcher.py `_publish` on the `celeryev` exchange, which
 * `get_exchange` makes fanout on Redis; kombu/transport/redis.py `_put_fanout`).
 * Captured from Celery 5.7: properties are exactly `delivery_mode,
 * delivery_info, priority, body_encoding, delivery_tag`.
 */
export async function publishRedisEvent(
  host: Pick<RedisEventsHost, "client" | "keys">,
  event: {
    exchange: string;
    routingKey: string;
    body: Uint8Array;
    headers: { hostname: string };
    bodyEncoding: BodyEncoding;
  },
): Promise<void> {
  const envelope = buildEnvelope(eventMessage(event), { bodyEncoding: event.bodyEncoding });
  ensureConnecting(host.client);
  await host.client.publish(
    host.keys.fanoutPublishChannel(event.exchange, event.routingKey),
    JSON.stringify(envelope),
  );
}

export interface RedisEventReceiverOptions
  extends Pick<
    EventStreamOptions,
    "exchange" | "queuePrefix" | "queueExpires" | "bindingDeadlines" | "onMessage" | "onReady" | "onError"
  > {
  /** A connection of its own: it goes into subscriber mode. */
  subscriber: Redis;
  /** The command connection (binding table writes). */
  client: Redis;
  keys: RedisKeys;
  /** The wire-input budget each envelope is read within (default DEFAULT_WIRE_BUDGET). */
  budget?: EventStreamOptions["budget"];
}

/**
 * An event consumer on Redis, as Celery's `EventReceiver` on kombu's Redis
 * transport: queue `celeryev.<uuid>` bound with `#` to the `celeryev` fanout
 * (`_kombu.binding.celeryev`, with 5.7's deadline), then
 * `PSUBSCRIBE /<db>.celeryev/*`; each message is a kombu envelope whose
 * body (one event or a `task.multi` list) goes to `onMessage` undecoded.
 */
export async function startRedisEventReceiver(options: RedisEventReceiverOptions): Promise<EventStream> {
  const exchange = options.exchange;
  const queue = `${options.queuePrefix}.${randomUUID()}`;
  const onError = options.onError ?? (() => {});
  const binding: ExpiringBinding = { exchange, routingKey: "#", queue, expires: options.queueExpires };
  const pattern = options.keys.fanoutSubscribePattern(exchange, "#");
  const sub = options.subscriber;
  const onMessage = (_pattern: Buffer, _channel: Buffer, payload: Buffer) => {
    try {
      const budget = options.budget ? { budget: options.budget } : {};
      const envelope = decodeEnvelope(payload, { ...budget, what: "event message" });
      options.onMessage({
        body: envelope.body,
        contentType: envelope.contentType,
        contentEncoding: envelope.contentEncoding,
      });
    } catch (err) {
      onError(err);
    }
  };
  sub.on("pmessageBuffer", onMessage);
  await bindExpiring(options.client, options.keys, binding, options.bindingDeadlines);
  await sub.psubscribe(pattern);
  const stopKeeping = keepBinding(options.client, options.keys, binding, options.bindingDeadlines, onError);
  await options.onReady?.();
  return {
    queue,
    async close() {
      stopKeeping();
      sub.off("pmessageBuffer", onMessage);
      await sub.punsubscribe(pattern).catch(onError);
      await unbind(options.client, options.keys, binding).catch(onError);
    },
  };
}
