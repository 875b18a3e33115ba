import type { Router } from "../client/router.js";
import type { NativeDelay, OutgoingMessage, QueueSpec } from "../transports/transport.js";
import type { Retry } from "./errors.js";
import type { WorkerRequest } from "./request.js";

/** The app's queue table and routes, as a retry resolves its queue (`app.amqp.queues`, `app.amqp.router`). */
export type RetryQueueTable = Pick<Router, "queue" | "route">;

/** Where a retry goes: the message (re-addressed when the broker delays it) and the queues to declare first. */
export interface RetryRoute {
  message: OutgoingMessage;
  declare: QueueSpec[];
}

/**
 * Routes a retry as Celery's does: `Task.retry` calls `signature_from_request(...).apply_async()`,
 * which reaches celery/app/base.py `send_task` (5.7.0) with the request's delivery info as
 * options, and celery/app/amqp.py `send_task_message` declares the queue it names
 * (`declare=[queue]`), so a `retry(queue=...)` to a queue nobody declared yet is kept.
 * `Router.route` (celery/app/routes.py) picks the queue: `retry(queue=...)` names it; a message
 * that came through the anonymous exchange is routed by its queue name; otherwise (a named
 * exchange) the message goes back to its exchange and routing key and nothing is declared.
 *
 * With a countdown or eta on RabbitMQ with quorum queues the retry goes through native delayed
 * delivery, as Celery's does: the queue is then always resolved (the named exchange's case by the
 * task's `task_routes` entry or `task_default_queue`), and when it sits on a topic or fanout
 * exchange `send_task` publishes to `celery_delayed_27` with the delay's whole seconds in front of
 * the queue's routing key: the broker transport's `nativeDelay` answers where
 * (src/transports/amqp/native-delay-route.ts); the worker holds other retries until their eta.
 * Null when there is nothing to declare and the message goes out as built.
 */
export function routeRetry(
  message: OutgoingMessage,
  request: WorkerRequest,
  retry: Retry,
  table: RetryQueueTable,
  nativeDelay: NativeDelay | undefined,
  now = Date.now(),
): RetryRoute | null {
  const { options } = retry;
  const { exchange, routingKey } = request.deliveryInfo;
  const named = options.queue ?? (exchange === "" && routingKey ? routingKey : undefined);
  // Resolved before the broker is asked: an unknown queue fails a retry on every broker.
  const namedQueue = named === undefined ? undefined : table.queue(named);
  const asBuilt = namedQueue === undefined ? null : { message, declare: [namedQueue] };
  const eta = message.headers.eta;
  if (typeof eta !== "string" || nativeDelay === undefined) return asBuilt;
  const queue =
    namedQueue ??
    table.route(request.name, {}, options.args ?? request.args, options.kwargs ?? request.kwargs).queue;
  const route = nativeDelay({
    queue,
    countdown: typeof retry.when === "number" ? retry.when : undefined,
    etaGiven: retry.when instanceof Date,
    eta,
    now,
  });
  if (route === null) return asBuilt;
  return {
    message: { ...message, exchange: route.exchange, routingKey: route.routingKey },
    declare: [queue],
  };
}
