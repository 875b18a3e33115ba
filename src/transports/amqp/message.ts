import type { Message, Options } from "amqplib";
import type { OutgoingMessage } from "../transport.js";
import type { HeaderTables } from "./header-tables.js";

/**
 * kombu message <-> AMQP basic properties, as kombu/transport/pyamqp.py
 * `Channel.prepare_message` builds them and py-amqp's `Message` reads them
 * back (py-amqp amqp/basic_message.py `PROPERTIES`).
 *
 * - The body is the raw serialized bytes: no base64, no envelope.
 * - Celery's headers go in `application_headers`; amqplib writes `null` as
 *   void (`V`), which py-amqp reads back as None, and skips `undefined`.
 * - Only the 14 AMQP basic properties exist on the wire; any other key
 *   Celery puts in `properties` (a retried task's `origin`, say) is dropped
 *   by py-amqp too.
 */

/** kombu property name -> amqplib publish option name. */
const PROPERTY_TO_OPTION = {
  correlation_id: "correlationId",
  reply_to: "replyTo",
  delivery_mode: "deliveryMode",
  priority: "priority",
  expiration: "expiration",
  message_id: "messageId",
  timestamp: "timestamp",
  type: "type",
  user_id: "userId",
  app_id: "appId",
} as const satisfies Record<string, keyof Options.Publish>;

type PropertyName = keyof typeof PROPERTY_TO_OPTION;

/** amqplib message property name -> kombu name, for deliveries. */
const OPTION_TO_PROPERTY: Record<string, PropertyName> = Object.fromEntries(
  Object.entries(PROPERTY_TO_OPTION).map(([k, v]) => [v, k as PropertyName]),
);

/** Header values amqplib would misread: a plain object with a `!` key is its type trapdoor. */
function safeHeaderValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(safeHeaderValue);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value);
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = safeHeaderValue(v);
  // amqplib reads {"!": type, value} as a typed value; say "object" (a table) explicitly.
  if (Object.hasOwn(out, "!")) return { "!": "object", value: out };
  return out;
}

/**
 * True when amqplib writes `value` exactly as {@link safeHeaderValue}'s copy: only primitives,
 * arrays and plain objects (amqplib's encodeTable walks `for...in`, so a prototype's keys would
 * count), no `!` or `__proto__` key, no bytes or Date to convert. The usual Celery headers are
 * such a table, and are then handed over without a copy.
 */
function isPlainTable(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object") return true;
  if (depth > 32) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (const item of value) if (!isPlainTable(item, depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.hasOwn(value, "!") || Object.hasOwn(value, "__proto__")) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    if (!isPlainTable((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/** PROPERTY_TO_OPTION as pairs, walked once per message. */
const PROPERTY_OPTIONS = Object.entries(PROPERTY_TO_OPTION) as [PropertyName, keyof Options.Publish][];

/**
 * The amqplib publish options for a kombu-shaped message. With `tables`, a plain headers table
 * goes to amqplib as that shape's reused object (header-tables.ts): publish it at once.
 */
export function amqpPublishOptions(message: OutgoingMessage, tables?: HeaderTables): Options.Publish {
  const plainTable = isPlainTable(message.headers);
  const options: Options.Publish = {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: plainTable
      ? (tables?.fill(message.headers) ?? message.headers)
      : safeHeaderValue(message.headers),
    mandatory: false,
  };
  for (const [name, option] of PROPERTY_OPTIONS) {
    const value = message.properties[name];
    if (value === undefined || value === null) continue;
    if (name === "expiration") {
      // kombu writes str(int(ms)); RabbitMQ wants a decimal string.
      options.expiration = typeof value === "number" ? String(Math.max(0, Math.trunc(value))) : String(value);
    } else if (name === "timestamp" && typeof value === "number") {
      options.timestamp = Math.trunc(value);
    } else {
      (options as Record<string, unknown>)[option] = value;
    }
  }
  // kombu always sets priority (Producer.publish default 0) and Celery delivery_mode 2.
  options.priority ??= 0;
  options.deliveryMode ??= 2;
  return options;
}

/** Properties of a delivery under kombu's names (only the ones present). */
export function fromMessageProperties(message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = message.properties as unknown as Record<string, unknown>;
  // for-in over a constant object walks V8's enum cache: no per-delivery `Object.entries` array.
  for (const option in OPTION_TO_PROPERTY) {
    const name = OPTION_TO_PROPERTY[option] as PropertyName;
    const value = props[option];
    if (value !== undefined && value !== null) out[name] = value;
  }
  if (typeof props.contentType === "string") out.content_type = props.contentType;
  if (typeof props.contentEncoding === "string") out.content_encoding = props.contentEncoding;
  return out;
}

/** Headers as a plain object (amqplib leaves them undefined when absent). */
export function headersOf(message: Message): Record<string, unknown> {
  const headers = message.properties.headers as Record<string, unknown> | undefined;
  return headers ?? {};
}
