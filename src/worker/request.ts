import { setOwn } from "../protocol/guards.js";
import { parseTaskMessage } from "../protocol/parse.js";
import { logSafe } from "../protocol/py-repr.js";
import type { Embed } from "../protocol/task-message.js";
import type { DeliveryInfo } from "../transports/transport.js";

/**
 * A task message as the worker runs it. The normalization of v2, hybrid and
 * v1 bodies (celery/worker/strategy.py `hybrid_to_proto2`,
 * `proto1_to_proto2`; celery/worker/request.py `Request.__init__`) is
 * protocol's {@link parseTaskMessage}; this adds what only the worker needs
 * (the transport's delivery info and properties, for acks and retries).
 */
/**
 * `name[id]` for log lines (Celery's `%(name)s[%(id)s]`). Both come from the wire: a part holding
 * a newline or another unprintable character is shown as its Python repr, so it cannot forge a line.
 */
export function requestLabel(request: Pick<WorkerRequest, "displayName" | "id">): string {
  return `${logSafe(request.displayName)}[${logSafe(request.id)}]`;
}

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
  /** Every message header as received (a v1 message has none: its fields are in the body). */
  headers: Record<string, unknown>;
  /** Headers Celery does not know (`Context._get_custom_headers`). */
  customHeaders: Record<string, unknown>;
  stampedHeaders: string[] | null;
  stamps: Record<string, unknown>;
  replacedTaskNesting: number;
  deliveryInfo: DeliveryInfo;
  /** Properties as received (`priority`, `reply_to`, ...), used when re-sending for a retry. */
  properties: Record<string, unknown>;
  /**
   * Celery's `request.children`: `as_tuple()` of each task the handler sent
   * (src/client/current-task.ts), stored first in the meta's `children`.
   */
  children?: unknown[];
}

/**
 * celery/worker/request.py `Request.stamps` (5.7.0): each name in `stamped_headers` with its value
 * from the `stamps` header (null when missing). What `ctx.stamps` shows and what a retry re-sends
 * (celery/app/task.py `Context.as_execution_options` keeps only the stamps named).
 */
export function namedStamps(
  request: Pick<WorkerRequest, "stampedHeaders" | "stamps">,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of request.stampedHeaders ?? []) {
    setOwn(out, name, Object.hasOwn(request.stamps, name) ? request.stamps[name] : null);
  }
  return out;
}

/** The task name of a message: `headers.task` (v2), else `body.task` (v1/hybrid), else null (unknown message). */
export function taskNameOf(headers: Record<string, unknown>, payload: unknown): string | null {
  if (typeof headers.task === "string") return headers.task;
  if (typeof payload === "object" && payload !== null && !Array.isArray(payload)) {
    const name = (payload as Record<string, unknown>).task;
    if (typeof name === "string") return name;
  }
  return null;
}

/** A time limit of 0 means "the task's own": `time_limit or task.time_limit` (celery/worker/request.py `execute_using_pool`). */
const limitOrUnset = (seconds: number | null): number | null =>
  seconds !== null && seconds > 0 ? seconds : null;

/**
 * Builds the request; throws ProtocolError (Celery's InvalidTaskError) for a
 * message Python's worker would also refuse (see {@link parseTaskMessage}).
 */
export function buildWorkerRequest(
  headersIn: Record<string, unknown>,
  properties: Record<string, unknown>,
  payload: unknown,
  deliveryInfo: DeliveryInfo,
): WorkerRequest {
  const parsed = parseTaskMessage({
    headers: headersIn,
    properties,
    payload,
    deliveryInfo: {
      exchange: deliveryInfo.exchange,
      routingKey: deliveryInfo.routingKey,
      redelivered: deliveryInfo.redelivered,
    },
  });
  const [hard, soft] = parsed.timeLimit;
  return {
    id: parsed.id,
    name: parsed.name,
    displayName: parsed.shadow ?? parsed.name,
    args: parsed.args,
    kwargs: parsed.kwargs,
    embed: {
      callbacks: parsed.callbacks,
      errbacks: parsed.errbacks,
      chain: parsed.chain,
      chord: parsed.chord,
    },
    retries: parsed.retries,
    eta: parsed.eta,
    expires: parsed.expires,
    timeLimit: [limitOrUnset(hard), limitOrUnset(soft)],
    rootId: parsed.rootId,
    parentId: parsed.parentId,
    groupId: parsed.group,
    groupIndex: parsed.groupIndex,
    origin: parsed.origin,
    ignoreResult: parsed.ignoreResult,
    replyTo: parsed.replyTo,
    correlationId: parsed.correlationId,
    argsrepr: parsed.argsrepr,
    kwargsrepr: parsed.kwargsrepr,
    headers: headersIn,
    customHeaders: parsed.headers,
    stampedHeaders: parsed.stampedHeaders,
    stamps: parsed.stamps ?? {},
    replacedTaskNesting: parsed.replacedTaskNesting,
    deliveryInfo,
    properties,
    children: [],
  };
}
