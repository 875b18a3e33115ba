import { SEND_OPTION_NAMES, type SignatureLike } from "../canvas/options.js";
import { plain } from "../canvas/signature.js";
import { ConfigError } from "../errors.js";
import { rejectUnknownKeys } from "../option-checks.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { COMPRESSION_NAMES, SERIALIZER_NAMES } from "../serialization/index.js";

export { SEND_OPTION_NAMES } from "../canvas/options.js";

function fail(option: string, accepted: string, value: unknown): never {
  const shown = value instanceof Date ? `Date(${value.getTime()})` : (JSON.stringify(value) ?? String(value));
  throw new ConfigError(option, `${option} must be ${accepted} (got ${shown})`);
}

function isSignature(value: unknown): value is SignatureDict {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof (value as { task?: unknown }).task === "string"
  );
}

/** Normalizes link/linkError to a list of signature dicts (a canvas Signature becomes its dict). */
export function signatureList(
  option: string,
  value: SignatureLike | SignatureLike[] | undefined,
): SignatureDict[] | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  for (const sig of list) {
    if (!isSignature(sig))
      fail(
        option,
        "a signature (s(), si(), signature()) or its dict {task, args, kwargs, options, subtask_type, immutable}, or a list of them",
        sig,
      );
  }
  return list.map((sig) => plain(sig) as SignatureDict);
}

function checkNumber(o: Record<string, unknown>, key: string, min: number, integer: boolean): void {
  const v = o[key];
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    fail(key, `${integer ? "an integer" : "a number"} >= ${min}`, v);
  }
}

function checkString(o: Record<string, unknown>, key: string, nonEmpty: boolean): void {
  const v = o[key];
  if (v !== undefined && (typeof v !== "string" || (nonEmpty && v === "")))
    fail(key, `a${nonEmpty ? " non-empty" : ""} string`, v);
}

/** Throws a {@link ConfigError} naming the first bad option and what it accepts. */
export function checkSendOptions(name: unknown, args: unknown, kwargs: unknown, options: unknown): void {
  if (typeof name !== "string" || name === "") fail("name", "a non-empty task name string", name);
  if (args !== undefined && args !== null && !Array.isArray(args))
    fail("args", "an array of positional arguments", args);
  if (kwargs !== undefined && kwargs !== null && (typeof kwargs !== "object" || Array.isArray(kwargs))) {
    fail("kwargs", "an object of keyword arguments", kwargs);
  }
  if (options === undefined || options === null) return;
  if (typeof options !== "object" || Array.isArray(options)) fail("options", "an object", options);
  const o = options as Record<string, unknown>;
  rejectUnknownKeys("sendTask option", o, SEND_OPTION_NAMES);
  checkNumber(o, "countdown", 0, false);
  if (o.eta !== undefined && !(o.eta instanceof Date && !Number.isNaN(o.eta.getTime())))
    fail("eta", "a valid Date", o.eta);
  if (o.expires !== undefined) {
    const e = o.expires;
    const ok =
      (typeof e === "number" && Number.isFinite(e)) || (e instanceof Date && !Number.isNaN(e.getTime()));
    if (!ok) fail("expires", "seconds (a number) or a valid Date", e);
  }
  checkNumber(o, "priority", 0, true);
  if (typeof o.priority === "number" && o.priority > 255)
    fail("priority", "an integer 0-255 (0-9 on Redis)", o.priority);
  checkString(o, "queue", true);
  checkString(o, "exchange", false);
  checkString(o, "routingKey", false);
  if (
    o.headers !== undefined &&
    (o.headers === null || typeof o.headers !== "object" || Array.isArray(o.headers))
  ) {
    fail("headers", "an object of header names to JSON values", o.headers);
  }
  checkString(o, "taskId", true);
  checkString(o, "shadow", false);
  checkNumber(o, "timeLimit", 0, false);
  checkNumber(o, "softTimeLimit", 0, false);
  if (o.ignoreResult !== undefined && typeof o.ignoreResult !== "boolean")
    fail("ignoreResult", "true or false", o.ignoreResult);
  if (o.serializer !== undefined && !(SERIALIZER_NAMES as readonly unknown[]).includes(o.serializer)) {
    fail("serializer", `one of ${SERIALIZER_NAMES.map((s) => JSON.stringify(s)).join(", ")}`, o.serializer);
  }
  if (o.compression !== undefined && !(COMPRESSION_NAMES as readonly unknown[]).includes(o.compression)) {
    fail(
      "compression",
      `one of ${COMPRESSION_NAMES.map((s) => JSON.stringify(s)).join(", ")}`,
      o.compression,
    );
  }
  checkString(o, "replyTo", false);
  signatureList("link", o.link as SignatureDict | undefined);
  signatureList("linkError", o.linkError as SignatureDict | undefined);
  checkString(o, "parentId", false);
  checkString(o, "rootId", false);
  checkString(o, "groupId", false);
  checkNumber(o, "groupIndex", 0, true);
  checkString(o, "argsrepr", false);
  checkString(o, "kwargsrepr", false);
}
