/**
 * Which queue a retry is delayed for, as Celery's Task.retry finds it (signature_from_request ->
 * Router.route -> send_task's native-delay branch, 5.7.0): `retry(queue=...)`, else the queue a
 * message sent through the anonymous exchange names, else the task's route or the default queue.
 * The wire result (the delay routing key and exchange a Python worker's retry gets) is compared
 * with a real Celery 5.7 worker in test/interop/quorum-delayed-amqp.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { ConfigError } from "../../../src/errors.js";
import {
  calculateRoutingKey,
  DELAYED_PUBLISH_EXCHANGE,
} from "../../../src/transports/amqp/native-delayed-delivery.js";
import type { OutgoingMessage } from "../../../src/transports/transport.js";
import { Retry, type RetryOptions } from "../../../src/worker/errors.js";
import type { WorkerRequest } from "../../../src/worker/request.js";
import { routeRetry } from "../../../src/worker/retry-route.js";

const NOW = Date.parse("2030-01-01T00:00:00Z");

function app(extra: ConstructorParameters<typeof Celery>[0] = {}): Celery {
  return new Celery({
    broker: "amqp://guest:guest@127.0.0.1:1//",
    taskDefaultQueue: "main",
    taskDefaultQueueType: "quorum",
    taskDefaultExchangeType: "topic",
    taskQueues: [
      { name: "main", exchange: "main", exchangeType: "topic", routingKey: "main.rk" },
      { name: "other", exchange: "other", exchangeType: "topic", routingKey: "other.rk" },
      { name: "plain", exchange: "plain", exchangeType: "direct", routingKey: "plain" },
    ],
    ...extra,
  });
}

function request(exchange: string, routingKey: string): WorkerRequest {
  return {
    name: "t.retry",
    args: [1],
    kwargs: {},
    deliveryInfo: { exchange, routingKey, priority: 0, redelivered: false, deliveryTag: "t" },
  } as unknown as WorkerRequest;
}

function message(eta: string | null): OutgoingMessage {
  return {
    body: new Uint8Array(),
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: { eta },
    properties: {},
    exchange: "from-request",
    routingKey: "from-request",
  };
}

const ETA_10S = "2030-01-01T00:00:10+00:00";
const retry = (options: RetryOptions = {}, when: number | Date = 10) => new Retry(options, when);

describe("routeRetry (Task.retry through native delayed delivery)", () => {
  it("a retry of a task from a topic queue goes to celery_delayed_27 with the routed queue's routing key", () => {
    const a = app();
    const out = routeRetry(
      message(ETA_10S),
      request("main", "main.rk"),
      retry(),
      a.router,
      a.nativeDelay,
      NOW,
    );
    expect(out?.message.exchange).toBe(DELAYED_PUBLISH_EXCHANGE);
    expect(out?.message.routingKey).toBe(calculateRoutingKey(10, "main.rk"));
    expect(out?.declare.map((q) => q.name)).toEqual(["main"]);
  });

  it("a message that arrived with a delay-prefixed key is not delayed twice: the queue's own key is used", () => {
    const a = app();
    const out = routeRetry(
      message(ETA_10S),
      request("celery_delayed_1", calculateRoutingKey(5, "main.rk")),
      retry(),
      a.router,
      a.nativeDelay,
      NOW,
    );
    expect(out?.message.routingKey).toBe(calculateRoutingKey(10, "main.rk"));
  });

  it("retry(queue=...) and task_routes pick the queue, as Router.route does", () => {
    const routed = app({ taskRoutes: { "t.retry": { queue: "other" } } });
    const byRoute = routeRetry(
      message(ETA_10S),
      request("main", "main.rk"),
      retry(),
      routed.router,
      routed.nativeDelay,
      NOW,
    );
    expect(byRoute?.message.routingKey).toBe(calculateRoutingKey(10, "other.rk"));
    const a = app();
    const byOption = routeRetry(
      message(ETA_10S),
      request("main", "main.rk"),
      retry({ queue: "other" }),
      a.router,
      a.nativeDelay,
      NOW,
    );
    expect(byOption?.declare.map((q) => q.name)).toEqual(["other"]);
  });

  it("an eta counts from now; a retry without an eta, on a direct exchange, on Redis or under a second is not delayed (a named exchange declares nothing)", () => {
    const a = app();
    const at = new Date(NOW + 3_900);
    const byEta = routeRetry(
      message(at.toISOString()),
      request("main", "main.rk"),
      retry({}, at),
      a.router,
      a.nativeDelay,
      NOW,
    );
    expect(byEta?.message.routingKey).toBe(calculateRoutingKey(3, "main.rk"));
    expect(
      routeRetry(message(null), request("main", "main.rk"), retry({}, 0), a.router, a.nativeDelay, NOW),
    ).toBeNull();
    // Sent through the anonymous exchange: routed by queue name, here a direct queue: not delayed,
    // published as built, and the queue declared first (send_task_message's declare=[queue]).
    const plain = message(ETA_10S);
    const anonymous = routeRetry(plain, request("", "plain"), retry(), a.router, a.nativeDelay, NOW);
    expect(anonymous?.message).toBe(plain);
    expect(anonymous?.declare.map((q) => q.name)).toEqual(["plain"]);
    expect(
      routeRetry(message(ETA_10S), request("main", "main.rk"), retry({}, 0.5), a.router, a.nativeDelay, NOW),
    ).toBeNull();
    const redis = app({ broker: "redis://127.0.0.1:1/0" });
    expect(
      routeRetry(message(ETA_10S), request("main", "main.rk"), retry(), redis.router, redis.nativeDelay, NOW),
    ).toBeNull();
    // retry(queue=...) on Redis: not delayed, the named queue declared (bound) before the publish.
    const asBuilt = message(ETA_10S);
    const toOther = routeRetry(
      asBuilt,
      request("main", "main.rk"),
      retry({ queue: "other" }),
      redis.router,
      redis.nativeDelay,
      NOW,
    );
    expect(toOther?.message).toBe(asBuilt);
    expect(toOther?.declare.map((q) => q.name)).toEqual(["other"]);
  });

  it("a delay past 2^28 - 1 s is a ConfigError naming countdown, as for a producer (the retry then fails as a failed publish does)", () => {
    const a = app();
    const tooLong = () =>
      routeRetry(
        message(ETA_10S),
        request("main", "main.rk"),
        retry({}, 2 ** 28),
        a.router,
        a.nativeDelay,
        NOW,
      );
    expect(tooLong).toThrow(ConfigError);
    expect(tooLong).toThrow(expect.objectContaining({ option: "countdown" }));
  });
});
