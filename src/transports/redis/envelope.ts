import { randomUUID } from "node:crypto";
import { DecodeError } from "../../errors.js";
import { isRecord } from "../../protocol/guards.js";
import {
  BudgetExceededError,
  checkMessageSize,
  DEFAULT_WIRE_BUDGET,
  jsonDumps,
  jsonLoads,
  type WireBudget,
} from "../../serialization/index.js";
import type { OutgoingMessage } from "../transport.js";

/**
 * kombu's Redis message envelope: one JSON object per list entry or PUBLISH
 * payload (docs/wire.md gives its fields). Built as
 * kombu/transport/virtual/base.py `Channel.prepare_message` and
 * `_inplace_augment_message` build it; read as `virtual.Message.__init__` does.
 *
 * Key order follows kombu: body, content-encoding, content-type, headers,
 * properties; inside properties the producer's own (correlation_id, reply_to,
 * delivery_mode, expiration, ...) then delivery_info, priority, body_encoding,
 * delivery_tag. Python's json module puts spaces after `,`/`:`; we do not,
 * which no JSON reader can tell apart.
 *
 * Reading is the one Redis envelope codec: the consumer, the QoS restore, the
 * event receiver and the mailbox all parse with kombu's JSON (kombu/transport/
 * redis.py `Channel._get` and `QoS.restore_by_tag` call kombu.utils.json
 * `loads`), so `NaN`, `Infinity` (which kombu writes) and ints above 2^53 are
 * kept, and every read is inside the wire-input budget (size, then nesting).
 */

export type BodyEncoding = "base64" | "utf-8";

export interface EnvelopeOptions {
  /** kombu `Channel.body_encoding` (transport option `body_encoding`), default base64. */
  bodyEncoding?: BodyEncoding;
  /** Defaults to a fresh uuid4 (kombu `_next_delivery_tag`). */
  deliveryTag?: string;
}

/** Properties kombu writes itself; a producer's own values for these are replaced. */
export const TRANSPORT_PROPERTIES: ReadonlySet<string> = new Set([
  "delivery_info",
  "priority",
  "body_encoding",
  "delivery_tag",
]);

export function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * The priority written into `properties.priority` (kombu/transport/virtual/base.py
 * `Channel.prepare_message`, 5.7.0: `priority or default_priority`, 0), and the one a decoded
 * envelope reports: the number as given, 0 when absent or not a finite number.
 */
export function storedPriority(properties: Record<string, unknown>): number {
  const p = properties.priority;
  return typeof p === "number" && Number.isFinite(p) ? p : 0;
}

/**
 * kombu/transport/virtual/base.py `Channel._get_message_priority` (5.7.0), which picks the
 * priority list a message is pushed to (`_put`) and restored to (`_do_restore_message`): `int(properties.priority)` clamped to 0-9, 0
 * when absent or not a number (TypeError/ValueError/KeyError); Python's `int()` takes ints,
 * floats (truncated), bools and decimal-integer strings. An infinite priority raises
 * OverflowError in Python, which makes kombu drop the message: thrown here too.
 */
export function messagePriority(envelope: unknown): number {
  const props = (envelope as { properties?: { priority?: unknown } } | null)?.properties;
  const raw = typeof props === "object" && props !== null ? props.priority : undefined;
  let n: number;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "bigint") n = raw > 9n ? 9 : raw < 0n ? 0 : Number(raw);
  else if (typeof raw === "boolean") n = raw ? 1 : 0;
  else if (typeof raw === "string" && /^\s*[+-]?\d+(?:_\d+)*\s*$/.test(raw))
    n = Number(raw.replaceAll("_", ""));
  else return 0;
  return priorityLevel(n);
}

/** `int(priority)` clamped to 0-9 (see {@link messagePriority}) of a number. */
export function priorityLevel(n: number): number {
  if (Number.isNaN(n)) return 0;
  if (!Number.isFinite(n)) throw new Error(`cannot convert float ${n} to integer`);
  return Math.max(0, Math.min(9, Math.trunc(n)));
}

/** Builds the envelope object for a message published to `exchange` with `routingKey`. */
export function buildEnvelope(
  message: OutgoingMessage,
  options: EnvelopeOptions = {},
): Record<string, unknown> {
  const bodyEncoding = options.bodyEncoding ?? "base64";
  const body = toBuffer(message.body);
  const properties: Record<string, unknown> = {};
  const own = message.properties;
  for (const key of Object.keys(own)) {
    const value = own[key];
    if (value !== undefined && !TRANSPORT_PROPERTIES.has(key)) properties[key] = value;
  }
  properties.delivery_info = { exchange: message.exchange, routing_key: message.routingKey };
  properties.priority = storedPriority(message.properties);
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
  deliveryInfo: Record<string, unknown>;
  exchange: string;
  routingKey: string;
  priority: number;
  redelivered: boolean;
  /** `properties.delivery_tag` as a string; null when the envelope has none. */
  deliveryTag: string | null;
  /** The parsed envelope object. */
  raw: Record<string, unknown>;
}

export interface EnvelopeReadOptions {
  /** The wire-input budget (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
  /** What the text is, for error messages ("Redis message", "event", ...). */
  what?: string;
}

/**
 * kombu `loads(text)` of something read from Redis, inside the budget: the text's size
 * (`maxMessageSize`, counted in UTF-8 bytes for a Buffer, UTF-16 units for a string), then its
 * nesting (`maxDepth`), then the parse. Every failure is a DecodeError.
 * `typeMarkers: false` keeps kombu's `{"__type__": ...}` objects as they are, for text that is
 * only re-encoded (a restore), never used.
 */
