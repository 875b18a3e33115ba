import { randomUUID } from "node:crypto";
import type { WireBudget } from "../../serialization/index.js";
import type { Delivery } from "../transport.js";
import { type DecodedEnvelope, decodeEnvelope } from "./envelope.js";

/**
 * A message the Redis consumer took, as the worker sees it: the kombu envelope decoded
 * (kombu/transport/redis.py `Channel._get` + `Message`, 5.7.0) and its ack/reject bound to the
 * ack emulation.
 */

/** A message popped off a Redis list, with its raw envelope for diagnostics. */
export interface RedisDelivery extends Delivery {
  readonly rawEnvelope: string;
}

/** What the consumer keeps of a taken message before it hands it over. */
export interface ParsedMessage {
  raw: string;
  envelope: DecodedEnvelope;
  properties: Record<string, unknown>;
  deliveryInfo: Record<string, unknown>;
  tag: string;
  exchange: string;
  routingKey: string;
}

/**
 * The one Redis envelope codec (envelope.ts), within the budget; null for a bad one, after
 * `onError` was told (kombu's loads() would raise and the message is gone; we log it loudly,
 * with a prefix of what we saw).
 */
export function parseTaken(
  base: string,
  raw: string,
  budget: WireBudget | undefined,
  onError: (err: Error) => void,
): ParsedMessage | null {
  let envelope: DecodedEnvelope;
  try {
    envelope = decodeEnvelope(raw, {
      what: `message from ${JSON.stringify(base)}`,
      ...(budget !== undefined ? { budget } : {}),
    });
  } catch (err) {
    onError(
      asError(
        err,
        `discarded a message from ${JSON.stringify(base)} that is not a usable envelope: ${JSON.stringify(raw.slice(0, 200))}`,
      ),
    );
    return null;
  }
  return {
    raw,
    envelope,
    properties: envelope.properties,
    deliveryInfo: envelope.deliveryInfo,
    tag: envelope.deliveryTag ?? randomUUID(),
    exchange: envelope.exchange,
    routingKey: typeof envelope.deliveryInfo.routing_key === "string" ? envelope.routingKey : base,
  };
}

/** The delivery of `one`, taken from queue `base`; `settle` runs its ack or reject once. */
export function redisDelivery(
  base: string,
  one: ParsedMessage,
  settle: (action: () => Promise<void>) => Promise<void>,
  qos: { ack(tag: string): Promise<void>; reject(tag: string, requeue: boolean): Promise<void> },
): RedisDelivery {
  const { raw, envelope, properties, deliveryInfo, tag, exchange, routingKey } = one;
  return {
    rawEnvelope: raw,
    body: envelope.body,
    contentType: typeof envelope.raw["content-type"] === "string" ? envelope.contentType : "",
    contentEncoding: typeof envelope.raw["content-encoding"] === "string" ? envelope.contentEncoding : "",
    headers: envelope.headers,
    properties,
    deliveryInfo: {
      exchange,
      routingKey,
      priority: typeof properties.priority === "number" ? properties.priority : 0,
      redelivered: deliveryInfo.redelivered === true,
      deliveryTag: tag,
      queue: base,
    },
    ack: () => settle(() => qos.ack(tag)),
    reject: (requeue: boolean) => settle(() => qos.reject(tag, requeue)),
  };
}

export function asError(err: unknown, context: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${context}: ${message}`, { cause: err });
}
