/**
 * Metrics from the library API: `celeriacMetrics(registry)` registers Celeriac's worker metrics
 * in a prom-client registry the user owns (beside their own metrics), `observe(worker)` counts a
 * TS worker that a real Python producer sends to, and the broker-reconnect counter follows a real
 * Redis restart (the worker's `broker-lost` / `broker-back` events).
 */
import { Counter, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { celeriacMetrics } from "../../src/metrics.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { uniqueQueue } from "../support/services.js";

let server: RedisServer;
let app: Celery;
let worker: Worker | undefined;
const queue = uniqueQueue("metrics");
const registry = new Registry();
const userCounter = new Counter({
  name: "my_app_requests_total",
  help: "The user's own metric.",
  registers: [registry],
});
const metrics = celeriacMetrics(registry);
const brokerEvents: string[] = [];

beforeAll(async () => {
  server = await startRedis();
  app = new Celery({ broker: server.dbUrl(0), backend: server.dbUrl(1) });
  app.task("m.ok", (_ctx, x: number) => x * 2);
  app.task("m.fail", () => {
    throw new Error("m.fail failed");
  });
  worker = app.worker({ queues: [queue], hostname: "metrics@localhost", concurrency: 2 });
  metrics.observe(worker);
  worker.on("broker-lost", () => brokerEvents.push("lost"));
  worker.on("broker-back", (e) => brokerEvents.push(`back:${e.downtime > 0}`));
  await worker.start();
}, 60_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await app?.close();
  await server?.dispose();
});

/** One sample's value from the text exposition (`name{labels} value`), 0 when absent. */
async function sample(name: string, labels = ""): Promise<number> {
  const text = await registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("celeriacMetrics(registry) + observe(worker)", () => {
  it("counts what a Python producer sends, in the user's registry beside their own metrics", async () => {
    userCounter.inc();
    const results = await pythonJson<unknown[]>(
      `
      from interop_app import app, emit
      q = ${JSON.stringify(queue)}
      out = [app.send_task("m.ok", (i,), queue=q).get(timeout=20) for i in range(3)]
      try:
          app.send_task("m.fail", (), queue=q).get(timeout=20)
      except Exception as exc:
          out.append(type(exc).__name__)
      emit(out)
      `,
      { brokerUrl: server.dbUrl(0), backendUrl: server.dbUrl(1) },
    );
    expect(results).toEqual([0, 2, 4, "Exception"]);
    // Python reads FAILURE as soon as it is stored; the worker's task-failed (what the counter
    // follows) comes after the store and the message's settlement, as Celery's on_failure does.
    await waitUntil(
      "task-failed to reach the metrics",
      async () => (await sample("celeriac_tasks_failed_total", '{task="m.fail"}')) >= 1,
      {
        timeoutMs: 10_000,
        intervalMs: 20,
      },
    );
    expect(await sample("my_app_requests_total")).toBe(1);
    expect(await sample("celeriac_tasks_received_total", '{task="m.ok"}')).toBe(3);
    expect(await sample("celeriac_tasks_succeeded_total", '{task="m.ok"}')).toBe(3);
    expect(await sample("celeriac_tasks_failed_total", '{task="m.fail"}')).toBe(1);
    expect(await sample("celeriac_task_runtime_seconds_count", '{task="m.ok"}')).toBe(3);
    expect(await sample("celeriac_tasks_active")).toBe(0);
    expect(await sample("celeriac_tasks_prefetched")).toBe(0);
    // Registering twice in one registry is prom-client's error, not a silent second set.
    expect(() => celeriacMetrics(registry)).toThrow(/already been registered/);
  });

  it("celeriac_broker_reconnects_total counts a broker that came back", async () => {
    expect(await sample("celeriac_broker_reconnects_total")).toBe(0);
    await server.restart();
    await waitUntil("broker-back after the Redis restart", async () => brokerEvents.includes("back:true"), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect(brokerEvents).toEqual(["lost", "back:true"]);
    expect(await sample("celeriac_broker_reconnects_total")).toBe(1);
    // And the worker consumes again.
    const after = await app.sendTask("m.ok", [21], {}, { queue });
    expect(await after.get({ timeoutMs: 20_000 })).toBe(42);
  }, 60_000);
});
