/**
 * A port of celery/utils/saferepr.py `saferepr`: the Python-`repr`-like text
 * Celery writes into the `argsrepr`/`kwargsrepr` headers (1024 characters,
 * depth 3). Python values are inferred from the JS values the serializer
 * would send: an integral number below 1e21 is an `int` (that is how
 * JSON.stringify writes it), any other number a `float`, arrays are lists
 * (wrap in {@link PyTuple} for a tuple), objects and Maps are dicts.
 *
 * It is NOT Python's `repr()` for strings: saferepr wraps the text in single
 * quotes and only escapes `'` as `\'` (`_format_chars`), with no other
 * escaping. Both truncation algorithms are ported: `balanced` (5.7) closes
 * every bracket it opened; the 5.2–5.6 one drops the closing token that hits
 * the limit (`('xxx...', ...`).
 *
 * Python types the serializer can carry: a Date is an aware UTC
 * `datetime.datetime(…, tzinfo=datetime.timezone.utc)` (milliseconds only);
 * the serializer's PyDateTime/PyDate/PyTime/PyDecimal/PyUUID wrappers print
 * exactly what Python's repr of the decoded value prints; Uint8Array is
 * `bytes`; an object with a `toPythonRepr()` method uses it. Approximations:
 * a JS Set keeps insertion order (Python's follows hashes), and JS moves
 * integer-like object keys first.
 */
import { scalarRepr, unrepresentable } from "./py-scalar-repr.js";

/** Marks a JS array as a Python tuple for {@link saferepr} (`(1,)`, `(1, 2)`). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export interface SafereprOptions {
  /** Output budget in characters (Python `len`, i.e. code points). null = unlimited. */
  maxlen?: number | null;
  /** Container depth shown before `[...]` (`task_repr_maxlevels`, default 3). 0 = unlimited. */
  maxlevels?: number;
  /** 5.7 algorithm (balanced brackets). false = 5.2–5.6. Default true. */
  balanced?: boolean;
}

// Stream nodes (celery/utils/saferepr.py _literal, _key, _quoted, _dirty).
class Lit {
  constructor(
    readonly value: string,
    readonly truncate: boolean,
    readonly direction: number,
  ) {}
}
class Key {
  constructor(readonly value: unknown) {}
}
class Quoted {
  constructor(readonly value: string | Uint8Array) {}
}
class Dirty {
  constructor(readonly obj: object) {}
}

const DICT_START = new Lit("{", false, 1);
const DICT_KVSEP = new Lit(": ", true, 0);
const DICT_END = new Lit("}", false, -1);
const LIST_START = new Lit("[", false, 1);
const LIST_END = new Lit("]", false, -1);
const LIST_SEP = new Lit(", ", true, 0);
const SET_START = new Lit("{", false, 1);
const SET_END = new Lit("}", false, -1);
const TUPLE_START = new Lit("(", false, 1);
const TUPLE_END = new Lit(")", false, -1);
const TUPLE_END_SV = new Lit(",)", false, -1);

type Stream = Iterator<unknown>;

function* chain(...parts: (readonly unknown[] | Stream)[]): Generator<unknown> {
  for (const part of parts) {
    if (Array.isArray(part)) {
      yield* part;
    } else {
      // A shared iterator (Python's `it`): pull manually so nothing closes it on our behalf.
      const stream = part as Stream;
      for (let r = stream.next(); !r.done; r = stream.next()) yield r.value;
    }
  }
}

function* chainList(items: readonly unknown[]): Generator<unknown> {
  for (let i = 0; i < items.length; i++) {
    yield items[i];
    if (i < items.length - 1) yield LIST_SEP;
  }
}

function* chainDict(entries: [unknown, unknown][]): Generator<unknown> {
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i] as [unknown, unknown];
    yield new Key(k);
    yield DICT_KVSEP;
    yield v;
    if (i < entries.length - 1) yield LIST_SEP;
  }
}

// --- Python text helpers ----------------------------------------------------

/** Python `len(s)`: code points, not UTF-16 units. */
function pyLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Python `s[:n]` in code points. */
function pySlice(s: string, n: number): string {
  let count = 0;
  let i = 0;
  while (i < s.length && count < n) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length;
    i += pair && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff ? 2 : 1;
    count++;
  }
  return s.slice(0, i);
}

