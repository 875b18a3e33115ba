import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { WireBudget } from "../serialization/index.js";
import { decodeEnvelope } from "../transports/redis/envelope.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import { decodeEventBody } from "./json.js";
import type { EventProcessor } from "./receiver.js";
import { bindExpiring, type ExpiringBinding, keepBinding, unbind } from "./redis-binding.js";

export interface RedisEventReceiverOptions {
  /** A connection of its own: it goes into subscriber mode. */
  subscriber: Redis;
  /** The command connection (binding table writes). */
  client: Redis;
  keys: RedisKeys;
  processor: EventProcessor;
  /** `event_exchange` (celeryev). */
  exchange?: string;
  /** `event_queue_prefix` (celeryev). */
  queuePrefix?: string;
  /** `event_queue_expires` seconds (60). */
  queueExpires?: number;
  /** kombu 5.7 binding deadlines. */
  bindingDeadlines: boolean;
  /** Called once subscribed (Celery's receiver broadcasts `heartbeat` to wake workers). */
  onReady?(): void | Promise<void>;
  onError?(err: unknown): void;
  /** The wire-input budget each event is read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
}

export interface RunningReceiver {
  readonly queue: string;
  close(): Promise<void>;
}

/**
 * An event consumer on Redis, as Celery's `EventReceiver` on kombu's Redis
 * transport: queue `celeryev.<uuid>` bound with `#` to the `celeryev` fanout
 * (`_kombu.binding.celeryev`, with 5.7's deadline), then
 * `PSUBSCRIBE /<db>.celeryev/*`; each message is a kombu envelope whose
 * JSON body is one event or a `task.multi` list.
 */
export async function startRedisEventReceiver(options: RedisEventReceiverOptions): Promise<RunningReceiver> {
  const exchange = options.exchange ?? "celeryev";
  const queue = `${options.queuePrefix ?? "celeryev"}.${randomUUID()}`;
  const onError = options.onError ?? (() => {});
  const binding: ExpiringBinding = { exchange, routingKey: "#", queue, expires: options.queueExpires ?? 60 };
  const pattern = options.keys.fanoutSubscribePattern(exchange, "#");
  const sub = options.subscriber;
  const onMessage = (_pattern: Buffer, _channel: Buffer, payload: Buffer) => {
    let body: unknown;
    try {
      const budget = options.budget ? { budget: options.budget } : {};
      const envelope = decodeEnvelope(payload, { ...budget, what: "event message" });
      body = decodeEventBody(envelope.body, envelope.contentType, envelope.contentEncoding, options.budget);
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
