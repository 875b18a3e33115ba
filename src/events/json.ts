import {
  AcceptPolicy,
  DEFAULT_WIRE_BUDGET,
  decodeMessageBody,
  jsonDumps,
  pyFloatRepr,
  type WireBudget,
} from "../serialization/index.js";

const JSON_ONLY = AcceptPolicy.from(["json"]);

/**
 * An event body (Celery's `EventReceiver` reads JSON events) inside the wire-input budget: size,
 * then nesting, then kombu's JSON. Throws an Error naming the problem for anything else.
 */
export function decodeEventBody(
  body: Uint8Array,
  contentType: string,
  contentEncoding: string,
  budget: WireBudget = DEFAULT_WIRE_BUDGET,
): unknown {
  if (contentType !== "application/json") {
    throw new Error(`unsupported event content type ${JSON.stringify(contentType)}`);
  }
  return decodeMessageBody(body, contentType, contentEncoding, JSON_ONLY, { budget, what: "event" });
}

/**
 * A number that Python sends as a `float` even when it is integral
 * (`freq: 2.0`, `utcoffset: 0.0`, `loadavg: [0.0, …]`). JS has one number
 * type, so the event encoder needs to be told; a consumer reading the JSON
 * then gets the same Python type a Celery worker would have sent.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

export const pyFloat = (value: number): PyFloat => new PyFloat(value);

/**
 * kombu's JSON (`kombu/utils/json.py dumps`, Python separators `, ` and `: `)
 * for event bodies, with {@link PyFloat} rendered as `float.__repr__`. Events
 * are dicts/lists of plain values, so only those two containers are walked.
 */
export function eventJson(value: unknown): string {
  if (value instanceof PyFloat) return Number.isFinite(value.value) ? pyFloatRepr(value.value) : "null";
  if (Array.isArray(value)) return `[${value.map(eventJson).join(", ")}]`;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const parts: string[] = [];
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      parts.push(`${jsonDumps(key)}: ${eventJson(v)}`);
    }
    return `{${parts.join(", ")}}`;
  }
  return jsonDumps(value === undefined ? null : value);
}