/** celery/utils/text.py truncate: cut at the last space before maxlen, add `...`. Note `>=`. */
function truncate(s: string, maxlen: number | null): string {
  if (maxlen && s.length >= maxlen && pyLen(s) >= maxlen) {
    const head = pySlice(s, maxlen);
    const space = head.lastIndexOf(" ");
    return `${space >= 0 ? head.slice(0, space) : head}...`;
  }
  return s;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function reprBinaryBytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/** saferepr.py _format_chars / _format_binary_bytes. */
function formatChars(value: string | Uint8Array, maxlen: number | null): string {
  if (typeof value === "string") return `'${truncate(value, maxlen).replace(/'/g, "\\'")}'`;
  if (maxlen && value.length > maxlen) return `b'${reprBinaryBytes(value.subarray(0, maxlen))}...'`;
  return `b'${reprBinaryBytes(value)}'`;
}

type Container = { start: Lit; end: Lit; inner: Generator<unknown>; obj: object } | { empty: string };

function asContainer(value: object): Container | null {
  if (value instanceof PyTuple) {
    return {
      start: TUPLE_START,
      end: value.items.length === 1 ? TUPLE_END_SV : TUPLE_END,
      inner: chainList(value.items),
      obj: value,
    };
  }
  if (Array.isArray(value)) return { start: LIST_START, end: LIST_END, inner: chainList(value), obj: value };
  if (value instanceof Set) {
    if (value.size === 0) return { empty: "set()" };
    return { start: SET_START, end: SET_END, inner: chainList([...value]), obj: value };
  }
  if (value instanceof Map)
    return { start: DICT_START, end: DICT_END, inner: chainDict([...value]), obj: value };
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === "function") return null;
  return { start: DICT_START, end: DICT_END, inner: chainDict(Object.entries(value)), obj: value };
}

/** saferepr.py reprstream: yields [token, the iterator it came from]. */
function* reprstream(
  stack: Stream[],
  maxlevels: number,
  balanced: boolean,
): Generator<[unknown, Stream], void, undefined> {
  const seen = new Set<object>();
  let level = 0;
  while (stack.length > 0) {
    const it = stack.shift() as Stream;
    for (let r = it.next(); !r.done; r = it.next()) {
      const val = r.value;
      if (val instanceof Dirty) {
        seen.delete(val.obj);
        continue;
      }
      if (val instanceof Lit) {
        level += val.direction;
        yield [val, it];
        continue;
      }
      if (val instanceof Key) {
        yield [val, it];
        continue;
      }
      if (typeof val === "string" || val instanceof Uint8Array) {
        yield [new Quoted(val), it];
        continue;
      }
      let scalar: string | null;
      let container: Container | null = null;
      try {
        scalar = scalarRepr(val);
        if (scalar === null) {
          container = asContainer(val as object);
          if (container === null)
            scalar = scalarRepr((val as { toJSON: () => unknown }).toJSON()) ?? String(val);
        }
      } catch (err) {
        // A throwing getter, toJSON, toPythonRepr or a null-prototype object: kombu's safe_repr
        // (kombu/utils/encoding.py, 5.5) falls back to `<Unrepresentable ...>` instead of raising.
        scalar = unrepresentable(val, err);
      }
      if (scalar !== null || container === null) {
        yield [scalar ?? "None", it];
        continue;
      }
      if ("empty" in container) {
        yield [container.empty, it];
        continue;
      }
      if (maxlevels && level >= maxlevels) {
        const text = `${container.start.value}...${container.end.value}`;
        // 5.7 yields a literal so maxlen can't cut it in half; 5.6 a plain string.
        yield [balanced ? new Lit(text, false, 0) : text, it];
        continue;
      }
      if (seen.has(container.obj)) {
        yield [`<Recursion on ${Array.isArray(container.obj) ? "list" : "dict"} with id=0>`, it];
        continue;
      }
      seen.add(container.obj);
      stack.push(chain([container.start], container.inner, [new Dirty(container.obj), container.end], it));
      break;
    }
  }
}

function* saferepStream(o: unknown, maxlenIn: number | null, maxlevels: number, balanced: boolean) {
  let maxlen = maxlenIn;
  const stack: Stream[] = [[o][Symbol.iterator]()];
  const stream = reprstream(stack, maxlevels, balanced);
  for (let r = stream.next(); !r.done; r = stream.next()) {
    const [token, it] = r.value;
    if (maxlen !== null && maxlen <= 0) {
      if (balanced && token instanceof Lit && token.direction < 0) {
        // The cut value was the last of its container: just close it.
        yield token.value;
        continue;
      }
      yield ", ...";
      stack.push(balanced ? chain([token], it) : it);
      break;
    }
    let val: string;
    if (token instanceof Lit) val = token.value;
    else if (token instanceof Key) val = saferepr(token.value, { maxlen, maxlevels, balanced });
    else if (token instanceof Quoted) val = formatChars(token.value, maxlen);
    else val = truncate(token as string, maxlen);
    yield val;
    if (maxlen !== null) maxlen -= pyLen(val);
  }
  // maxlen exceeded: emit the dangling closing brackets.
  let depth = 0;
  for (const rest of stack) {
    for (let r = rest.next(); !r.done; r = rest.next()) {
      const node = r.value;
      if (!(node instanceof Lit) || node.truncate) continue;
      if (!balanced) {
        yield node.value;
        continue;
      }
      // 5.7: a container opened after the limit isn't shown, nor its closing bracket.
      depth += node.direction;
      if (depth < 0) {
        depth = 0;
        yield node.value;
      }
    }
  }
}

