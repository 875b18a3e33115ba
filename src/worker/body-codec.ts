import type { CompatProfile } from "../compat.js";
import {
  AcceptPolicy,
  DEFAULT_WIRE_BUDGET,
  decodeMessageBody,
  serialize,
  type WireBudget,
} from "../serialization/index.js";
import type { Delivery } from "../transports/transport.js";

/**
 * Turns a delivery's body bytes into the decoded payload, as kombu's
 * `Message.decode()` does. Pluggable: the worker takes any `BodyDecoder`.
 */
export type BodyDecoder = (
  delivery: Pick<Delivery, "body" | "contentType" | "contentEncoding" | "headers">,
) => unknown;

/**
 * The full kombu codec set from `serialization/`, inside the wire-input
 * budget (`decodeMessageBody`): refuse content outside `accept` (pickle
 * always) before touching the bytes, decompress by the `compression` header
 * (any kombu alias, output capped), deserialize json (with kombu >= 5.3 type
 * markers), msgpack or yaml (nesting capped). Every failure is a DecodeError
 * (a BudgetExceededError for a limit), which the worker treats as Celery's
 * `on_decode_error` (logged, discarded), or a ContentDisallowedError.
 */
export function kombuBodyDecoder(
  accept: readonly string[],
  compat: CompatProfile,
  budget: WireBudget = DEFAULT_WIRE_BUDGET,
): BodyDecoder {
  const policy = AcceptPolicy.from(accept);
  return (delivery) =>
    decodeMessageBody(delivery.body, delivery.contentType, delivery.contentEncoding, policy, {
      compat,
      budget,
      compression: delivery.headers.compression,
      what: "task message body",
    });
}

/** Serializes a retry message body with the task serializer (kombu `dumps`). */
export function kombuBodyEncoder(
  serializer: string,
  compat: CompatProfile,
): (body: unknown[]) => { body: Uint8Array; contentType: string; contentEncoding: string } {
  return (body) => serialize(body, serializer, { compat, option: "taskSerializer" });
}

/**
 * Serializes a task's result with the result serializer, as the backend
 * will (celery/backends/base.py `Backend.encode`); throws EncodeError when it cannot.
 */
export function kombuResultEncoder(serializer: string, compat: CompatProfile): (value: unknown) => unknown {
  return (value) => serialize(value, serializer, { compat, option: "resultSerializer" });
}
