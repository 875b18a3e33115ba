/**
 * JSON encoder that writes the same text as kombu's `kombu.utils.json.dumps` (kombu/utils/json.py),
 * which is Python's `json.dumps` with its defaults plus kombu's `JSONEncoder.default`:
 * - separators `", "` and `": "`, no indentation, keys in insertion order;
 * - `ensure_ascii=True`: every code unit outside 0x20..0x7E is written `\uXXXX` (lowercase hex,
 *   astral characters as their UTF-16 surrogate pair, DEL 0x7F included), as json/encoder.py
 *   `py_encode_basestring_ascii` does;
 * - `allow_nan=True`: NaN and ±Infinity are written `NaN`, `Infinity`, `-Infinity`;
 * - floats as `float.__repr__` (see protocol/py-float.ts); a JS number that is a safe integer is written as
 *   a Python int, any other number (fractional, or integral beyond 2^53) as a Python float, and
 *   `-0` as `-0.0`. A `bigint` is written as a bare integer (Python ints are unbounded).
 *
 * JS-only values, handled the way `JSON.stringify` does where Python has no opinion:
 * `undefined` object members are skipped, `undefined` array items are written `null`, objects with
 * a `toJSON()` method are encoded through it (like kombu's `__json__` hook), and class instances
 * are encoded by their own enumerable properties. Functions, symbols, `Set`s, typed arrays other
 * than `Uint8Array`, and cycles raise an EncodeError that names the path (`$.kwargs.cb`).
 *
 * Key order caveat: a JS object lists integer-like keys ("1", "2") first, whatever the insertion
 * order; pass a `Map` when the order of such keys matters. `Map` keys are converted as Python's
 * json converts dict keys (str as is, int/float to text, `true`/`false`/`null`).
 */
