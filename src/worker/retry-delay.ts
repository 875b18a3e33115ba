import type { Router } from "../client/router.js";
import type { NativeDelay, OutgoingMessage, QueueSpec } from "../transports/transport.js";
import type { Retry } from "./errors.js";
import type { WorkerRequest } from "./request.js";

/** The app's queue table and routes, as a retry resolves its queue (`app.amqp.queues`, `app.amqp.router`). */
export type RetryQueueTable = Pick<Router, "queue" | "route">;

/** A retry the broker delays: the message re-addressed, and the queue to declare (with its delay bindings) first. */
export interface DelayedRetry {
  message: OutgoingMessage;
  declare: QueueSpec[];
}

/**
 * A retry with a countdown or eta on RabbitMQ with quorum queues goes through
 * native delayed delivery, as Celery's does: `Task.retry` calls
 * `signature_from_request(...).apply_async(countdown=..., eta=...)`, which
 * reaches celery/app/base.py `send_task` (5.7.0) with the request's delivery
 * info as options. There `Router.route` (celery/app/routes.py) picks the
 * queue: `retry(queue=...)` names it; a message that came through the
 * anonymous exchange is routed by its queue name; otherwise the task's
 * `task_routes` entry or `task_default_queue`. When that queue sits on a topic
 * or fanout exchange, `send_task` publishes to `celery_delayed_27` with the
 * delay's whole seconds in front of the queue's routing key: the broker
 * transport's `nativeDelay` answers where (src/transports/amqp/native-delay-route.ts).
 * Null when the retry is not delayed that way (or the broker has no native
 * delay): it is then published as built (the worker holds it until its eta).
 */
export function delayedRetry(
  message: OutgoingMessage,
  request: WorkerRequest,
  retry: Retry,
  table: RetryQueueTable,
  nativeDelay: NativeDelay | undefined,
  now = Date.now(),
): DelayedRetry | null {
  const eta = message.headers.eta;
  if (typeof eta !== "string") return null;
  const { options } = retry;
  const { exchange, routingKey } = request.deliveryInfo;
  let queue: QueueSpec;
  if (options.queue !== undefined) queue = table.queue(options.queue);
  else if (exchange === "" && routingKey) queue = table.queue(routingKey);
  else
    queue = table.route(
      request.name,
      {},
      options.args ?? request.args,
      options.kwargs ?? request.kwargs,
    ).queue;
  // Resolved before the broker is asked: an unknown queue fails a retry on every broker.
  if (nativeDelay === undefined) return null;
  const route = nativeDelay({
    queue,
    countdown: typeof retry.when === "number" ? retry.when : undefined,
    etaGiven: retry.when instanceof Date,
    eta,
    now,
  });
  if (route === null) return null;
  return {
    message: { ...message, exchange: route.exchange, routingKey: route.routingKey },
    declare: [queue],
  };
}
