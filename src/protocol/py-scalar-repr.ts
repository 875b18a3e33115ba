/**
 * The scalar half of celery/utils/saferepr.py `saferepr` (5.7.0): the text of a value Python
 * would `repr()` directly (its "other object" branch) - None, bools, numbers, datetimes and the
 * serializer's lossless wrappers - and kombu's `<Unrepresentable ...>` for a value whose repr
 * raised. The container/truncation algorithm is in saferepr.ts.
 */
import { pyFloatRepr } from "./py-float.js";

/**
 * Python `repr()` of the value Python decodes from `JSON.stringify(n)`: an integral number
 * below 1e21 is written as digits and decodes to `int`; any other finite number is a float
 * (`float.__repr__`, {@link pyFloatRepr}).
 */
export function pyNumberRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n === 0 ? 0 : n);
  return pyFloatRepr(n);
}

/** `datetime.timezone(...)` repr for an offset in seconds east of UTC. */
function tzRepr(offsetSeconds: number): string {
  if (offsetSeconds === 0) return "datetime.timezone.utc";
  // timedelta normalizes negatives to days=-1, seconds=86400-x.
  const delta = offsetSeconds > 0 ? `seconds=${offsetSeconds}` : `days=-1, seconds=${86_400 + offsetSeconds}`;
  return `datetime.timezone(datetime.timedelta(${delta}))`;
}

/** datetime/time `__repr__`: a trailing zero microsecond, then a zero second, are dropped. */
function temporalRepr(kind: "datetime" | "time", fields: number[], offsetSeconds: number | null): string {
  const parts = [...fields];
  if (parts[parts.length - 1] === 0) parts.pop();
  if (parts[parts.length - 1] === 0) parts.pop();
  const tz = offsetSeconds === null ? "" : `, tzinfo=${tzRepr(offsetSeconds)}`;
  return `datetime.${kind}(${parts.join(", ")}${tz})`;
}

function datetimeRepr(d: Date): string {
  if (Number.isNaN(d.getTime())) return "datetime.datetime(invalid)";
  const fields = [
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
  ];
  return temporalRepr("datetime", [...fields, d.getUTCSeconds(), d.getUTCMilliseconds() * 1000], 0);
}

const TIME_TEXT = /^(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function offsetSecondsOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (text === "Z") return 0;
  const digits = text.slice(1).replace(":", "");
  const seconds = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60;
  return text.startsWith("-") ? -seconds : seconds;
}

function timeFields(text: string): [number[], number | null] | null {
  const m = TIME_TEXT.exec(text);
  if (!m) return null;
  const micro = Number((m[4] ?? "").padEnd(6, "0"));
  return [[Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), micro], offsetSecondsOf(m[5])];
}

/**
 * Reprs of the serializer's lossless wrappers (src/serialization/pytypes.ts),
 * recognised by class name and their `value` text so that protocol/ does not
 * import serialization/: exactly what Python's repr of the decoded value prints.
 */
function pyWrapperRepr(name: string, text: string): string | null {
  switch (name) {
    case "PyDecimal":
      return `Decimal('${text}')`;
    case "PyUUID":
      return `UUID('${text}')`;
    case "PyDate": {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
      return m ? `datetime.date(${Number(m[1])}, ${Number(m[2])}, ${Number(m[3])})` : null;
    }
    case "PyTime": {
      const parsed = timeFields(text);
      return parsed ? temporalRepr("time", ...parsed) : null;
    }
    case "PyDateTime": {
      const m = /^(\d{4})-(\d{2})-(\d{2})[T ](.*)$/.exec(text);
      const parsed = m ? timeFields(m[4] ?? "") : null;
      if (!m || !parsed) return null;
      return temporalRepr("datetime", [Number(m[1]), Number(m[2]), Number(m[3]), ...parsed[0]], parsed[1]);
    }
    default:
      return null;
  }
}

/** The text of a value Python would `repr()` directly (saferepr's "other object" branch). */
export function scalarRepr(value: unknown): string | null {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return pyNumberRepr(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function") return `<function ${value.name || "<anonymous>"}>`;
  if (typeof value === "symbol") return String(value);
  if (value instanceof Date) return datetimeRepr(value);
  if (typeof value === "object") {
    const hook = (value as { toPythonRepr?: unknown }).toPythonRepr;
    if (typeof hook === "function") return String(hook.call(value));
    const text = (value as { value?: unknown }).value;
    if (typeof text === "string") {
      const wrapped = pyWrapperRepr(value.constructor?.name ?? "", text);
      if (wrapped !== null) return wrapped;
    }
  }
  return null;
}

/** The text of an error without trusting it (its `message` may itself be a throwing getter). */
function errorText(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : typeof err === "string" ? err : typeof err;
  } catch {
    return "error";
  }
}

/** kombu/utils/encoding.py `_safe_str` for a value whose repr raised: `<Unrepresentable T: error>`. */
export function unrepresentable(value: unknown, err: unknown): string {
  let type: string = typeof value;
  try {
    if (typeof value === "object" && value !== null) type = value.constructor?.name ?? "Object";
  } catch {
    // a Proxy or a throwing `constructor` getter: keep typeof
  }
  return `<Unrepresentable ${type}: ${errorText(err)}>`;
}
