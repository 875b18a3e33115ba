/**
 * JSON decoder matching kombu's `kombu.utils.json.loads` (kombu/utils/json.py), which is Python's
 * `json.loads` with kombu's `object_hook`:
 * - accepts what Python's json accepts, including the `NaN`, `Infinity` and `-Infinity` literals
 *   that Python writes with its default `allow_nan=True`;
 * - integers outside ±(2^53-1) decode as `bigint` (Python ints are unbounded), every other number
 *   as a JS number (`1.0` becomes `1`: JS has one number type);
 * - the marker hook fires only for objects whose key set is exactly `{"__type__", "__value__"}`,
 *   innermost first as Python's object_hook does; an unknown `__type__` is a DecodeError
 *   (kombu >= 5.3 raises `ValueError("Unsupported type")`, which kombu turns into DecodeError).
 *
 * Speed: `JSON.parse` does the work unless the text holds a run of 16+ digits (a possible big int)
 * or is not plain JSON (NaN literals, or an error to report); then a small exact parser takes over.
 */
import { DecodeError } from "../errors.js";
import { setOwn } from "../protocol/guards.js";
import { checkJsonDepth, DEFAULT_WIRE_BUDGET } from "./budget.js";
import { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "./pytypes.js";

const LONG_DIGIT_RUN = /\d{16}/;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface JsonLoadsOptions {
  /** Decode kombu >= 5.3 markers (default true). false mirrors kombu 5.2: markers stay plain objects. */
  typeMarkers?: boolean;
  /**
   * What a `datetime` marker becomes: a JS `Date` (default; milliseconds, naive read as UTC) or a
   * {@link PyDateTime} holding Python's exact text (lossless, for relaying values back to Python).
   */
  datetimes?: "date" | "pydatetime";
  /**
   * Deepest `[`/`{` nesting accepted (default 512, `wireMaxDepth`). Checked by a linear scan
   * before parsing, so a 100 000-deep document is a BudgetExceededError (a DecodeError), never a
   * RangeError from a recursive walk.
   */
  maxDepth?: number;
}

/** `kombu.utils.json.loads(text)`. Throws DecodeError for invalid JSON, a bad marker or too deep a text. */
export function jsonLoads(text: string, options: JsonLoadsOptions = {}): unknown {
  checkJsonDepth(text, options.maxDepth ?? DEFAULT_WIRE_BUDGET.maxDepth, "JSON document");
  let value: unknown;
  if (LONG_DIGIT_RUN.test(text)) {
    value = new ExactParser(text).parseDocument();
  } else {
    try {
      value = JSON.parse(text);
    } catch {
      // Not plain JSON: NaN/Infinity literals (valid for Python), or a real error to report.
      value = new ExactParser(text).parseDocument();
    }
  }
  // The hook can only fire if a `__type__` key exists; a key spelled with \u escapes counts too.
  if ((options.typeMarkers ?? true) && (text.includes("__type__") || text.includes("\\u"))) {
    return revive(value, options.datetimes ?? "date");
  }
  return value;
}

/** A recursive-descent parser with Python json's grammar (json/decoder.py, json/scanner.py). */
class ExactParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipWs();
    const value = this.parseValue();
    this.skipWs();
    if (this.pos !== this.text.length) this.fail("Extra data");
    return value;
  }

  private fail(what: string): never {
    throw new DecodeError(`Invalid JSON: ${what} at char ${this.pos}`);
  }

  private skipWs(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  private literal(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.pos)) this.fail("Expecting value");
    this.pos += word.length;
    return value;
  }

  private parseValue(): unknown {
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.parseObject();
      case "[":
        return this.parseArray();
      case '"':
        return this.parseString();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      case "N":
        return this.literal("NaN", Number.NaN);
      case "I":
        return this.literal("Infinity", Number.POSITIVE_INFINITY);
      default:
        if (c === "-" && this.text.startsWith("-Infinity", this.pos)) {
          return this.literal("-Infinity", Number.NEGATIVE_INFINITY);
        }
        return this.parseNumber();
    }
  }

  private parseNumber(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail("Expecting value");
    this.pos += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return Number(m[0]);
    // A Python int. Exact as a number up to 15 digits; beyond, check against the safe range.
    if (m[0].length <= 15) return Number(m[0]);
    const big = BigInt(m[0]);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(big)
      : big;
  }

  private parseString(): string {
    const t = this.text;
    const start = ++this.pos;
    // Fast scan for a string without escapes.
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) return t.slice(start, this.pos++);
      if (c === 0x5c) break;
      if (c < 0x20) this.fail("Invalid control character in string");
      this.pos++;
    }
    let out = t.slice(start, this.pos);
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail("Invalid control character in string");
      if (c !== 0x5c) {
        out += t[this.pos++];
        continue;
      }
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = t.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("Invalid \\uXXXX escape");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos -= 2;
          this.fail("Invalid \\escape");
      }
    }
    return this.fail("Unterminated string");
  }

  private parseArray(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skipWs();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.parseValue());
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") this.fail("Expecting ',' delimiter");
    }
  }

  private parseObject(): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipWs();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail("Expecting property name enclosed in double quotes");
      const key = this.parseString();
      this.skipWs();
      if (this.text[this.pos++] !== ":") this.fail("Expecting ':' delimiter");
      this.skipWs();
      setOwn(out, key, this.parseValue());
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") this.fail("Expecting ',' delimiter");
    }
  }
}