import { EncodeError } from "../errors.js";
import { pyFloatRepr } from "../protocol/py-float.js";
import { formatDateUtc, PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "./pytypes.js";

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const NON_ASCII = /[\u007f-\uffff]/;
const NON_ASCII_ALL = /[\u007f-\uffff]/g;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function escapeCodeUnit(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * A string as Python's `json.dumps(s)` writes it (ensure_ascii). JSON.stringify already escapes
 * quotes, backslashes, control characters and lone surrogates exactly as Python does; only the
 * non-ASCII pass is added.
 */
export function pyJsonString(s: string): string {
  // Most strings (ids, task names, keys) need no escaping at all: skip JSON.stringify for them.
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  const quoted = JSON.stringify(s);
  return NON_ASCII.test(quoted) ? quoted.replace(NON_ASCII_ALL, escapeCodeUnit) : quoted;
}

/** Keys seen before, written as `"key": ` (the embed's four keys and kwargs names repeat per message). */
const keyTexts = new Map<string, string>();
const MAX_KEY_TEXTS = 1024;

/** `"key": ` for an object member, from {@link keyTexts} for short keys. */
function keyJson(key: string): string {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = `${pyJsonString(key)}: `;
    if (key.length <= 64) {
      if (keyTexts.size >= MAX_KEY_TEXTS) keyTexts.clear();
      keyTexts.set(key, text);
    }
  }
  return text;
}

/** A number as Python's json writes it (see the module comment). */
export function pyJsonNumber(n: number): string {
  if (Number.isSafeInteger(n)) return n === 0 && Object.is(n, -0) ? "-0.0" : String(n);
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "Infinity";
  if (n === Number.NEGATIVE_INFINITY) return "-Infinity";
  // Both languages print the shortest round-trip digits; for a fraction in [1e-4, 2^53) both
  // also pick fixed notation, so JS's own text is Python's repr.
  const abs = Math.abs(n);
  if (abs >= 1e-4 && abs < 9007199254740992) return String(n);
  return pyFloatRepr(n);
}

const CYCLE_CHECK_DEPTH = 32;

/** Thrown inside the walk; collects the path on the way out, becomes an EncodeError at the top. */
class EncodeFailure {
  readonly path: Array<string | number> = [];
  constructor(readonly reason: string) {}
}

function formatPath(path: ReadonlyArray<string | number>): string {
  let out = "$";
  for (const part of path) {
    out +=
      typeof part === "number"
        ? `[${part}]`
        : /^[A-Za-z_$][\w$]*$/.test(part)
          ? `.${part}`
          : `[${JSON.stringify(part)}]`;
  }
  return out;
}

function marker(type: string, valueJson: string): string {
  // kombu/utils/json.py _as(): {"__type__": t, "__value__": v}, in that key order.
  return `{"__type__": "${type}", "__value__": ${valueJson}}`;
}

class Encoder {
  private readonly ancestors: object[] = [];

  constructor(private readonly markers: boolean) {}

  /** Returns undefined only for `undefined`, which containers skip (objects) or write as null (arrays). */
  value(v: unknown): string | undefined {
    switch (typeof v) {
      case "string":
        return pyJsonString(v);
      case "number":
        return pyJsonNumber(v);
      case "boolean":
        return v ? "true" : "false";
      case "bigint":
        return v.toString();
      case "undefined":
        return undefined;
      case "object":
        return v === null ? "null" : this.object(v);
      default:
        throw new EncodeFailure(`a ${typeof v} is not JSON serializable`);
    }
  }

  private object(o: object): string {
    if (Array.isArray(o)) return this.array(o);
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) return this.entries(o as Record<string, unknown>);
    if (o instanceof Date) return this.datetime(dateText(o));
    if (o instanceof Uint8Array) return this.bytes(o);
    if (o instanceof PyDateTime) return this.datetime(o.value);
    if (o instanceof PyDate) {
      // kombu 5.2 JSONEncoder.default turned a date into a midnight datetime before isoformat().
      return this.markers ? marker("date", pyJsonString(o.value)) : pyJsonString(`${o.value}T00:00:00`);
    }
    if (o instanceof PyTime)
      return this.markers ? marker("time", pyJsonString(o.value)) : pyJsonString(o.value);
    if (o instanceof PyDecimal) {
      return this.markers ? marker("decimal", pyJsonString(o.value)) : pyJsonString(o.value);
    }
    if (o instanceof PyUUID) {
      // kombu >= 5.3 registers UUID with encoder `lambda o: {"hex": o.hex}`; 5.2 wrote str(uuid).
      return this.markers ? marker("uuid", `{"hex": "${o.hex}"}`) : pyJsonString(o.value);
    }
    if (o instanceof Map) return this.map(o);
    if (o instanceof Set)
      throw new EncodeFailure("a Set is not JSON serializable (Python's json rejects sets too)");
    if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
      throw new EncodeFailure(`a ${o.constructor.name} is not JSON serializable; bytes must be a Uint8Array`);
    }
    if (o instanceof String || o instanceof Number || o instanceof Boolean) return this.value(o.valueOf())!;
    const toJSON: unknown = (o as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return this.value(toJSON.call(o)) ?? "null";
    return this.entries(o as Record<string, unknown>);
  }

  /**
   * Cycle guard at no cost for ordinary messages: ancestors are kept on a stack, and only a
   * structure nested deeper than CYCLE_CHECK_DEPTH (which any cycle eventually is) is searched.
   */
  private enter(o: object): void {
    if (this.ancestors.length >= CYCLE_CHECK_DEPTH && this.ancestors.includes(o)) {
      throw new EncodeFailure("Circular reference detected");
    }
    this.ancestors.push(o);
  }

  private array(a: readonly unknown[]): string {
    if (a.length === 0) return "[]";
    this.enter(a);
    let out = "[";
    for (let i = 0; i < a.length; i++) {
      const item = this.member(i, a[i]);
      out += i === 0 ? (item ?? "null") : `, ${item ?? "null"}`;
    }
    this.ancestors.pop();
    return `${out}]`;
  }

  /** One member of a list, object or map; a failure below it gets `at` prepended to its path. */
  private member(at: string | number, value: unknown): string | undefined {
    try {
      return this.value(value);
    } catch (err) {
      if (err instanceof EncodeFailure) err.path.unshift(at);
      throw err;
    }
  }

  private entries(o: Record<string, unknown>): string {
    this.enter(o);
    let out = "{";
    let first = true;
    // for...in with an own-key check lists what Object.keys lists, in the same order, without
    // allocating the key array (a task body writes two small objects per message).
    for (const key in o) {
      if (!Object.hasOwn(o, key)) continue;
      const item = this.member(key, o[key]);
      if (item === undefined) continue;
      out += first ? `${keyJson(key)}${item}` : `, ${keyJson(key)}${item}`;
      first = false;
    }
    this.ancestors.pop();
    return `${out}}`;
  }

  private map(m: ReadonlyMap<unknown, unknown>): string {
    this.enter(m);
    let out = "{";
    let first = true;
    for (const [rawKey, v] of m) {
      const key = mapKey(rawKey);
      const item = this.member(key, v);
      if (item === undefined) continue;
      out += first ? `${pyJsonString(key)}: ${item}` : `, ${pyJsonString(key)}: ${item}`;
      first = false;
    }
    this.ancestors.pop();
    return `${out}}`;
  }

  private datetime(iso: string): string {
    if (this.markers) return marker("datetime", pyJsonString(iso));
    // kombu 5.2 JSONEncoder.default: isoformat(), with a trailing "+00:00" replaced by "Z".
    return pyJsonString(iso.endsWith("+00:00") ? `${iso.slice(0, -6)}Z` : iso);
  }

  private bytes(b: Uint8Array): string {
    if (!this.markers) {
      throw new EncodeFailure("bytes are not JSON serializable with kombu < 5.3 (compat 5.2); send a string");
    }
    // kombu/utils/json.py JSONEncoder.default: UTF-8 text under "bytes" when it decodes, else base64.
    let text: string;
    try {
      text = STRICT_UTF8.decode(b);
    } catch {
      return marker("base64", `"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64")}"`);
    }
    return marker("bytes", pyJsonString(text));
  }
}