/**
 * The same text for the values producers send most (numbers, short strings, small lists, tuples
 * and plain dicts) without the token stream: when the whole repr is shorter than `maxlen` the
 * stream never truncates, so it is each container's items joined by `, `. Null when the value
 * needs the full algorithm (bytes, Maps, Sets, class instances, a repeated container, a repr as
 * long as the budget); the property test in test/unit/protocol/saferepr-fast.test.ts holds the
 * two to the same output.
 */
function shortRepr(value: unknown, maxlen: number | null, maxlevels: number): string | null {
  // Past this UTF-16 length the repr has at least `maxlen` code points: give up early.
  const walk: ShortWalk = {
    cap: maxlen === null ? Number.POSITIVE_INFINITY : 2 * maxlen,
    maxlevels,
    path: [],
  };
  let text: string | null;
  try {
    text = shortItem(walk, value, 0);
  } catch {
    return null; // a throwing getter or hook: the full algorithm writes `<Unrepresentable ...>`
  }
  if (text === null || maxlen === null) return text;
  return text.length < maxlen || pyLen(text) < maxlen ? text : null;
}

/** The state of one {@link shortRepr} walk (plain functions over it: no closures per call). */
interface ShortWalk {
  cap: number;
  maxlevels: number;
  /** The containers being written (a repeated one needs the full algorithm). */
  path: object[];
}

function shortQuote(s: string): string {
  return `'${s.includes("'") ? s.replace(/'/g, "\\'") : s}'`;
}

function shortItem(walk: ShortWalk, v: unknown, level: number): string | null {
  const { cap, maxlevels, path } = walk;
  if (typeof v === "string") return v.length > cap ? null : shortQuote(v);
  if (typeof v !== "object" || v === null) {
    if (typeof v === "function" || typeof v === "symbol") return null;
    return scalarRepr(v);
  }
  if (v instanceof Date) return scalarRepr(v);
  const tuple = v instanceof PyTuple;
  const proto: unknown = Object.getPrototypeOf(v);
  const dict = proto === Object.prototype;
  if (!tuple && !dict && proto !== Array.prototype) return null;
  // A toPythonRepr()/toJSON() method makes it a scalar (scalarRepr, asContainer).
  const hooks = v as { toPythonRepr?: unknown; toJSON?: unknown };
  if (typeof hooks.toPythonRepr === "function" || typeof hooks.toJSON === "function") return null;
  // A `value` text makes a serializer wrapper of that class name a scalar (pyWrapperRepr).
  const expected = tuple ? PyTuple : dict ? Object : Array;
  if (typeof (v as { value?: unknown }).value === "string" && v.constructor !== expected) return null;
  const items = tuple ? v.items : dict ? null : (v as unknown[]);
  const open = tuple ? "(" : dict ? "{" : "[";
  const close = tuple ? (items?.length === 1 ? ",)" : ")") : dict ? "}" : "]";
  if (maxlevels && level >= maxlevels) return `${open}...${close}`;
  if (path.includes(v)) return null;
  path.push(v);
  let out = open;
  if (items) {
    for (let i = 0; i < items.length; i++) {
      const item = shortItem(walk, items[i], level + 1);
      if (item === null || out.length + item.length > cap) return null;
      out += i === 0 ? item : `, ${item}`;
    }
  } else {
    let first = true;
    // Own enumerable keys in Object.entries' order, without its array of pairs.
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      const text = shortItem(walk, (v as Record<string, unknown>)[key], level + 1);
      if (text === null || out.length + key.length + text.length > cap) return null;
      out += `${first ? "" : ", "}${shortQuote(key)}: ${text}`;
      first = false;
    }
  }
  path.pop();
  return out + close;
}

/**
 * celery.utils.saferepr.saferepr(o, maxlen, maxlevels). Never throws: a value
 * whose parts cannot be read is shown as `<Unrepresentable T: error>` (a
 * repr feeds log lines and events on the path that settles a message).
 */
export function saferepr(value: unknown, options: SafereprOptions = {}): string {
  const { maxlen = null, maxlevels = 3, balanced = true } = options;
  return shortRepr(value, maxlen, maxlevels) ?? safereprStreamed(value, maxlen, maxlevels, balanced);
}

/** {@link saferepr} by the token stream alone (celery/utils/saferepr.py `_saferepr`). */
export function safereprStreamed(
  value: unknown,
  maxlen: number | null,
  maxlevels: number,
  balanced: boolean,
): string {
  let out = "";
  try {
    for (const piece of saferepStream(value, maxlen, maxlevels, balanced)) out += piece;
  } catch (err) {
    // Reached only by a value that breaks iteration itself (e.g. a Proxy whose ownKeys trap throws
    // while its entries are streamed); keep what was written and mark the rest.
    out += unrepresentable(value, err);
  }
  return out;
}
