import { isRecord } from "./guards.js";
import { pyNumberRepr } from "./py-scalar-repr.js";

/**
 * Python's `repr(str)` (Objects/unicodeobject.c `unicode_repr`), for text from the wire that goes
 * into a log line. Celery logs an unregistered task's name as the repr of a KeyError
 * (celery/worker/consumer/consumer.py `on_unknown_task`), so a name holding a newline shows as
 * `'a\nb'` and cannot forge a second log line.
 */

/** Python's `str.isprintable()` is false for these characters (the ASCII space excepted). */
const NOT_PRINTABLE = /(?! )[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
/**
 * Printable ASCII (space to `~`), every one of them printable for Python: task names and ids
 * are, and this test is much cheaper than the Unicode property classes above (log labels of
 * every task pass through {@link logSafe}).
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function escapeCodePoint(cp: number): string {
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** `repr(s)`: single quotes unless the text holds `'` and no `"`; escapes as Python does. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (NOT_PRINTABLE.test(ch)) out += escapeCodePoint(cp);
    else out += ch;
  }
  return out + quote;
}

/**
 * Python's builtin `repr` of a decoded JSON value, as `print(f"{value}")` shows a dict or list
 * (`celery inspect`'s output, celery/bin/base.py `CLIContext.pretty`). Not Celery's `saferepr`
 * (protocol/saferepr.ts), which quotes strings in containers its own way and truncates.
 * A JSON number that is an integer prints as one: the float/int distinction did not survive JSON.
 */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return pyNumberRepr(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string") return pyStrRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (isRecord(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`)
      .join(", ")}}`;
  }
  return String(value);
}

/** Python's repr of a set of str: `{'a', 'b'}`, `set()` when empty. */
export function pySetRepr(items: readonly string[]): string {
  return items.length === 0 ? "set()" : `{${items.map(pyStrRepr).join(", ")}}`;
}

/**
 * Text for a log line: unchanged when every character is printable (so ordinary lines read as
 * Celery's), else its Python repr, so a newline or control character from the wire cannot start
 * a forged line or hide part of one.
 */
export function logSafe(text: string): string {
  return PRINTABLE_ASCII.test(text) || !NOT_PRINTABLE.test(text) ? text : pyStrRepr(text);
}
