import { randomUUID } from "node:crypto";
import { DecodeError } from "../../errors.js";
import type { OutgoingMessage } from "../transport.js";

/**
 * kombu's Redis message envelope: one JSON object per list entry or PUBLISH
 * payload (shared/celery-wire-notes.md §4.1). Built as
 * kombu/transport/virtual/base.py `Channel.prepare_message` and
 * `_inplace_augment_message` build it; read as `virtual.Message.__init__` does.
 *
 * Key order follows kombu: body, content-encoding, content-type, headers,
 * properties; inside properties the producer's own (correlation_id, reply_to,
 * delivery_mode, expiration, ...) then delivery_info, priority, body_encoding,
 * delivery_tag. Python's json module puts spaces after `,`/`:`; we do not,
 * which no JSON reader can tell apart.
 */

export type BodyEncoding = "base64" | "utf-8";

export interface EnvelopeOptions {
  /** kombu `Channel.body_encoding` (transport option `body_encoding`), default base64. */
  bodyEncoding?: BodyEncoding;
  /** Defaults to a fresh uuid4 (kombu `_next_delivery_tag`). */
  deliveryTag?: string;
}

/** Properties kombu writes itself; a producer's own values for these are replaced. */
const TRANSPORT_PROPERTIES = new Set(["delivery_info", "priority", "body_encoding", "delivery_tag"]);

function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The priority kombu stores: `properties.priority or 0` (kombu `prepare_message` setdefault). */
export function messagePriority(properties: Record<string, unknown>): number {
  const p = properties.priority;
  return typeof p === "number" && Number.isFinite(p) ? p : 0;
}

/** Builds the envelope object for a message published to `exchange` with `routingKey`. */
export function buildEnvelope(
  message: OutgoingMessage,
  options: EnvelopeOptions = {},
): Record<string, unknown> {
  const bodyEncoding = options.bodyEncoding ?? "base64";
  const body = toBuffer(message.body);
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message.properties)) {
    if (!TRANSPORT_PROPERTIES.has(key) && value !== undefined) properties[key] = value;
  }
  properties.delivery_info = { exchange: message.exchange, routing_key: message.routingKey };
  properties.priority = messagePriority(message.properties);
  properties.body_encoding = bodyEncoding;
  properties.delivery_tag = options.deliveryTag ?? randomUUID();
  return {
    body: bodyEncoding === "base64" ? body.toString("base64") : body.toString("utf8"),
    "content-encoding": message.contentEncoding,
    "content-type": message.contentType,
    headers: message.headers,
    properties,
  };
}

/** The envelope as the string kombu LPUSHes. */
export function encodeEnvelope(message: OutgoingMessage, options: EnvelopeOptions = {}): string {
  return JSON.stringify(buildEnvelope(message, options));
}

/** A decoded envelope: what a consumer needs to build a `Delivery`. */
export interface DecodedEnvelope {
  body: Buffer;
  contentType: string;
  contentEncoding: string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  exchange: string;
  routingKey: string;
  priority: number;
  redelivered: boolean;
  deliveryTag: string;
  /** The parsed envelope object, kept so it can be stored in `unacked` and restored as received. */
  raw: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Parses a list entry; throws {@link DecodeError} on anything kombu's `Message` would not accept. */
export function decodeEnvelope(payload: string | Buffer): DecodedEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch (cause) {
    throw new DecodeError(`Redis message is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (!isRecord(raw)) throw new DecodeError("Redis message envelope is not a JSON object");
  const properties = isRecord(raw.properties) ? raw.properties : {};
  const headers = isRecord(raw.headers) ? raw.headers : {};
  const deliveryTag = properties.delivery_tag;
  if (typeof deliveryTag !== "string" && typeof deliveryTag !== "number") {
    // virtual.Message.__init__ reads properties['delivery_tag'] with [].
    throw new DecodeError("Redis message envelope has no properties.delivery_tag");
  }
  const bodyField = raw.body;
  let body: Buffer;
  const encoding = properties.body_encoding;
  if (typeof bodyField === "string") {
    // kombu decodes only when body_encoding is set and is not utf-8.
    body =
      encoding && encoding !== "utf-8" ? Buffer.from(bodyField, "base64") : Buffer.from(bodyField, "utf8");
  } else if (bodyField === null || bodyField === undefined) {
    body = Buffer.alloc(0);
  } else {
    // A non-string body (an already-decoded object): pass its JSON through.
    body = Buffer.from(JSON.stringify(bodyField), "utf8");
  }
  const info = isRecord(properties.delivery_info) ? properties.delivery_info : {};
  return {
    body,
    contentType: typeof raw["content-type"] === "string" ? raw["content-type"] : "application/data",
    contentEncoding: typeof raw["content-encoding"] === "string" ? raw["content-encoding"] : "binary",
    headers,
    properties,
    exchange: typeof info.exchange === "string" ? info.exchange : "",
    routingKey: typeof info.routing_key === "string" ? info.routing_key : "",
    priority: messagePriority(properties),
    redelivered: info.redelivered === true || headers.redelivered === true,
    deliveryTag: String(deliveryTag),
    raw,
  };
}