/** Applies kombu's object_hook bottom-up (Python calls it as each object closes). */
function revive(value: unknown, datetimes: "date" | "pydatetime"): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], datetimes);
    return value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (const key of keys) {
    const child = obj[key];
    if (typeof child === "object" && child !== null) obj[key] = revive(child, datetimes);
  }
  if (keys.length === 2 && Object.hasOwn(obj, "__type__") && Object.hasOwn(obj, "__value__")) {
    return decodeMarker(obj.__type__, obj.__value__, datetimes);
  }
  return obj;
}

function markerError(type: unknown, reason: string): DecodeError {
  return new DecodeError(`Cannot decode kombu JSON marker {"__type__": ${JSON.stringify(type)}}: ${reason}`);
}

function requireString(type: string, value: unknown): string {
  if (typeof value !== "string") throw markerError(type, `__value__ must be a string, got ${typeof value}`);
  return value;
}

/** The decoders of kombu/utils/json.py `_decoders` (registered by `_register_default_types`). */
function decodeMarker(type: unknown, value: unknown, datetimes: "date" | "pydatetime"): unknown {
  try {
    switch (type) {
      case "datetime": {
        const dt = new PyDateTime(requireString(type, value)); // datetime.fromisoformat
        return datetimes === "pydatetime" ? dt : dt.toDate();
      }
      case "date": {
        // datetime.fromisoformat(v).date(): a full datetime text is allowed too.
        const text = requireString(type, value);
        return text.length === 10 ? new PyDate(text) : new PyDate(new PyDateTime(text).value.slice(0, 10));
      }
      case "time":
        return new PyTime(requireString(type, value));
      case "decimal":
        // Decimal(v): Python also takes an int or float here.
        if (typeof value === "number" || typeof value === "bigint") return new PyDecimal(value);
        return new PyDecimal(requireString(type, value));
      case "uuid":
        return decodeUuid(value);
      case "bytes": {
        const text = requireString(type, value);
        if (LONE_SURROGATE.test(text)) throw markerError(type, "lone surrogate cannot be encoded to UTF-8");
        return Buffer.from(text, "utf8");
      }
      case "base64":
        return Buffer.from(requireString(type, value), "base64");
      default:
        throw markerError(type, "Unsupported type");
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw markerError(type, err instanceof Error ? err.message : String(err));
  }
}

/** `uuid.UUID(**value)` for the two keyword forms a peer plausibly sends: hex and int. */
function decodeUuid(value: unknown): PyUUID {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw markerError("uuid", '__value__ must be an object such as {"hex": ...}');
  }
  const fields = value as Record<string, unknown>;
  const keys = Object.keys(fields);
  if (keys.length === 1 && typeof fields.hex === "string") return new PyUUID(fields.hex);
  if (keys.length === 1 && (typeof fields.int === "number" || typeof fields.int === "bigint")) {
    const n = BigInt(fields.int);
    if (n < 0n || n >= 1n << 128n) throw markerError("uuid", "int is out of range (need 0 <= int < 1<<128)");
    return new PyUUID(n.toString(16).padStart(32, "0"));
  }
  throw markerError("uuid", `unsupported UUID fields ${JSON.stringify(keys)}`);
}
