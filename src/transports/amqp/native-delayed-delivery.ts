import { ConfigError } from "../../errors.js";
import type { QueueSpec } from "../transport.js";
import type { Declarations, ExchangeDeclaration } from "./topology.js";

/**
 * RabbitMQ native delayed delivery as Celery 5.5+ / kombu 5.5+ build it
 * (kombu/transport/native_delayed_delivery.py and
 * celery/worker/consumer/delayed_delivery.py, 5.7.0), argument for argument,
 * so a TS and a Python worker share one topology whichever declares first.
 *
 * 28 levels `celery_delayed_0..27`: level L is a topic exchange and a queue of
 * the same name whose messages live 2^L s (`x-message-ttl`) and are then
 * dead-lettered to level L-1 (level 0: to `celery_delayed_delivery`). A
 * delayed message's routing key is its delay in 28 binary digits, one word
 * each, then the real routing key (`0.0.….1.0.1.celery`): level L's queue is
 * bound with `1` in bit L's word, and a `0` there forwards the message
 * straight to level L-1's exchange (exchange-to-exchange binding). The
 * delivery exchange is bound to each task queue's (topic/fanout) exchange with
 * `#.<routing key>`, so after the last level the message reaches its queue.
 *
 * Pure: declarations only. The transport applies them.
 */

/** kombu `MAX_NUMBER_OF_BITS_TO_USE`: 28 levels, so the longest delay is 2^28 - 1 s (~8.5 years). */
export const NATIVE_DELAY_BITS = 28;
export const MAX_NATIVE_DELAY_SECONDS = 2 ** NATIVE_DELAY_BITS - 1;
/** kombu `CELERY_DELAYED_DELIVERY_EXCHANGE`. */
export const DELAYED_DELIVERY_EXCHANGE = "celery_delayed_delivery";

export type NativeDelayQueueType = "classic" | "quorum";

/**
 * celery/utils/quorum_queues.py `detect_quorum_queues`: any of the app's queues
 * (`app.amqp.queues`, not only those consumed) declared `x-queue-type: quorum`.
 * It turns on native delayed delivery for producers and workers, and
 * per-consumer QoS for workers (`worker_detect_quorum_queues`).
 */
export function detectQuorumQueues(appQueues: readonly QueueSpec[]): boolean {
  return appQueues.some((q) => q.arguments?.["x-queue-type"] === "quorum");
}

/** kombu `level_name` (no prefix: Celery 5.7's worker and `send_task` pass none). */
export function delayLevelName(level: number): string {
  if (!Number.isInteger(level) || level < 0) throw new RangeError("level must be a non-negative integer");
  return `celery_delayed_${level}`;
}

/** The exchange a delayed task is published to (`send_task`: `Exchange('celery_delayed_27', type='topic')`). */
export const DELAYED_PUBLISH_EXCHANGE = delayLevelName(NATIVE_DELAY_BITS - 1);

function topicExchange(name: string): ExchangeDeclaration {
  // kombu Exchange(name, type="topic"): durable, not auto-delete.
  return { name, type: "topic", durable: true, autoDelete: false };
}

/**
 * kombu `declare_native_delayed_delivery_exchanges_and_queues(connection, queue_type)`:
 * the 28 exchanges and queues (level 27 down to 0) with their queue bindings, the
 * exchange-to-exchange bindings for a `0` bit, then the delivery exchange bound to level 0.
 */
export function nativeDelayedDeliveryDeclarations(queueType: NativeDelayQueueType): Declarations {
  if (queueType !== "classic" && queueType !== "quorum") {
    throw new ConfigError(
      "brokerNativeDelayedDeliveryQueueType",
      `brokerNativeDelayedDeliveryQueueType must be "classic" or "quorum" (got ${JSON.stringify(queueType)})`,
    );
  }
  const out: Required<Declarations> = { exchanges: [], queues: [], bindings: [], exchangeBindings: [] };
  let routingKey = "1.#";
  for (let level = NATIVE_DELAY_BITS - 1; level >= 0; level--) {
    const name = delayLevelName(level);
    out.exchanges.push(topicExchange(name));
    const args: Record<string, unknown> = {
      "x-queue-type": queueType,
      "x-overflow": "reject-publish",
      "x-message-ttl": 2 ** level * 1000,
      "x-dead-letter-exchange": level > 0 ? delayLevelName(level - 1) : DELAYED_DELIVERY_EXCHANGE,
    };
    if (queueType === "quorum") args["x-dead-letter-strategy"] = "at-least-once";
    out.queues.push({ name, durable: true, exclusive: false, autoDelete: false, arguments: args });
    out.bindings.push({ queue: name, exchange: name, routingKey });
    routingKey = `*.${routingKey}`;
  }
  routingKey = "0.#";
  for (let level = NATIVE_DELAY_BITS - 1; level > 0; level--) {
    // Exchange(next_level).bind_to(current_level, rk): destination next level, source this one.
    out.exchangeBindings.push({
      destination: delayLevelName(level - 1),
      source: delayLevelName(level),
      routingKey,
    });
    routingKey = `*.${routingKey}`;
  }
  out.exchanges.push(topicExchange(DELAYED_DELIVERY_EXCHANGE));
  out.exchangeBindings.push({
    destination: DELAYED_DELIVERY_EXCHANGE,
    source: delayLevelName(0),
    routingKey,
  });
  return out;
}

/**
 * kombu `bind_queue_to_native_delayed_delivery_exchange(connection, queue)`: the
 * queue's exchange bound to the delivery exchange and the queue bound to its
 * exchange, both with `#.<routing key>` (or the key itself when it starts with
 * `#`). A direct exchange (or the default exchange `""`) cannot carry the
 * delay-prefixed key: null, as kombu logs a warning and skips it.
 */
export function delayedDeliveryBindings(queue: QueueSpec): Declarations | null {
  if (queue.exchangeType === "direct" || queue.exchange === "") return null;
  const routingKey = queue.routingKey.startsWith("#") ? queue.routingKey : `#.${queue.routingKey}`;
  return {
    exchanges: [],
    queues: [],
    bindings: [{ queue: queue.name, exchange: queue.exchange, routingKey }],
    exchangeBindings: [{ destination: queue.exchange, source: DELAYED_DELIVERY_EXCHANGE, routingKey }],
  };
}

const DELAY_PREFIX = new RegExp(`^(?:[01]\\.){${NATIVE_DELAY_BITS}}`);

/**
 * kombu `calculate_routing_key(countdown, routing_key)`: the whole seconds of
 * the delay as 28 binary digits joined by dots, then the routing key (a delay
 * prefix it already carries, from an earlier delayed retry, is removed first).
 * Throws where kombu raises ValueError, and past 2^28 - 1 s, where kombu would
 * build a longer key that no level binding matches.
 */
export function calculateRoutingKey(countdown: number, routingKey: string): string {
  if (!Number.isInteger(countdown) || countdown < 1) {
    throw new RangeError(`countdown must be a positive whole number of seconds (got ${countdown})`);
  }
  if (countdown > MAX_NATIVE_DELAY_SECONDS) {
    throw new RangeError(
      `countdown ${countdown} s is longer than native delayed delivery carries (${MAX_NATIVE_DELAY_SECONDS} s)`,
    );
  }
  if (!routingKey) throw new RangeError("routing_key must be non-empty");
  const bare = routingKey.replace(DELAY_PREFIX, "");
  return `${[...countdown.toString(2).padStart(NATIVE_DELAY_BITS, "0")].join(".")}.${bare}`;
}
