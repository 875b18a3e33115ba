/**
 * kombu's msgpack serializer (kombu/serialization.py `register_msgpack`): `msgpack.packb(value,
 * use_bin_type=True)` and `msgpack.unpackb(body, raw=False)`, through @msgpack/msgpack.
 *
 * What crosses, and how (mirroring what Python's msgpack does with kombu's options):
 * - str <-> string (UTF-8 str type), bytes <-> Uint8Array (bin type, `use_bin_type=True`);
 * - int: safe JS integers as msgpack ints; `bigint` as int64/uint64 (Python's packb raises
 *   OverflowError outside -2^63..2^64-1, so do we); decoded ints outside ±(2^53-1) become `bigint`;
 * - other numbers as float64. `-0` is a safe integer to JS, so it goes out as int 0 (sign lost);
 * - lists/tuples <-> arrays; dicts <-> objects (a `Map` with string keys is accepted on the way
 *   out: `unpackb` defaults to `strict_map_key=True`, so Python refuses non-string keys).
 * - No datetime, date, time, Decimal or UUID: kombu registers no msgpack hooks, and Python's
 *   `packb` raises TypeError for them, so encoding a `Date` or a Py* value is an EncodeError here.
 *   A msgpack timestamp extension (-1) that a peer sends anyway decodes as a `Date`.
 * - Known limit: @msgpack/msgpack refuses a map key `__proto__` when decoding (prototype
 *   pollution guard), so such a body is a DecodeError here although Python reads it.
 */
import { DecodeError, EncodeError } from "../errors.js";
import { loadDependency } from "../optional-deps.js";
import { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "./pytypes.js";

/** @msgpack/msgpack, loaded on the first msgpack body rather than on `import "celeriac"`. */
const msgpack = () =>
  loadDependency<typeof import("@msgpack/msgpack")>("@msgpack/msgpack", "The msgpack serializer");

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

class PackFailure {
  readonly path: Array<string | number> = [];
  constructor(readonly reason: string) {}
}

function pathText(path: ReadonlyArray<string | number>): string {
  return `$${path.map((p) => (typeof p === "number" ? `[${p}]` : `[${JSON.stringify(p)}]`)).join("")}`;
}

function within<T>(key: string | number, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof PackFailure) err.path.unshift(key);
    throw err;
  }
}

/**
 * Checks a value against what Python's packb accepts and returns an equivalent that
 * @msgpack/msgpack encodes the same way (Maps become objects, toJSON() is applied).
 */
function prepare(v: unknown, active: Set<object>): unknown {
  switch (typeof v) {
    case "string":
      // Python's packb encodes str as UTF-8 and raises UnicodeEncodeError on a lone surrogate.
      if (LONE_SURROGATE.test(v)) throw new PackFailure("a string with a lone surrogate is not valid UTF-8");
      return v;
    case "number":
    case "boolean":
    case "undefined":
      return v;
    case "bigint":
      if (v < INT64_MIN || v > UINT64_MAX)
        throw new PackFailure("Integer value out of range (msgpack holds 64 bits)");
      return v;
    case "object":
      if (v === null || v instanceof Uint8Array) return v;
      return prepareObject(v, active);
    default:
      throw new PackFailure(`can not serialize a ${typeof v}`);
  }
}

function prepareObject(o: object, active: Set<object>): unknown {
  if (o instanceof Date || o instanceof PyDateTime || o instanceof PyDate || o instanceof PyTime) {
    throw new PackFailure(
      "Python's msgpack (kombu's msgpack serializer) cannot carry datetimes; use the json serializer or send an ISO string",
    );
  }
  if (o instanceof PyDecimal || o instanceof PyUUID) {
    throw new PackFailure(`Python's msgpack cannot carry ${o.constructor.name}; send its string instead`);
  }
  if (o instanceof Set || ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
    throw new PackFailure(`can not serialize a ${o.constructor.name}`);
  }
  if (active.has(o)) throw new PackFailure("Circular reference detected");
  active.add(o);
  try {
    if (Array.isArray(o)) return o.map((item, i) => within(i, () => prepare(item, active) ?? null));
    const out: Record<string, unknown> = {};
    if (o instanceof Map) {
      for (const [key, item] of o) {
        if (typeof key !== "string")
          throw new PackFailure("Map keys must be strings (unpackb uses strict_map_key)");
        const prepared = within(key, () => prepare(item, active));
        if (prepared !== undefined) out[key] = prepared;
      }
      return out;
    }
    const proto: unknown = Object.getPrototypeOf(o);
    const toJSON: unknown = (o as { toJSON?: unknown }).toJSON;
    if (proto !== Object.prototype && proto !== null && typeof toJSON === "function") {
      return prepare(toJSON.call(o), active);
    }
    const source = o as Record<string, unknown>;
    for (const key of Object.keys(source)) {
      if (LONE_SURROGATE.test(key)) throw new PackFailure("a key with a lone surrogate is not valid UTF-8");
      const prepared = within(key, () => prepare(source[key], active));
      if (prepared !== undefined) Object.defineProperty(out, key, { value: prepared, enumerable: true });
    }
    return out;
  } finally {
    active.delete(o);
  }
}

/** `msgpack.packb(value, use_bin_type=True)`. */
export function msgpackDumps(value: unknown): Buffer {
  let prepared: unknown;
  try {
    prepared = prepare(value, new Set());
  } catch (err) {
    if (err instanceof PackFailure)
      throw new EncodeError(`Cannot msgpack-encode ${pathText(err.path)}: ${err.reason}`);
    throw err;
  }
  if (prepared === undefined) throw new EncodeError("Cannot msgpack-encode undefined");
  try {
    const packed = msgpack().encode(prepared, { useBigInt64: true, ignoreUndefined: true });
    return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  } catch (err) {
    throw new EncodeError(
      `Cannot msgpack-encode value: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Turns int64 values that fit a JS number back into numbers, so only big ints stay `bigint`. */
function narrowInts(v: unknown): unknown {
  if (typeof v === "bigint") return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : v;
  if (typeof v !== "object" || v === null || v instanceof Uint8Array || v instanceof Date) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = narrowInts(v[i]);
    return v;
  }
  const obj = v as Record<string, unknown>;
  for (const key of Object.keys(obj)) obj[key] = narrowInts(obj[key]);
  return obj;
}

/** `msgpack.unpackb(body, raw=False)`. Throws DecodeError for a bad or truncated body. */
export function msgpackLoads(body: Uint8Array): unknown {
  try {
    return narrowInts(msgpack().decode(body, { useBigInt64: true }));
  } catch (err) {
    throw new DecodeError(`Invalid msgpack body: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
