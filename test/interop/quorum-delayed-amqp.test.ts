/**
 * Quorum queues and RabbitMQ native delayed delivery against Celery 5.7 / kombu 5.7 (issue 16,
 * item 3), on a RabbitMQ node of this file's own (vhosts keep the orders apart):
 *
 * - `pyfirst`: a Python worker declares first, then a TS worker; `tsfirst`: the reverse. The
 *   28 `celery_delayed_N` exchanges and queues, their x-arguments and bindings, the
 *   `celery_delayed_delivery` exchange and the task queue's delivery bindings are listed with
 *   rabbitmqctl and must be identical on both vhosts, and the second worker of each vhost starts
 *   without a 406. Both workers' task consumers use per-consumer QoS (`worker_detect_quorum_queues`).
 * - A TS producer's countdown on the quorum queue sits in the delay queues (not in the task queue,
 *   not in a worker's memory) and a Python worker runs it at or after its ETA, delivered with
 *   kombu's delay routing key; a Python producer's countdown reaches a TS worker the same way.
 * - A retry with a countdown (Task.retry -> send_task) goes through the delay levels on both
 *   sides: a Python worker's retry and a TS worker's retry sit in a `celery_delayed_N` queue, not
 *   in the task queue, and come back with the same delay routing key and exchange.
 * - A TS producer that sends before any worker exists declares the levels and the binding
 *   itself, so a Python worker started later still gets the task.
 * - `calculateRoutingKey` equals kombu's `calculate_routing_key` on generated delays and keys.
 */
import { connect as amqpConnect } from "amqplib";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConfigError } from "../../src/errors.js";
import { calculateRoutingKey } from "../../src/transports/amqp/native-delayed-delivery.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { topologySnapshot } from "../support/rabbitmq-topology.js";
import { type RabbitMqServer, startRabbitMq } from "../support/servers/rabbitmq.js";
import { allocateRedisDb, uniqueName } from "../support/services.js";

const QUEUE = uniqueName("ndq");
const PY_CONFIG = { task_default_queue_type: "quorum", task_default_exchange_type: "topic" };
const VHOSTS = ["pyfirst", "tsfirst", "cold"] as const;

let rabbit: RabbitMqServer;
let backend: string;
const apps: Celery[] = [];
const tsWorkers: Worker[] = [];
const pyWorkers: CeleryWorker[] = [];
const consumerErrors: string[] = [];

function brokerUrl(vhost: string): string {
  return `${rabbit.url}/${vhost}`;
}

function newApp(vhost: string): Celery {
  const app = new Celery({
    broker: brokerUrl(vhost),
    backend,
    taskDefaultQueue: QUEUE,
    taskDefaultQueueType: "quorum",
    taskDefaultExchangeType: "topic",
  });
  apps.push(app);
  return app;
}

async function startTsWorker(vhost: string): Promise<Worker> {
  const app = newApp(vhost);
  app.task("ts.when", (ctx) => ({
    ranAt: new Date().toISOString(),
    eta: ctx.eta?.toISOString() ?? null,
    routingKey: ctx.deliveryInfo.routingKey,
  }));
  // What python-interop's interop.retry_delivery does: retry once with the countdown given.
  app.task("ts.retry_delivery", (ctx, countdown: number) => {
    if (ctx.retries === 0) ctx.retry({ countdown, maxRetries: 1 });
    return {
      retries: ctx.retries,
      exchange: ctx.deliveryInfo.exchange,
      routing_key: ctx.deliveryInfo.routingKey,
      eta: ctx.eta?.toISOString() ?? null,
      ran_at: Date.now() / 1000,
    };
  });
  const worker = app.worker({ concurrency: 2, hostname: `ts-${vhost}@localhost`, withoutMingle: true });
  worker.on("consumer-error", (err) => consumerErrors.push(`${vhost}: ${err.message}`));
  tsWorkers.push(worker);
  await worker.start();
  return worker;
}

