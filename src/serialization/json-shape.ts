/**
 * `JSON.stringify(record)` for flat records that come in repeated shapes (a task message's
 * headers and properties: the same keys in the same order, most values equal from one message
 * of a task to the next, a few per-message ones such as the id or argsrepr). The first record
 * of a shape is written member by member into a template: the constant members' JSON text is
 * kept as fixed segments and only the variable members are encoded per record. A record whose
 * keys or constant values differ rebuilds the shape's template; a constant member that changed
 * becomes variable from then on, so a counter in a custom header does not rebuild it every time.
 *
 * Exactness: the text is the one `JSON.stringify` writes for the record, or `undefined` when
 * the record holds anything this writer does not reproduce itself (a bigint, a `toJSON` method,
 * `undefined`, a function, nested containers, a non-plain object): the caller then encodes
 * with `JSON.stringify` as before. Values inside the template are compared with `===`, one
 * level into plain arrays and objects of primitives.
 */

/** A member value this writer reproduces exactly: a primitive or a flat plain array/object of primitives. */
function isSimple(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return true;
    case "object":
      return value === null || isFlatContainer(value);
    default:
      return false;
  }
}

function isPrimitive(value: unknown): boolean {
  const type = typeof value;
  return type === "string" || type === "number" || type === "boolean" || value === null;
}

function isFlatContainer(value: object): boolean {
  // JSON.stringify calls a toJSON method (own or inherited) of any object it writes.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPrimitive(value[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key of Object.keys(value))
    if (!isPrimitive((value as Record<string, unknown>)[key])) return false;
  return true;
}

/** `a` and `b` write the same JSON: equal primitives, or flat containers with equal members. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== "object" || a === null;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (typeof (a as { toJSON?: unknown }).toJSON === "function") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  for (let i = 0; i < aKeys.length; i++) {
    const key = aKeys[i] as string;
    if (key !== bKeys[i]) return false;
    if ((a as Record<string, unknown>)[key] !== (b as Record<string, unknown>)[key]) return false;
  }
  return true;
}

const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(text)`, without its escaping pass for the usual ASCII text (ids, names). */
export function jsonStringLiteral(text: string): string {
  return PLAIN_STRING.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** JSON.stringify of a value {@link isSimple} accepted. */
function simpleJson(value: unknown): string {
  if (typeof value === "string") return jsonStringLiteral(value);
  if (value === null) return "null";
  return JSON.stringify(value) as string;
}

interface Shape {
  keys: string[];
  /** Per key: the value the template holds (compared per record), VARIABLE or OMITTED. */
  constants: unknown[];
  /** JSON text before each variable member's value (its key included), then the tail. */
  segments: string[];
  /** Key positions of the variable members, in order. */
  variables: number[];
}

const VARIABLE = Symbol("variable");
const OMITTED = Symbol("omitted");

/** Most shapes one cache keeps (a producer's task names); past it the cache starts over. */
const MAX_SHAPES = 256;

export interface JsonShapeOptions {
  /** Members expected to differ per record (ids, reprs): never part of a template. */
  variableKeys: ReadonlySet<string>;
  /** Members left out of the text whatever their value (the caller writes its own). */
  omitKeys?: ReadonlySet<string>;
}

export class JsonShapeCache {
  private readonly shapes = new Map<string, Shape>();
  private readonly variableKeys: ReadonlySet<string>;
  private readonly omitKeys: ReadonlySet<string>;

  constructor(options: JsonShapeOptions) {
    this.variableKeys = options.variableKeys;
    this.omitKeys = options.omitKeys ?? new Set();
  }

  /**
   * `JSON.stringify(record)` (less the omitted keys), through the template of `shapeKey`
   * (records of one key usually share a shape); `undefined` when the record cannot be
   * written here (see the module comment).
   */
  stringify(record: Record<string, unknown>, shapeKey: string): string | undefined {
    const members = this.members(record, shapeKey);
    return members === undefined ? undefined : `{${members}}`;
  }

  /** What {@link stringify} writes between the braces. */
  members(record: Record<string, unknown>, shapeKey: string): string | undefined {
    if (typeof record !== "object" || record === null) return undefined;
    if (Object.getPrototypeOf(record) !== Object.prototype) return undefined;
    if (typeof record.toJSON === "function") return undefined;
    const shape = this.shapes.get(shapeKey);
    if (shape !== undefined) {
      const out = fill(shape, record);
      if (out !== null) return out;
    }
    const rebuilt = this.build(Object.keys(record), record, shape);
    if (rebuilt === undefined) return undefined;
    if (this.shapes.size >= MAX_SHAPES && shape === undefined) this.shapes.clear();
    this.shapes.set(shapeKey, rebuilt);
    return fill(rebuilt, record) ?? undefined;
  }

  /**
   * A template for `record`; members that differ from `previous` (same keys) become variable.
   * undefined when a member is not {@link isSimple}.
   */
  private build(
    keys: readonly string[],
    record: Record<string, unknown>,
    previous?: Shape,
  ): Shape | undefined {
    const sameKeys =
      previous !== undefined &&
      previous.keys.length === keys.length &&
      previous.keys.every((key, i) => key === keys[i]);
    const constants: unknown[] = [];
    const segments: string[] = [];
    const variables: number[] = [];
    let text = "";
    let written = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (this.omitKeys.has(key)) {
        constants.push(OMITTED);
        continue;
      }
      const value = record[key];
      if (!isSimple(value)) return undefined;
      text += `${written++ === 0 ? "" : ","}${JSON.stringify(key)}:`;
      const changed = sameKeys && !sameValue(value, previous.constants[i]);
      if (this.variableKeys.has(key) || changed) {
        constants.push(VARIABLE);
        segments.push(text);
        variables.push(i);
        text = "";
      } else {
        // A container is copied: the caller may change the record's array after this call.
        constants.push(
          Array.isArray(value) ? [...value] : isPrimitive(value) ? value : { ...(value as object) },
        );
        text += simpleJson(value);
      }
    }
    segments.push(text);
    return { keys: [...keys], constants, segments, variables };
  }
}

/**
 * The record through `shape`, or null when a key or a constant value differs. Its keys are
 * walked with `for...in` rather than `Object.keys`, which allocated an array per record: for a
 * plain object (its prototype checked by the caller) both list the own enumerable string keys in
 * the same order, and an enumerable key someone added to Object.prototype comes after them, so
 * the count differs and the record goes to `JSON.stringify`, which ignores it.
 */
function fill(shape: Shape, record: Record<string, unknown>): string | null {
  const { keys, constants } = shape;
  let i = 0;
  for (const key in record) {
    if (key !== keys[i]) return null;
    const constant = constants[i];
    if (constant !== VARIABLE && constant !== OMITTED && !sameValue(record[key], constant)) return null;
    i++;
  }
  if (i !== keys.length) return null;
  const { segments, variables } = shape;
  let out = segments[0] as string;
  for (let v = 0; v < variables.length; v++) {
    const value = record[keys[variables[v] as number] as string];
    if (!isSimple(value)) return null;
    out += simpleJson(value) + (segments[v + 1] as string);
  }
  return out;
}
