import { hostname as osHostname } from "node:os";
import type { CompatProfile } from "../compat.js";
import { type BuildTaskInput, buildTaskMessage } from "../protocol/build.js";
import type { OutgoingMessage } from "../transports/transport.js";
import type { RetryOptions } from "./errors.js";
import { namedStamps, type WorkerRequest } from "./request.js";

/**
 * The message `Task.retry()` sends (celery/app/task.py `Task.retry` →
 * `signature_from_request` → `Context.as_execution_options` → `apply_async`
 * → celery/app/base.py `send_task` → celery/app/amqp.py `as_task_v2`,
 * 5.7.0): same id, root, group, shadow, chain/callbacks, reply_to, origin
 * (the request's: it is an execution option, so kombu also gets it as the
 * leftover `origin` property), custom headers, time limits and expires (the
 * received header text, so `send_task` sets `expiration` to what is left of
 * it); each of expires, time limits and headers replaced when `retry()` names
 * it. `retries + 1`, eta = now + countdown (none for a countdown of 0, `if
 * countdown:`), `parent_id` = the retried task's own id; routed back to the
 * exchange/routing key it came from, with its original priority.
 */
export interface RetryMessageInput {
  request: WorkerRequest;
  /** Resolved by `prepareRetry` (args/kwargs already rebound). */
  options: RetryOptions;
  /** `Retry.when`: seconds from now, or the eta. */
  when: number | Date;
  /** Effective ignore_result (5.7 re-sends the effective value). */
  ignoreResult: boolean;
  compat: CompatProfile;
  /** Serializes the body `[args, kwargs, embed]` with the task serializer. */
  encodeBody(body: unknown[]): { body: Uint8Array; contentType: string; contentEncoding: string };
}

/** `expires` of the retried call: the option, else the received header text as is. */
function retryExpires(request: WorkerRequest, option: RetryOptions["expires"]): BuildTaskInput["expires"] {
  if (option !== undefined) return option;
  const received = request.headers.expires;
  if (typeof received === "string") return received;
  return request.expires;
}

export function buildRetryMessage(input: RetryMessageInput): OutgoingMessage {
  const { request, options, compat } = input;
  const [hard, soft] = request.timeLimit;
  const custom: Record<string, unknown> = {};
  // Task.retry(headers=...) replaces the inherited custom headers; the inherited ones lose x-death
  // (Context._filter_x_death_headers).
  for (const [k, v] of Object.entries(options.headers ?? request.customHeaders)) {
    if (k !== "x-death" || options.headers !== undefined) custom[k] = v;
  }
  // The request's origin, or (a message without one) this process's anon_nodename().
  const origin = request.origin ?? `gen${process.pid}@${osHostname()}`;
  // Leftover execution options kombu writes as properties: origin (None stays None), and on
  // Celery 5.2, whose as_task_v2 has no replaced_task_nesting parameter, that option too.
  const extraProperties: Record<string, unknown> = compat.replacedTaskNesting
    ? { origin: request.origin }
    : { replaced_task_nesting: request.replacedTaskNesting, origin: request.origin };
  const priority =
    options.priority ?? (typeof request.properties.priority === "number" ? request.properties.priority : 0);
  const build: BuildTaskInput = {
    id: request.id,
    args: options.args ?? request.args,
    kwargs: options.kwargs ?? request.kwargs,
    shadow: request.displayName !== request.name ? request.displayName : null,
    expires: retryExpires(request, options.expires),
    groupId: request.groupId,
    groupIndex: request.groupIndex,
    retries: request.retries + 1,
    timeLimit: options.timeLimit === undefined ? hard : options.timeLimit,
    softTimeLimit: options.softTimeLimit === undefined ? soft : options.softTimeLimit,
    rootId: request.rootId ?? request.id,
    parentId: request.id,
    origin,
    ignoreResult: input.ignoreResult,
    replacedTaskNesting: request.replacedTaskNesting,
    headers: custom,
    callbacks: request.embed.callbacks,
    errbacks: request.embed.errbacks,
    chain: request.embed.chain,
    chord: request.embed.chord,
    replyTo: request.replyTo ?? "",
    extraProperties,
    priority,
  };
  if (input.when instanceof Date) build.eta = input.when;
  else build.countdown = input.when;
  if (compat.stampHeaders) {
    // Context.as_execution_options -> as_task_v2: the stamps named in stamped_headers, kept.
    build.stampedHeaders = request.stampedHeaders;
    build.stamps = namedStamps(request);
  }
  const message = buildTaskMessage(request.name, build, compat);
  const encoded = input.encodeBody(message.body);
  const viaDefaultExchange = request.deliveryInfo.exchange === "";
  return {
    ...encoded,
    headers: message.headers as Record<string, unknown>,
    properties: message.properties as Record<string, unknown>,
    exchange: options.queue !== undefined ? "" : request.deliveryInfo.exchange,
    routingKey:
      options.queue ??
      (viaDefaultExchange
        ? request.deliveryInfo.routingKey || request.deliveryInfo.queue
        : request.deliveryInfo.routingKey),
  };
}
