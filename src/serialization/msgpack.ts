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
import { DEFAULT_WIRE_BUDGET, tooDeep } from "./budget.js";
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

/** Bytes after the type byte for fixed-size msgpack formats 0xc0..0xdf (-1: variable or unused). */
function fixedPayload(type: number): number {
  if (type >= 0xca && type <= 0xd3) return [4, 8, 1, 2, 4, 8, 1, 2, 4, 8][type - 0xca] as number;
  if (type >= 0xd4 && type <= 0xd8) return 1 + 2 ** (type - 0xd4);
  return type === 0xc0 || type === 0xc2 || type === 0xc3 ? 0 : -1;
}

/**
 * Throws when msgpack bytes nest arrays/maps deeper than `maxDepth`: an iterative walk over the
 * format (msgpack spec, "formats") run before decoding, so no recursive walk ever sees a deep
 * value. A truncated or invalid body ends the walk quietly; the decoder reports it.
 */
export function checkMsgpackDepth(body: Uint8Array, maxDepth: number): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const remaining: number[] = []; // items left in each open container
  let pos = 0;
  while (pos < body.length) {
    const type = body[pos++] as number;
    let skip = 0;
    let items = -1;
    if (type <= 0x7f || type >= 0xe0) skip = 0;
    else if (type <= 0x8f) items = (type & 0x0f) * 2;
    else if (type <= 0x9f) items = type & 0x0f;
    else if (type <= 0xbf) skip = type & 0x1f;
    else if (type === 0xc4 || type === 0xd9) skip = 1 + (body[pos] ?? 0);
    else if (type === 0xc5 || type === 0xda) skip = pos + 2 <= body.length ? 2 + view.getUint16(pos) : 2;
    else if (type === 0xc6 || type === 0xdb) skip = pos + 4 <= body.length ? 4 + view.getUint32(pos) : 4;
    else if (type === 0xc7) skip = 2 + (body[pos] ?? 0);
    else if (type === 0xc8) skip = pos + 2 <= body.length ? 3 + view.getUint16(pos) : 3;
    else if (type === 0xc9) skip = pos + 4 <= body.length ? 5 + view.getUint32(pos) : 5;
    else if (type === 0xdc || type === 0xde) {
      if (pos + 2 > body.length) return;
      items = view.getUint16(pos) * (type === 0xde ? 2 : 1);
      skip = 2;
    } else if (type === 0xdd || type === 0xdf) {
      if (pos + 4 > body.length) return;
      items = view.getUint32(pos) * (type === 0xdf ? 2 : 1);
      skip = 4;
    } else {
      skip = fixedPayload(type);
      if (skip < 0) return; // 0xc1: never used; the decoder says so
    }
    pos += skip;
    if (items >= 0) {
      if (remaining.length + 1 > maxDepth) throw tooDeep(maxDepth, "msgpack body");
      if (items > 0) {
        remaining.push(items);
        continue;
      }
    }
    // one item of the innermost open container is complete; close every container that is full
    while (remaining.length > 0) {
      const top = remaining.length - 1;
      remaining[top] = (remaining[top] as number) - 1;
      if ((remaining[top] as number) > 0) break;
      remaining.pop();
    }
  }
}

/**
 * `msgpack.unpackb(body, raw=False)`. Throws DecodeError for a bad or truncated body, and a
 * BudgetExceededError (a DecodeError) for one nested deeper than `maxDepth` (default 512).
 */
export function msgpackLoads(body: Uint8Array, options: { maxDepth?: number } = {}): unknown {
  checkMsgpackDepth(body, options.maxDepth ?? DEFAULT_WIRE_BUDGET.maxDepth);
  try {
    return narrowInts(msgpack().decode(body, { useBigInt64: true }));
  } catch (err) {
    throw new DecodeError(`Invalid msgpack body: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
