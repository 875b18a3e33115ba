import { isRecord } from "../protocol/guards.js";
import { pyRepr } from "../protocol/py-repr.js";
/**
 * Celery's CLI output helpers (celery/bin/base.py `CLIContext.pretty`,
 * `pretty_list`, `pretty_dict_ok_error`, `say_chat`; celery/utils/text.py
 * `indent`, `pluralize`), without colors.
 */

/** celery/utils/text.py `indent`. */
export function indent(text: string, n: number): string {
  const pad = " ".repeat(n);
  return text
    .split(/\r?\n/)
    .map((line) => pad + line)
    .join("\n");
}

/** celery/utils/text.py `pluralize`. */
export function pluralize(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** Python `str(value)` as `click.echo` prints it. */
export function pyStrOf(value: unknown): string {
  return typeof value === "string" ? value : pyRepr(value);
}

/** `json.dumps(n, sort_keys=True, indent=4)`. */
export function sortedJson(value: unknown, space = 4): string {
  return JSON.stringify(sortKeys(value), null, space);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

/** `CLIContext.pretty`: `[status, text]` for one node's reply. */
export function pretty(reply: unknown): ["OK" | "ERROR", string] {
  if (Array.isArray(reply)) {
    return ["OK", reply.length === 0 ? "- empty -" : reply.map((item) => `* ${pyStrOf(item)}`).join("\n")];
  }
  if (isRecord(reply)) {
    if ("ok" in reply) return ["OK", indent(pretty(reply.ok)[1], 4)];
    if ("error" in reply) return ["ERROR", indent(pretty(reply.error)[1], 4)];
    return ["OK", sortedJson(reply)];
  }
  if (typeof reply === "string") return ["OK", reply];
  return ["OK", pyRepr(reply)];
}

/** `_say_remote_command_reply` through `say_chat('->', ...)`: `->  host: OK` then the indented body. */
export function sayReply(reply: Record<string, unknown>, showReply: boolean): string {
  const [node] = Object.keys(reply);
  if (node === undefined) return "";
  const [status, body] = pretty(reply[node]);
  const lines = [`->  ${node}: ${status}`];
  if (showReply && body) lines.push(indent(body, 4));
  return lines.join("\n");
}

/** `\n{n} node(s) online.` */
export function nodesOnline(n: number): string {
  return `\n${n} ${pluralize(n, "node")} online.`;
}
