/**
 * Turns a received task message (already decoded by the serializer) into one
 * normalized {@link TaskRequest}, whatever protocol the producer spoke:
 *
 * - **v2**: `headers.task` present, body `[args, kwargs, embed]` (exactly 3
 *   elements: a 2-element body crashes Python workers, we reject it cleanly).
 * - **hybrid**: `headers.task` present and a dict body holding `args`
 *   (mirrors celery/worker/strategy.py `hybrid_to_proto2`: headers are built
 *   from the body fields, then the message headers are merged over them).
 * - **v1**: no `headers.task`, a dict body with `task` (the consumer's
 *   fallback in celery/worker/consumer/consumer.py `on_task_received`). With
 *   `args` Celery runs it through `hybrid_to_proto2` too; without, through
 *   `proto1_to_proto2` (args `()`, kwargs `{}`, `taskset` -> `group`).
 *
 * Field handling mirrors celery/worker/request.py `Request.__init__`. Every
 * malformed input raises ProtocolError naming what is wrong; nothing else is
 * ever thrown.
 */
import { ProtocolError } from "../errors.js";
import { parseIsoDatetime } from "./datetime.js";
import { assignOwn, describeValue, isPlainObject, own, setOwn } from "./guards.js";
import { CELERY_HEADER_KEYS, HYBRID_FIELDS } from "./header-keys.js";
import { saferepr } from "./saferepr.js";
import type { Embed, SignatureDict } from "./task-message.js";

export interface RawDeliveryInfo {
  exchange?: string | null;
  routingKey?: string | null;
  redelivered?: boolean;
}

/** What a transport hands over: headers, properties and the decoded body. */
export interface RawTaskMessage {
  headers?: Record<string, unknown> | null;
  properties?: Record<string, unknown> | null;
  /** The decoded body (`message.payload`). */
  payload: unknown;
  deliveryInfo?: RawDeliveryInfo | null;
}

export type TaskProtocol = "v2" | "hybrid" | "v1";

/** One task request, normalized from any protocol (Celery's `Request` + `Context` fields, camelCase). */
export interface TaskRequest {
  protocol: TaskProtocol;
  id: string;
  /** The registered task name (`headers.task`). */
  name: string;
  /** Display name for logs/events (`Request.name` is `shadow or task`). */
  shadow: string | null;
  args: unknown[];
  kwargs: Record<string, unknown>;
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
  eta: Date | null;
  expires: Date | null;
  retries: number;
  /** `[hard, soft]` seconds. */
  timeLimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  group: string | null;
  groupIndex: number | null;
  /** null = use the task's own setting (5.7 `send_task()` default). */
  ignoreResult: boolean | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string | null;
  replyTo: string | null;
  correlationId: string | null;
  priority: number | null;
  deliveryInfo: {
    exchange: string | null;
    routingKey: string | null;
    priority: number | null;
    redelivered: boolean;
  };
  /** Non-Celery headers only (celery/app/task.py `Context._get_custom_headers`); `{}` when none. */
  headers: Record<string, unknown>;
  /** False only for v1/hybrid bodies that say `utc: false` (a naive ETA is then local time to Python). */
  utc: boolean;
  replacedTaskNesting: number;
  stampedHeaders: string[] | null;
  stamps: Record<string, unknown> | null;
}

const fail = (message: string): never => {
  throw new ProtocolError(message);
};

function requiredString(d: Record<string, unknown>, key: string, where: string): string {
  const v = own(d, key);
  if (typeof v !== "string" || v === "") {
    return fail(`${where}.${key} must be a non-empty string, got ${describeValue(v)}`);
  }
  return v;
}

function nullableString(d: Record<string, unknown>, key: string, where: string): string | null {
  const v = own(d, key);
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") return fail(`${where}.${key} must be a string or null, got ${describeValue(v)}`);
  return v;
}

function nullableInt(d: Record<string, unknown>, key: string, where: string): number | null {
  const v = own(d, key);
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    return fail(`${where}.${key} must be an integer or null, got ${describeValue(v)}`);
  }
  return v;
}

function nullableBoolean(d: Record<string, unknown>, key: string, where: string): boolean | null {
  const v = own(d, key);
  if (v === undefined || v === null) return null;
  if (typeof v !== "boolean")
    return fail(`${where}.${key} must be a boolean or null, got ${describeValue(v)}`);
  return v;
}

/**
 * `eta`/`expires`: an ISO-8601 string (dateutil isoparse rules). A naive value is UTC whatever
 * the app's `timezone`/`enable_utc`, as Celery's worker reads it (celery/worker/request.py
 * `Request.__init__` -> celery/utils/time.py `maybe_make_aware` with `naive_as_utc=True`, 5.7.0;
 * `tzlocal` only picks the zone the aware value is shown in),
 * or a Date / an object with `toDate(): Date` when the decoder already turned
 * a kombu `{"__type__": "datetime"}` marker into one. `""` counts as absent
 * (`maybe_iso8601` returns None for falsy values).
 */
