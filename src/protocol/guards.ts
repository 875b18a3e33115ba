/** Small, total type guards shared by the builders and parsers (never throw on any input). */

/** Any non-null, non-array object (a decoded dict, a class instance, ...). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A plain JSON-like object: not null, not an array, prototype Object or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The value when it is a string, else undefined (an option read from a decoded dict). */
export function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A short, safe description of any value for error messages (no throwing getters, no cycles). */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "object":
      if (Array.isArray(value)) return `an array of ${value.length}`;
      if (value instanceof Date) return "a Date";
      return isPlainObject(value) ? "an object" : `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
    default:
      return `a ${typeof value}`;
  }
}

/** Own-property read that never touches the prototype chain (`__proto__`, `constructor`, …). */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * `target[key] = value` that also works for a decoded `"__proto__"` key
 * (plain assignment would replace the prototype and drop the key). An
 * existing key keeps its position, as Python's `dict.update` does.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** `Object.assign` with {@link setOwn} semantics (`headers2.update(headers)`). */
export function assignOwn(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key of Object.keys(source)) setOwn(target, key, source[key]);
}