async function startPyWorker(vhost: string): Promise<CeleryWorker> {
  const worker = await startCeleryWorker({
    brokerUrl: brokerUrl(vhost),
    backendUrl: backend,
    defaultQueue: QUEUE,
    config: PY_CONFIG,
    hostname: `py-${vhost}-${uniqueName("w")}@localhost`,
  });
  pyWorkers.push(worker);
  return worker;
}

const ctl = (args: readonly string[]) => rabbit.ctl(args);
const delayEntities = (name: string) => name.startsWith("celery_delayed_") || name === QUEUE;

/**
 * Ready messages in the delay levels and in the task queue of `vhost` now, from passive
 * declares (rabbitmqctl's counts for quorum queues are metrics that lag by seconds).
 */
async function whereMessagesAre(vhost: string): Promise<{ delayed: number; inQueue: number }> {
  const connection = await amqpConnect(brokerUrl(vhost));
  try {
    const channel = await connection.createChannel();
    let delayed = 0;
    for (let level = 0; level < 28; level++)
      delayed += (await channel.checkQueue(`celery_delayed_${level}`)).messageCount;
    return { delayed, inQueue: (await channel.checkQueue(QUEUE)).messageCount };
  } finally {
    await connection.close();
  }
}

async function storedMeta(taskId: string): Promise<Record<string, unknown>> {
  const redis = new Redis(backend);
  try {
    const raw = await redis.get(`celery-task-meta-${taskId}`);
    if (raw === null) throw new Error(`no result stored for ${taskId}`);
    return JSON.parse(raw) as Record<string, unknown>;
  } finally {
    redis.disconnect();
  }
}

beforeAll(async () => {
  rabbit = await startRabbitMq();
  for (const vhost of VHOSTS) {
    await rabbit.ctl(["add_vhost", vhost]);
    await rabbit.ctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]);
  }
  backend = (await allocateRedisDb()).url;
}, 120_000);

afterAll(async () => {
  for (const w of tsWorkers) await w.close({ timeoutMs: 5000 }).catch(() => {});
  for (const a of apps) await a.close().catch(() => {});
  for (const w of pyWorkers) await w.stop().catch(() => {});
  await rabbit?.dispose();
});

