/**
 * The caller's inputs to protocol/build.ts, checked and resolved as celery/app/amqp.py
 * `AMQP.as_task_v2` and celery/app/base.py `Celery.send_task` (5.7.0) resolve them: optional
 * fields (a ProtocolError naming the field), signatures, args/kwargs, and the times
 * (`countdown` -> `eta`, `expires` -> ISO text and kombu's `expiration` property).
 */
import { ProtocolError } from "../errors.js";
import { formatIsoUtc, parseIsoDatetime } from "./datetime.js";
import { describeValue, isPlainObject } from "./guards.js";
import type { SignatureDict } from "./task-message.js";

export function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string")
    throw new ProtocolError(`${field} must be a string or null, got ${describeValue(value)}`);
  return value;
}

export function optionalNumber(
  value: unknown,
  field: string,
  opts: { integer?: boolean; min?: number } = {},
): number | null {
  if (value === undefined || value === null) return null;
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    (opts.integer && !Number.isInteger(value)) ||
    (opts.min !== undefined && value < opts.min)
  ) {
    const kind = opts.integer ? "an integer" : "a finite number";
    const range = opts.min !== undefined ? ` >= ${opts.min}` : "";
    throw new ProtocolError(`${field} must be ${kind}${range} or null, got ${describeValue(value)}`);
  }
  return value;
}

export function checkSignatureList(value: unknown, field: string): SignatureDict[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw new ProtocolError(`${field} must be an array of signatures or null`);
  for (const [i, sig] of value.entries()) checkSignature(sig, `${field}[${i}]`);
  return value as SignatureDict[];
}

export function checkSignature(value: unknown, field: string): SignatureDict | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value) || typeof value.task !== "string") {
    throw new ProtocolError(
      `${field} must be a signature object with a string "task", got ${describeValue(value)}`,
    );
  }
  return value as SignatureDict;
}

/** Validated args/kwargs: `args or ()`, `kwargs or {}` with as_task_v2's type checks. */
export function checkArgs(input: {
  args?: readonly unknown[] | null;
  kwargs?: Record<string, unknown> | null;
}): { args: unknown[]; kwargs: Record<string, unknown> } {
  const args = input.args ?? [];
  if (!Array.isArray(args)) {
    throw new ProtocolError(`args must be an array (a Python list/tuple), got ${describeValue(args)}`);
  }
  const kwargs = input.kwargs ?? {};
  if (!isPlainObject(kwargs)) {
    throw new ProtocolError(`kwargs must be a plain object (a Python mapping), got ${describeValue(kwargs)}`);
  }
  return { args: args as unknown[], kwargs };
}

/**
 * A Python datetime kept as its exact `isoformat()` text (the serializer's
 * PyDateTime): written verbatim, as as_task_v2 writes `eta.isoformat()` of the
 * caller's datetime (its own offset and microseconds).
 */
export interface IsoDatetimeText {
  readonly value: string;
  toDate(): Date;
}

function isIsoDatetimeText(value: unknown): value is IsoDatetimeText {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { value?: unknown }).value === "string" &&
    typeof (value as { toDate?: unknown }).toDate === "function"
  );
}

/** The header text and instant of an eta/expires given as a Date, an ISO string or an IsoDatetimeText. */
function datetimeInput(value: Date | string | IsoDatetimeText, field: string): { text: string; date: Date } {
  if (isIsoDatetimeText(value)) return { text: value.value, date: parseIsoDatetime(value.value, field) };
  const date = toDate(value, field);
  return { text: typeof value === "string" ? value : formatIsoUtc(date, field), date };
}

function toDate(value: Date | string, field: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ProtocolError(`${field} is an invalid Date`);
    return value;
  }
  return parseIsoDatetime(value, field);
}

export interface Times {
  eta: string | null;
  expires: string | null;
  /** kombu `expiration` property, or undefined when `expires` was not given. */
  expiration: string | undefined;
}

/** The fields of BuildTaskInput that set `eta`, `expires` and `expiration`. */
export interface TimeInput {
  countdown?: number | null;
  eta?: Date | string | IsoDatetimeText | null;
  expires?: number | Date | string | IsoDatetimeText | null;
  expiresSeconds?: number;
}

/** countdown -> eta, expires -> ISO + `expiration` (as_task_v2 + Celery.send_task + Producer.publish). */
export function resolveTimes(input: TimeInput, now: Date): Times {
  const countdown = optionalNumber(input.countdown, "countdown");
  let eta: string | null = null;
  if (countdown) {
    eta = formatIsoUtc(new Date(now.getTime() + countdown * 1000), "eta");
  } else if (input.eta !== undefined && input.eta !== null) {
    if (typeof input.eta !== "string" && !(input.eta instanceof Date) && !isIsoDatetimeText(input.eta)) {
      throw new ProtocolError(`eta must be a Date or an ISO-8601 string, got ${describeValue(input.eta)}`);
    }
    eta = datetimeInput(input.eta, "eta").text;
  }

  const raw = input.expires;
  if (raw === undefined || raw === null) return { eta, expires: null, expiration: undefined };
  let expires: string;
  let expiresSeconds: number;
  if (typeof raw === "number") {
    optionalNumber(raw, "expires");
    expires = formatIsoUtc(new Date(now.getTime() + raw * 1000), "expires");
    expiresSeconds = raw;
  } else if (typeof raw === "string" || raw instanceof Date || isIsoDatetimeText(raw)) {
    const { text, date } = datetimeInput(raw, "expires");
    expires = text;
    expiresSeconds = input.expiresSeconds ?? (date.getTime() - now.getTime()) / 1000;
  } else {
    throw new ProtocolError(
      `expires must be seconds, a Date or an ISO-8601 string, got ${describeValue(raw)}`,
    );
  }
  // Celery.send_task clamps a past expiry to 0 ("expired upon reaching a queue").
  const expiration = String(Math.trunc(Math.max(0, expiresSeconds) * 1000));
  return { eta, expires, expiration };
}
