import { ProtocolError } from "../errors.js";
import { parseIsoDatetime } from "../protocol/datetime.js";
import type { Embed } from "../protocol/task-message.js";
import type { DeliveryInfo } from "../transports/transport.js";

/**
 * A task message as the worker runs it: v2, hybrid and v1 bodies normalized
 * to one shape (celery/worker/strategy.py `hybrid_to_proto2`,
 * `proto1_to_proto2`; celery/worker/request.py `Request.__init__`).
 */
export interface WorkerRequest {
  id: string;
  name: string;
  /** `shadow or task`: the name used in log lines. */
  displayName: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
  retries: number;
  eta: Date | null;
  expires: Date | null;
  /** `[hard, soft]` from the message; null when unset. */
  timeLimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  origin: string | null;
  /** Header value: true/false force, null/absent = the task's setting (5.6.3+/5.7 rules). */
  ignoreResult: boolean | null;
  replyTo: string | null;
  correlationId: string | null;
  argsrepr: string;
  kwargsrepr: string;
  /** Every header as received. */
  headers: Record<string, unknown>;
  /** Headers Celery does not know (`Context._get_custom_headers`). */
  customHeaders: Record<string, unknown>;
  stampedHeaders: string[] | null;
  stamps: Record<string, unknown>;
  replacedTaskNesting: number;
  deliveryInfo: DeliveryInfo;
  /** Properties as received (`priority`, `reply_to`, ...), used when re-sending for a retry. */
  properties: Record<string, unknown>;
}

/** Headers Celery itself writes; everything else is a custom header. */
const CELERY_HEADERS = new Set([
  "lang",
  "task",
  "id",
  "shadow",
  "eta",
  "expires",
  "group",
  "group_index",
  "retries",
  "timelimit",
  "root_id",
  "parent_id",
  "argsrepr",
  "kwargsrepr",
  "origin",
  "ignore_result",
  "replaced_task_nesting",
  "stamped_headers",
  "stamps",
  "compression",
  "redelivered",
  "meth",
  "utc",
]);

const EMPTY_EMBED: Embed = { callbacks: null, errbacks: null, chain: null, chord: null };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function timeLimitOf(v: unknown): [number | null, number | null] {
  if (!Array.isArray(v)) return [null, null];
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) && x > 0 ? x : null);
  return [n(v[0]), n(v[1])];
}

function dateOf(v: unknown, what: string): Date | null {
  if (v === null || v === undefined || v === "") return null;
  if (v instanceof Date) return v;
  if (typeof v !== "string")
    throw new ProtocolError(`${what} is not an ISO-8601 string: ${JSON.stringify(v)}`);
  return parseIsoDatetime(v, what);
}

/** The task name of a message: `headers.task` (v2), else `body.task` (v1/hybrid), else null (unknown message). */
export function taskNameOf(headers: Record<string, unknown>, payload: unknown): string | null {
  if (typeof headers.task === "string") return headers.task;
  if (isRecord(payload) && typeof payload.task === "string") return payload.task;
  return null;
}

/**
 * Builds the request; throws ProtocolError (Celery's InvalidTaskError) for a
 * message Python's worker would also refuse: missing id, a body that is not
 * `[args, kwargs, embed]`, args not a list, kwargs not a mapping, bad eta.
 */
export function buildWorkerRequest(
  headersIn: Record<string, unknown>,
  properties: Record<string, unknown>,
  payload: unknown,
  deliveryInfo: DeliveryInfo,
): WorkerRequest {
  let headers = headersIn;
  let args: unknown;
  let kwargs: unknown;
  let embed: Embed = EMPTY_EMBED;
  if (isRecord(payload)) {
    // hybrid (v2 headers + dict body) or v1 (all in the body): body fields under the message headers.
    const { args: a, kwargs: k, callbacks, errbacks, chord, taskset, ...rest } = payload;
    args = a ?? [];
    kwargs = k ?? {};
    headers = { ...rest, group: rest.group ?? taskset ?? null, ...headersIn };
    embed = {
      callbacks: Array.isArray(callbacks) ? (callbacks as Embed["callbacks"]) : null,
      errbacks: Array.isArray(errbacks) ? (errbacks as Embed["errbacks"]) : null,
      chord: isRecord(chord) ? (chord as Embed["chord"]) : null,
      chain: null,
    };
  } else if (Array.isArray(payload)) {
    if (payload.length !== 3) {
      throw new ProtocolError(
        `task body must be [args, kwargs, embed] (3 elements), got ${payload.length} element(s)`,
      );
    }
    [args, kwargs] = payload;
    const e = payload[2];
    if (e !== null && e !== undefined && !isRecord(e))
      throw new ProtocolError("task body embed must be an object or null");
    if (isRecord(e)) embed = { ...EMPTY_EMBED, ...(e as Partial<Embed>) };
  } else {
    throw new ProtocolError(
      `task body must be [args, kwargs, embed], got ${payload === null ? "null" : typeof payload}`,
    );
  }
  const id = headers.id;
  const name = headers.task;
  if (typeof id !== "string" || id === "") throw new ProtocolError("task message has no id header");
  if (typeof name !== "string" || name === "") throw new ProtocolError("task message has no task header");
  if (!Array.isArray(args)) throw new ProtocolError(`task args must be a list, got ${typeof args}`);
  if (!isRecord(kwargs)) throw new ProtocolError("task kwargs must be a mapping");
  const customHeaders: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headersIn)) if (!CELERY_HEADERS.has(k)) customHeaders[k] = v;
  const retries =
    typeof headers.retries === "number" && Number.isInteger(headers.retries) ? headers.retries : 0;
  const ignore = headers.ignore_result;
  return {
    id,
    name,
    displayName: str(headers.shadow) ?? name,
    args,
    kwargs,
    embed,
    retries,
    eta: dateOf(headers.eta, "eta"),
    expires: dateOf(headers.expires, "expires"),
    timeLimit: timeLimitOf(headers.timelimit),
    rootId: str(headers.root_id),
    parentId: str(headers.parent_id),
    groupId: str(headers.group),
    groupIndex: typeof headers.group_index === "number" ? headers.group_index : null,
    origin: str(headers.origin),
    ignoreResult: typeof ignore === "boolean" ? ignore : null,
    replyTo: str(properties.reply_to),
    correlationId: str(properties.correlation_id),
    argsrepr: str(headers.argsrepr) ?? "",
    kwargsrepr: str(headers.kwargsrepr) ?? "",
    headers,
    customHeaders,
    stampedHeaders: Array.isArray(headers.stamped_headers) ? (headers.stamped_headers as string[]) : null,
    stamps: isRecord(headers.stamps) ? headers.stamps : {},
    replacedTaskNesting:
      typeof headers.replaced_task_nesting === "number" ? headers.replaced_task_nesting : 0,
    deliveryInfo,
    properties,
  };
}