describe("quorum queues and native delayed delivery vs Celery 5.7", () => {
  it("Python and TS workers declare the same 28 levels and bindings, in either order, with per-consumer QoS", async () => {
    const pyFirst = await startPyWorker("pyfirst");
    const tsFirst = await startTsWorker("tsfirst");
    const python = await topologySnapshot(ctl, "pyfirst", delayEntities);
    const ts = await topologySnapshot(ctl, "tsfirst", delayEntities);
    // What Python declared: 28 levels + the delivery exchange + the task queue's topic exchange.
    expect(python.queues).toHaveLength(29);
    expect(python.exchanges).toHaveLength(30);
    expect(
      python.bindings.some((b) => b.includes('"celery_delayed_delivery"') && b.includes(`#.${QUEUE}`)),
    ).toBe(true);
    expect(ts).toEqual(python);

    // The other side second: no 406, same topology, and both consume.
    const tsSecond = await startTsWorker("pyfirst");
    const pySecond = await startPyWorker("tsfirst");
    expect(consumerErrors).toEqual([]);
    expect(`${pyFirst.logs()}${pySecond.logs()}`).not.toMatch(/PRECONDITION|Failed to (setup|declare|bind)/);
    expect(await topologySnapshot(ctl, "pyfirst", delayEntities)).toEqual(python);
    expect(await topologySnapshot(ctl, "tsfirst", delayEntities)).toEqual(python);

    // worker_detect_quorum_queues: per-consumer prefetch on the task consumer, no global QoS.
    const consumers = JSON.parse(
      (
        await rabbit.ctl([
          "list_consumers",
          "-p",
          "pyfirst",
          "queue_name",
          "prefetch_count",
          "--formatter",
          "json",
        ])
      ).stdout,
    ) as { queue_name: string; prefetch_count: number }[];
    const onQueue = consumers.filter((c) => c.queue_name === QUEUE);
    expect(onQueue).toHaveLength(2);
    for (const c of onQueue) expect(c.prefetch_count).toBeGreaterThan(0);
    const channels = JSON.parse(
      (await rabbit.ctl(["list_channels", "global_prefetch_count", "consumer_count", "--formatter", "json"]))
        .stdout,
    ) as { global_prefetch_count: number; consumer_count: number }[];
    for (const c of channels.filter((ch) => ch.consumer_count > 0)) expect(c.global_prefetch_count).toBe(0);

    // Leave one worker per vhost: Python on pyfirst, TS on tsfirst.
    await tsSecond.close({ timeoutMs: 5000 });
    await pySecond.stop();
    expect(tsFirst).toBeDefined();
  }, 120_000);

  it("a TS producer's countdown waits in the delay queues and a Python worker runs it at its ETA", async () => {
    const producer = newApp("pyfirst");
    const result = await producer.sendTask("interop.headers", [], {}, { countdown: 4 });
    // The broker holds it: in a celery_delayed_N queue, not in the task queue.
    await waitUntil(
      "the message in a delay queue",
      async () => (await whereMessagesAre("pyfirst")).delayed === 1,
      {
        timeoutMs: 3500,
        intervalMs: 100,
      },
    );
    expect((await whereMessagesAre("pyfirst")).inQueue).toBe(0);
    const ran = (await result.get({ timeoutMs: 30_000 })) as {
      request: { eta: string; delivery_info: { routing_key: string } };
    };
    expect(ran.request.delivery_info.routing_key).toBe(calculateRoutingKey(4, QUEUE));
    const meta = await storedMeta(result.id);
    const late = Date.parse(String(meta.date_done)) - Date.parse(ran.request.eta);
    console.log(`[native delay] TS producer -> Python worker: ran ${late} ms after its ETA`);
    expect(late).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it("a Python producer's countdown reaches the TS worker through the delay queues, at its ETA", async () => {
    const sent = await pythonJson<{ id: string; at: number }>(
      `
from interop_app import app, emit
import time
r = app.send_task("ts.when", countdown=4)
emit({"id": r.id, "at": time.time()})
`,
      { brokerUrl: brokerUrl("tsfirst"), backendUrl: backend, defaultQueue: QUEUE, config: PY_CONFIG },
    );
    await waitUntil(
      "the message in a delay queue",
      async () => (await whereMessagesAre("tsfirst")).delayed === 1,
      {
        timeoutMs: 3500,
        intervalMs: 100,
      },
    );
    const app = newApp("tsfirst");
    const ran = (await app.asyncResult(sent.id).get({ timeoutMs: 30_000 })) as {
      ranAt: string;
      eta: string;
      routingKey: string;
    };
    // The key kombu's calculate_routing_key gave the message equals ours.
    expect(ran.routingKey).toBe(calculateRoutingKey(4, QUEUE));
    const late = Date.parse(ran.ranAt) - Date.parse(ran.eta);
    // Python builds the eta before it connects and publishes; the broker counts from the publish.
    const afterPublish = Date.parse(ran.ranAt) - (sent.at * 1000 + 4000);
    console.log(
      `[native delay] Python producer -> TS worker: ran ${late} ms after its ETA, ${afterPublish} ms after publish + countdown`,
    );
    expect(late).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it("a TS worker's retry with a countdown goes through the delay levels, as a Python worker's retry does", async () => {
    // A TS producer to the Python worker (pyfirst), a Python producer to the TS worker (tsfirst).
    const toPython = await newApp("pyfirst").sendTask("interop.retry_delivery", [4]);
    const toTs = await pythonJson<{ id: string }>(
      `
from interop_app import app, emit
emit({"id": app.send_task("ts.retry_delivery", [4]).id})
`,
      { brokerUrl: brokerUrl("tsfirst"), backendUrl: backend, defaultQueue: QUEUE, config: PY_CONFIG },
    );
    // After the first run each retry waits in a delay queue: the broker holds it, not a worker.
    for (const vhost of ["pyfirst", "tsfirst"]) {
      await waitUntil(
        `the retry in a delay queue on ${vhost}`,
        async () => {
          const at = await whereMessagesAre(vhost);
          return at.delayed === 1 && at.inQueue === 0;
        },
        { timeoutMs: 3500, intervalMs: 100 },
      );
    }
    type Ran = { retries: number; exchange: string; routing_key: string; eta: string; ran_at: number };
    const python = (await toPython.get({ timeoutMs: 30_000 })) as Ran;
    const ts = (await newApp("tsfirst").asyncResult(toTs.id).get({ timeoutMs: 30_000 })) as Ran;
    console.log(`[native delay] retried runs: Python ${JSON.stringify(python)}, TS ${JSON.stringify(ts)}`);
    expect(python.retries).toBe(1);
    expect(python.routing_key).toBe(calculateRoutingKey(4, QUEUE));
    expect({ exchange: ts.exchange, routing_key: ts.routing_key, retries: ts.retries }).toEqual({
      exchange: python.exchange,
      routing_key: python.routing_key,
      retries: python.retries,
    });
    for (const ran of [python, ts]) expect(ran.ran_at * 1000).toBeGreaterThanOrEqual(Date.parse(ran.eta));
  }, 60_000);

  it("a TS producer sending before any worker exists declares the levels itself; a later Python worker runs the task", async () => {
    const producer = newApp("cold");
    const result = await producer.sendTask("interop.add", [20, 22], {}, { countdown: 2 });
    expect((await whereMessagesAre("cold")).delayed).toBe(1);
    const python = await topologySnapshot(ctl, "pyfirst", delayEntities);
    expect(await topologySnapshot(ctl, "cold", delayEntities)).toEqual(python);
    await startPyWorker("cold");
    expect(await result.get({ timeoutMs: 30_000 })).toBe(42);
  }, 60_000);

  it("calculateRoutingKey equals kombu's calculate_routing_key", async () => {
    const cases = fc.sample(
      fc.tuple(
        fc.integer({ min: 1, max: 2 ** 28 - 1 }),
        fc.oneof(
          fc.stringMatching(/^[a-z0-9_.*#-]{1,30}$/),
          // A key that already carries a delay prefix (a delayed retry): kombu strips it first.
          fc
            .integer({ min: 0, max: 2 ** 28 - 1 })
            .map((n) => `${[...n.toString(2).padStart(28, "0")].join(".")}.q`),
        ),
      ),
      { numRuns: 300, seed: 16 },
    );
    const python = await pythonJson<string[]>(
      `
import json, sys
from kombu.transport.native_delayed_delivery import calculate_routing_key
from interop_app import emit
cases = json.loads(${JSON.stringify(JSON.stringify(cases))})
emit([calculate_routing_key(n, key) for n, key in cases])
`,
    );
    expect(cases.map(([n, key]) => calculateRoutingKey(n, key))).toEqual(python);
  }, 30_000);

  it("bad settings: a quorum queue with a max priority and an unknown delay queue type are ConfigErrors naming the option", () => {
    const app = new Celery({
      broker: "amqp://guest:guest@127.0.0.1:1",
      taskDefaultQueueType: "quorum",
      taskQueueMaxPriority: 10,
    });
    apps.push(app);
    const err = (() => {
      try {
        app.prepareTask("x", [], {});
        return (
          app.transport as unknown as { taskQueueDeclarations(q: unknown): unknown }
        ).taskQueueDeclarations(app.router.queue("celery"));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).option).toBe("taskQueueMaxPriority");
    expect(
      () =>
        new Celery({
          broker: "amqp://x",
          brokerNativeDelayedDeliveryQueueType: "stream" as unknown as "quorum",
        }),
    ).toThrow(/brokerNativeDelayedDeliveryQueueType.*classic.*quorum/);
  });
});