function datetimeField(d: Record<string, unknown>, key: string, where: string): Date | null {
  const v = own(d, key);
  if (v === undefined || v === null || v === "") return null;
  const field = `${where}.${key}`;
  if (typeof v === "string") return parseIsoDatetime(v, field);
  let date: unknown = v;
  if (
    !(v instanceof Date) &&
    typeof v === "object" &&
    typeof (v as { toDate?: unknown }).toDate === "function"
  ) {
    try {
      date = (v as { toDate: () => unknown }).toDate();
    } catch (err) {
      return fail(
        `${field} could not be converted to a date: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (date instanceof Date && !Number.isNaN(date.getTime())) return date;
  return fail(`${field} must be an ISO-8601 string or a datetime, got ${describeValue(v)}`);
}

function timeLimitField(d: Record<string, unknown>, where: string): [number | null, number | null] {
  const v = own(d, "timelimit");
  // `if timelimit:` - absent, null and an empty list mean "no limits".
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return [null, null];
  const ok = (x: unknown) => x === null || (typeof x === "number" && Number.isFinite(x) && x >= 0);
  if (!Array.isArray(v) || v.length !== 2 || !ok(v[0]) || !ok(v[1])) {
    return fail(`${where}.timelimit must be [hard, soft] with numbers >= 0 or null, got ${describeValue(v)}`);
  }
  return [v[0] as number | null, v[1] as number | null];
}

function signature(v: unknown, field: string): SignatureDict {
  if (!isPlainObject(v) || typeof own(v, "task") !== "string") {
    return fail(`${field} must be a signature object with a string "task", got ${describeValue(v)}`);
  }
  return v as SignatureDict;
}

function signatureList(v: unknown, field: string): SignatureDict[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v))
    return fail(`${field} must be a list of signatures or null, got ${describeValue(v)}`);
  return v.map((sig, i) => signature(sig, `${field}[${i}]`));
}

function parseEmbed(v: unknown, where: string): Embed {
  if (v === undefined || v === null) return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (!isPlainObject(v)) return fail(`${where} must be an object or null, got ${describeValue(v)}`);
  const chord = own(v, "chord");
  return {
    callbacks: signatureList(own(v, "callbacks"), `${where}.callbacks`),
    errbacks: signatureList(own(v, "errbacks"), `${where}.errbacks`),
    chain: signatureList(own(v, "chain"), `${where}.chain`),
    chord: chord === undefined || chord === null ? null : signature(chord, `${where}.chord`),
  };
}

function customHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(headers)) {
    if (!CELERY_HEADER_KEYS.has(key)) setOwn(out, key, headers[key]);
  }
  return out;
}

function argsAndKwargs(args: unknown, kwargs: unknown, where: string) {
  if (!Array.isArray(args)) fail(`${where} args must be a list, got ${describeValue(args)}`);
  if (!isPlainObject(kwargs))
    fail(`${where} kwargs must be a mapping (object), got ${describeValue(kwargs)}`);
  return { args: args as unknown[], kwargs: kwargs as Record<string, unknown> };
}

interface Normalized {
  protocol: TaskProtocol;
  fields: Record<string, unknown>;
  where: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
  utc: boolean;
  custom: Record<string, unknown>;
}

/** The dict-body paths: hybrid_to_proto2 (body has `args`) and proto1_to_proto2 (it doesn't). */
function fromDictBody(
  body: Record<string, unknown>,
  headers: Record<string, unknown>,
  protocol: "hybrid" | "v1",
): Normalized {
  const hasArgs = Object.hasOwn(body, "args");
  const { args, kwargs } = argsAndKwargs(
    hasArgs ? body.args : [],
    Object.hasOwn(body, "kwargs") ? body.kwargs : {},
    "body",
  );
  const fields: Record<string, unknown> = {};
  for (const key of HYBRID_FIELDS) fields[key] = own(body, key);
  fields.retries ??= 0;
  // proto1_to_proto2 maps `taskset` to `group`; v1 bodies carry both.
  fields.group ??= own(body, "taskset");
  if (protocol === "hybrid") assignOwn(fields, headers);
  const utc = own(body, "utc") ?? true;
  if (typeof utc !== "boolean") fail(`body.utc must be a boolean, got ${describeValue(utc)}`);
  const embed = parseEmbed(
    {
      callbacks: own(body, "callbacks"),
      errbacks: own(body, "errbacks"),
      chord: own(body, "chord"),
      chain: null,
    },
    "body",
  );
  return {
    protocol,
    fields,
    where: protocol === "hybrid" ? "headers" : "body",
    args,
    kwargs,
    embed,
    utc: utc as boolean,
    custom: customHeaders(headers),
  };
}

function normalize(raw: RawTaskMessage): Normalized {
  const rawHeaders = raw.headers ?? {};
  if (!isPlainObject(rawHeaders)) return fail(`headers must be an object, got ${describeValue(rawHeaders)}`);
  const payload = raw.payload;
  if (Object.hasOwn(rawHeaders, "task")) {
    if (isPlainObject(payload) && Object.hasOwn(payload, "args"))
      return fromDictBody(payload, rawHeaders, "hybrid");
    if (!Array.isArray(payload) || payload.length !== 3) {
      return fail(
        `a protocol v2 body must be the 3-element array [args, kwargs, embed], got ${describeValue(payload)}`,
      );
    }
    const { args, kwargs } = argsAndKwargs(payload[0], payload[1], "body");
    return {
      protocol: "v2",
      fields: rawHeaders,
      where: "headers",
      args,
      kwargs,
      embed: parseEmbed(payload[2], "body embed"),
      utc: true,
      custom: customHeaders(rawHeaders),
    };
  }
  if (!isPlainObject(payload) || !Object.hasOwn(payload, "task")) {
    return fail(
      "not a task message: no headers.task (protocol v2) and the body is not a dict with task (v1)",
    );
  }
  return fromDictBody(payload, rawHeaders, "v1");
}

/** Parses any task message Celery would accept into one {@link TaskRequest}; throws only ProtocolError. */
export function parseTaskMessage(raw: RawTaskMessage): TaskRequest {
  try {
    return parseUnchecked(raw);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError(`malformed task message: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

function parseUnchecked(raw: RawTaskMessage): TaskRequest {
  if (!isPlainObject(raw)) return fail("raw message must be an object");
  const n = normalize(raw);
  const d = n.fields;
  const w = n.where;
  const properties = raw.properties ?? {};
  if (!isPlainObject(properties))
    return fail(`properties must be an object, got ${describeValue(properties)}`);
  const deliveryInfo = raw.deliveryInfo ?? {};
  if (!isPlainObject(deliveryInfo)) return fail("deliveryInfo must be an object");

  const id = requiredString(d, "id", w);
  const name = requiredString(d, "task", w);
  const retries = nullableInt(d, "retries", w) ?? 0;
  if (retries < 0) fail(`${w}.retries must be >= 0, got ${retries}`);
  const stampedHeaders = own(d, "stamped_headers") ?? null;
  if (
    stampedHeaders !== null &&
    (!Array.isArray(stampedHeaders) || stampedHeaders.some((s) => typeof s !== "string"))
  ) {
    fail(`${w}.stamped_headers must be a list of strings or null`);
  }
  const stamps = own(d, "stamps") ?? null;
  if (stamps !== null && !isPlainObject(stamps)) fail(`${w}.stamps must be an object or null`);
  const reprOf = (key: string, value: unknown): string => {
    const v = own(d, key);
    if (typeof v === "string") return v;
    if (v !== undefined && v !== null) return fail(`${w}.${key} must be a string, got ${describeValue(v)}`);
    // Request.__init__ defaults to ''; proto1_to_proto2 computes saferepr for v1 bodies.
    return n.protocol === "v2" ? "" : saferepr(value, { maxlen: 1024 });
  };
  const priority = own(properties, "priority");
  const priorityValue = typeof priority === "number" && Number.isFinite(priority) ? priority : null;
  if (priority !== undefined && priority !== null && priorityValue === null) {
    fail(`properties.priority must be a number, got ${describeValue(priority)}`);
  }
  const exchange = own(deliveryInfo, "exchange");
  const routingKey = own(deliveryInfo, "routingKey");

  return {
    protocol: n.protocol,
    id,
    name,
    shadow: nullableString(d, "shadow", w) || null,
    args: n.args,
    kwargs: n.kwargs,
    callbacks: n.embed.callbacks,
    errbacks: n.embed.errbacks,
    chain: n.embed.chain,
    chord: n.embed.chord,
    eta: datetimeField(d, "eta", w),
    expires: datetimeField(d, "expires", w),
    retries,
    timeLimit: timeLimitField(d, w),
    rootId: nullableString(d, "root_id", w),
    parentId: nullableString(d, "parent_id", w),
    group: nullableString(d, "group", w),
    groupIndex: nullableInt(d, "group_index", w),
    ignoreResult: nullableBoolean(d, "ignore_result", w),
    argsrepr: reprOf("argsrepr", n.args),
    kwargsrepr: reprOf("kwargsrepr", n.kwargs),
    origin: nullableString(d, "origin", w),
    replyTo: nullableString(properties, "reply_to", "properties"),
    correlationId: nullableString(properties, "correlation_id", "properties"),
    priority: priorityValue,
    deliveryInfo: {
      exchange: typeof exchange === "string" ? exchange : null,
      routingKey: typeof routingKey === "string" ? routingKey : null,
      priority: priorityValue,
      redelivered: own(deliveryInfo, "redelivered") === true,
    },
    headers: n.custom,
    utc: n.utc,
    replacedTaskNesting: nullableInt(d, "replaced_task_nesting", w) ?? 0,
    stampedHeaders: stampedHeaders as string[] | null,
    stamps: stamps as Record<string, unknown> | null,
  };
}
