/**
 * Python's `repr(str)` (Objects/unicodeobject.c `unicode_repr`), for text from the wire that goes
 * into a log line. Celery logs an unregistered task's name as the repr of a KeyError
 * (celery/worker/consumer/consumer.py `on_unknown_task`), so a name holding a newline shows as
 * `'a\nb'` and cannot forge a second log line.
 */

/** Python's `str.isprintable()` is false for these characters (the ASCII space excepted). */
const NOT_PRINTABLE = /(?! )[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

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
    else if (NOT_PRINTABLE.test(ch)) out += escapeCodePoint(cp);
    else out += ch;
  }
  return out + quote;
}

/**
 * Text for a log line: unchanged when every character is printable (so ordinary lines read as
 * Celery's), else its Python repr, so a newline or control character from the wire cannot start
 * a forged line or hide part of one.
 */
export function logSafe(text: string): string {
  return NOT_PRINTABLE.test(text) ? pyStrRepr(text) : text;
}