function dateText(d: Date): string {
  try {
    return formatDateUtc(d);
  } catch (err) {
    throw new EncodeFailure(err instanceof Error ? err.message : String(err));
  }
}

/** Python's json dict-key conversion (json/encoder.py _iterencode_dict). */
function mapKey(key: unknown): string {
  switch (typeof key) {
    case "string":
      return key;
    case "number":
      return pyJsonNumber(key);
    case "bigint":
      return key.toString();
    case "boolean":
      return key ? "true" : "false";
    default:
      if (key === null) return "null";
      throw new EncodeFailure(`Map keys must be str, int, float, bool or None, not ${typeof key}`);
  }
}

export interface JsonDumpsOptions {
  /**
   * Write kombu >= 5.3 `{"__type__", "__value__"}` markers for Date, the Py classes and Uint8Array (default true).
   * false mirrors kombu 5.2: datetimes as ISO strings ending `Z`, Decimal/UUID/time as strings,
   * dates as `YYYY-MM-DDT00:00:00`, and bytes refused.
   */
  typeMarkers?: boolean;
}

/** `kombu.utils.json.dumps(value)`: see the module comment for the exact rules. */
export function jsonDumps(value: unknown, options: JsonDumpsOptions = {}): string {
  const encoder = new Encoder(options.typeMarkers ?? true);
  let out: string | undefined;
  try {
    out = encoder.value(value);
  } catch (err) {
    if (err instanceof EncodeFailure) {
      throw new EncodeError(`Cannot JSON-encode ${formatPath(err.path)}: ${err.reason}`);
    }
    if (err instanceof EncodeError) throw err;
    throw new EncodeError(`Cannot JSON-encode value: ${String(err)}`, { cause: err });
  }
  if (out === undefined) throw new EncodeError("Cannot JSON-encode undefined");
  return out;
}