export function readKombuJson(
  payload: string | Buffer,
  options: EnvelopeReadOptions & { typeMarkers?: boolean } = {},
): unknown {
  const budget = options.budget ?? DEFAULT_WIRE_BUDGET;
  const what = options.what ?? "Redis message";
  checkMessageSize(payload.length, budget, what);
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  try {
    return jsonLoads(text, { maxDepth: budget.maxDepth, typeMarkers: options.typeMarkers ?? true });
  } catch (cause) {
    if (cause instanceof BudgetExceededError) throw cause;
    throw new DecodeError(`${what} is not JSON: ${(cause as Error).message}`, { cause });
  }
}

/**
 * kombu virtual `Message.__init__`: base64-decode only when `body_encoding` is set and not
 * utf-8; a missing body is empty; a non-string body (already-decoded JSON) is passed on as its
 * kombu JSON text.
 */
export function envelopeBody(bodyField: unknown, bodyEncoding: unknown): Buffer {
  if (typeof bodyField === "string") {
    return typeof bodyEncoding === "string" && bodyEncoding !== "" && bodyEncoding !== "utf-8"
      ? Buffer.from(bodyField, "base64")
      : Buffer.from(bodyField, "utf8");
  }
  if (bodyField === null || bodyField === undefined) return Buffer.alloc(0);
  try {
    return Buffer.from(jsonDumps(bodyField), "utf8");
  } catch (cause) {
    throw new DecodeError(`envelope body cannot be re-encoded: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Parses a list entry or PUBLISH payload; throws {@link DecodeError} for anything that is not a
 * kombu envelope (not JSON, not an object, over the budget, a body that cannot be read).
 */
export function decodeEnvelope(payload: string | Buffer, options: EnvelopeReadOptions = {}): DecodedEnvelope {
  const raw = readKombuJson(payload, options);
  if (!isRecord(raw))
    throw new DecodeError(`${options.what ?? "Redis message"} envelope is not a JSON object`);
  const properties = isRecord(raw.properties) ? raw.properties : {};
  const headers = isRecord(raw.headers) ? raw.headers : {};
  const tag = properties.delivery_tag;
  const info = isRecord(properties.delivery_info) ? properties.delivery_info : {};
  return {
    body: envelopeBody(raw.body, properties.body_encoding),
    contentType: typeof raw["content-type"] === "string" ? raw["content-type"] : "application/data",
    contentEncoding: typeof raw["content-encoding"] === "string" ? raw["content-encoding"] : "binary",
    headers,
    properties,
    deliveryInfo: info,
    exchange: typeof info.exchange === "string" ? info.exchange : "",
    routingKey: typeof info.routing_key === "string" ? info.routing_key : "",
    priority: storedPriority(properties),
    redelivered: info.redelivered === true || headers.redelivered === true,
    deliveryTag: typeof tag === "string" || typeof tag === "number" ? String(tag) : null,
    raw,
  };
}

/** An `unacked` hash entry as kombu's `QoS.append` writes it: `[envelope, exchange, routing_key]`. */
export interface UnackedEntry {
  envelope: unknown;
  exchange: unknown;
  routingKey: unknown;
}

/**
 * kombu `QoS.restore_by_tag`'s `M, EX, RK = loads(p)`: throws DecodeError when the entry is not
 * JSON or not a 3-item list (kombu's transaction then aborts and the entry stays). Markers are
 * kept as plain objects: the envelope is only re-encoded, by {@link encodeRestoredEnvelope}.
 */
export function decodeUnackedEntry(stored: string | Buffer, budget?: WireBudget): UnackedEntry {
  const parsed = readKombuJson(stored, {
    ...(budget ? { budget } : {}),
    what: "unacked entry",
    typeMarkers: false,
  });
  if (!Array.isArray(parsed) || parsed.length !== 3) {
    throw new DecodeError("unacked entry is not a [envelope, exchange, routing_key] list");
  }
  const [envelope, exchange, routingKey] = parsed as [unknown, unknown, unknown];
  return { envelope, exchange, routingKey };
}

/**
 * kombu `Channel._do_restore_message`: mark the envelope redelivered (in `headers` and in
 * `properties.delivery_info`, when both exist) and `dumps` it again with kombu's JSON.
 * Throws (kombu logs "Could not restore message" and drops it) when it is not an object.
 */
export function encodeRestoredEnvelope(envelope: unknown): string {
  // payload['headers']['redelivered'] = True, then the same in properties.delivery_info; a
  // missing key (KeyError) ends the marking quietly, a value of the wrong type (TypeError) is fatal.
  const notObject = (what: string) => new DecodeError(`restored message: ${what} is not an object`);
  if (!isRecord(envelope)) throw notObject("the envelope");
  if (Object.hasOwn(envelope, "headers")) {
    if (!isRecord(envelope.headers)) throw notObject("headers");
    envelope.headers.redelivered = true;
    const properties = envelope.properties;
    if (Object.hasOwn(envelope, "properties")) {
      if (!isRecord(properties)) throw notObject("properties");
      if (Object.hasOwn(properties, "delivery_info")) {
        if (!isRecord(properties.delivery_info)) throw notObject("properties.delivery_info");
        properties.delivery_info.redelivered = true;
      }
    }
  }
  return jsonDumps(envelope, { typeMarkers: false });
}
