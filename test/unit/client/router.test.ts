import { describe, expect, it } from "vitest";
import { Router } from "../../../src/client/router.js";
import type { CeleryOptions } from "../../../src/config.js";
import { resolveSettings } from "../../../src/config-checks.js";

const router = (options: CeleryOptions = {}) => new Router(resolveSettings(options));

describe("Router", () => {
  it("sends to the default queue through the anonymous exchange", () => {
    const r = router().route("proj.add", {});
    expect([r.exchange, r.routingKey, r.queue.name]).toEqual(["", "celery", "celery"]);
    expect(r.queue).toMatchObject({ exchange: "celery", routingKey: "celery", exchangeType: "direct" });
  });

  it("uses exact names before glob patterns, and globs match the whole name with * = zero or more", () => {
    const r = router({
      taskRoutes: { "proj.*": "globbed", "proj.add": { queue: "exact" }, "*.add": "adds" },
    });
    expect(r.route("proj.add", {}).queue.name).toBe("exact");
    expect(r.route("proj.mul", {}).queue.name).toBe("globbed");
    // Celery 5's fnmatch.translate: `*` may match nothing, and the match must reach the end.
    expect(r.route("proj.", {}).queue.name).toBe("globbed");
    expect(r.route("x.add", {}).queue.name).toBe("adds");
    expect(r.route("x.addition", {}).queue.name).toBe("celery");
    expect(r.route("other.proj.x", {}).queue.name).toBe("celery");
  });

  it("tries list entries in order: maps, [pattern, route] pairs and functions", () => {
    const r = router({
      taskRoutes: [
        { "a.one": "q1" },
        [/^b\./, { queue: "q2", routing_key: "rk2", exchange: "ex2" }],
        (name) => (name.startsWith("c.") ? { queue: "q3", priority: 7 } : undefined),
      ],
    });
    expect(r.route("a.one", {}).queue.name).toBe("q1");
    expect(r.route("b.x", {})).toMatchObject({ exchange: "ex2", routingKey: "rk2" });
    expect(r.route("c.x", {})).toMatchObject({ routingKey: "q3", priority: 7 });
  });

  it("lets explicit options win over the route", () => {
    const r = router({ taskRoutes: { t: { queue: "routed", priority: 3 } } });
    expect(r.route("t", { queue: "explicit", priority: 1 })).toMatchObject({
      routingKey: "explicit",
      priority: 1,
    });
  });

  it("keeps an explicit exchange without a routing key as Celery does (empty key)", () => {
    const r = router().route("t", { exchange: "celery" });
    expect([r.exchange, r.routingKey]).toEqual(["celery", ""]);
  });

  it("fills exchange and routing key from a non-direct queue", () => {
    const r = router({
      taskQueues: [{ name: "fq", exchange: "fx", exchangeType: "fanout", routingKey: "k" }],
    });
    expect(r.route("t", { queue: "fq" })).toMatchObject({ exchange: "fx", routingKey: "k" });
  });

  it("routes topic queues by their exchange and key", () => {
    const r = router({
      taskQueues: [{ name: "tq", exchange: "tx", exchangeType: "topic", routingKey: "a.#" }],
    });
    expect(r.route("t", { queue: "tq" })).toMatchObject({ exchange: "tx", routingKey: "a.#" });
    expect(r.exchangeTypes().get("tx")).toBe("topic");
  });

  it("refuses unknown queues when taskCreateMissingQueues is off", () => {
    expect(() => router({ taskCreateMissingQueues: false }).route("t", { queue: "nope" })).toThrow(
      /taskCreateMissingQueues/,
    );
  });
});
