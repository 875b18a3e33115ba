import type { CompatProfile } from "../compat.js";
import { formatIsoUtc } from "../protocol/datetime.js";
import { PyTuple, saferepr } from "../protocol/saferepr.js";
import type { OutgoingMessage } from "../transports/transport.js";
import type { RetryOptions } from "./errors.js";
import type { WorkerRequest } from "./request.js";

/**
 * The message `Task.retry()` sends (celery/app/task.py `Task.retry` →
 * `signature_from_request` → `apply_async` → celery/app/amqp.py
 * `as_task_v2`, 5.7.0): same id, root, group, shadow, chain/callbacks,
 * expires, time limits, custom headers, reply_to; `retries + 1`, a new eta,
 * `parent_id` = the retried task's own id, `origin` = this worker; routed back
 * to the exchange/routing key it came from, with its original priority.
 */
export interface RetryMessageInput {
  request: WorkerRequest;
  options: RetryOptions;
  eta: Date;
  /** Effective ignore_result (5.7 re-sends the effective value). */
  ignoreResult: boolean;
  hostname: string;
  compat: CompatProfile;
  /** Serializes the body `[args, kwargs, embed]` with the task serializer. */
  encodeBody(body: unknown[]): { body: Uint8Array; contentType: string; contentEncoding: string };
}

export function buildRetryMessage(input: RetryMessageInput): OutgoingMessage {
  const { request, options, compat } = input;
  const args = options.args ?? request.args;
  const kwargs = options.kwargs ?? request.kwargs;
  const headers: Record<string, unknown> = {
    lang: "py",
    task: request.name,
    id: request.id,
    shadow: request.displayName !== request.name ? request.displayName : null,
    eta: formatIsoUtc(input.eta, "eta"),
    expires: request.expires ? formatIsoUtc(request.expires, "expires") : null,
    group: request.groupId,
    group_index: request.groupIndex,
    retries: request.retries + 1,
    timelimit: request.timeLimit,
    root_id: request.rootId ?? request.id,
    parent_id: request.id,
    argsrepr: saferepr(new PyTuple(args), { maxlen: 1024, balanced: compat.minor === "5.7" }),
    kwargsrepr: saferepr(kwargs, { maxlen: 1024, balanced: compat.minor === "5.7" }),
    origin: input.hostname,
    ignore_result: input.ignoreResult,
  };
  if (compat.replacedTaskNesting) headers.replaced_task_nesting = request.replacedTaskNesting;
  if (compat.stampHeaders) {
    headers.stamped_headers = request.stampedHeaders;
    headers.stamps = request.stamps;
  }
  for (const [k, v] of Object.entries(request.customHeaders)) {
    if (k !== "x-death") headers[k] = v;
  }
  const encoded = input.encodeBody([args, kwargs, request.embed]);
  const priority =
    options.priority ?? (typeof request.properties.priority === "number" ? request.properties.priority : 0);
  const properties: Record<string, unknown> = {
    correlation_id: request.id,
    reply_to: request.replyTo ?? "",
    delivery_mode: 2,
    priority,
  };
  const viaDefaultExchange = request.deliveryInfo.exchange === "";
  return {
    ...encoded,
    headers,
    properties,
    exchange: options.queue !== undefined ? "" : request.deliveryInfo.exchange,
    routingKey:
      options.queue ??
      (viaDefaultExchange
        ? request.deliveryInfo.routingKey || request.deliveryInfo.queue
        : request.deliveryInfo.routingKey),
  };
}
