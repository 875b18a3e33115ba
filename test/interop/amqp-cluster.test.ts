/**
 * A three-node RabbitMQ cluster (test/support/servers/rabbitmq-cluster.ts, booted once for this
 * file: the only one that needs it) with quorum queues, TS and Python Celery 5.7 (issue 16,
 * items 2 and 4):
 *
 * - the harness: three running nodes, a quorum queue with a member on each and a leader;
 * - failover lists: a TS worker given `amqp://<dead>;amqp://n1;amqp://n2;amqp://n3` skips the
 *   dead node, consumes what a Python producer (kombu, same list) sends, and when its node is
 *   stopped reconnects to the next node and runs what Python sends next; Python reads every
 *   result;
 * - failover under load (item 5b, 5c): the node leading the task queue (a quorum queue) is stopped
 *   while a TS producer sends FAILOVER_TASKS acksLate tasks to a TS and a Python worker, plus
 *   countdown tasks that wait in the (quorum) delay queues; every task runs, Python reads every
 *   result, the countdown tasks run after their ETA (test/support/failover-load.ts).
 */

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { AmqpTransport } from "../../src/transports/amqp/transport.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import {
  describeFigures,
  FAILOVER_TASKS,
  registerRecordTasks,
  runFailoverLoad,
} from "../support/failover-load.js";
import { freePort } from "../support/ports.js";
import { waitUntil } from "../support/process.js";
import { type RabbitMqCluster, startRabbitMqCluster } from "../support/servers/rabbitmq-cluster.js";
import { allocateRedisDb, uniqueName } from "../support/services.js";

const PY_CONFIG = { task_default_queue_type: "quorum", task_default_exchange_type: "topic" };

let cluster: RabbitMqCluster;
let backend: string;
let deadPort: number;
let bootMs = 0;
const apps: Celery[] = [];
const workers: Worker[] = [];
const pyWorkers: CeleryWorker[] = [];

/** The cluster's failover list with a node that does not exist in front. */
function brokerList(): string {
  return `amqp://guest:guest@127.0.0.1:${deadPort};${cluster.url()}`;
}

function quorumApp(queue: string, extra: ConstructorParameters<typeof Celery>[0] = {}): Celery {
  const app = new Celery({
    broker: brokerList(),
    backend,
    taskDefaultQueue: queue,
    taskDefaultQueueType: "quorum",
    taskDefaultExchangeType: "topic",
    taskAcksLate: true,
    ...extra,
  });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  const started = Date.now();
  cluster = await startRabbitMqCluster();
  bootMs = Date.now() - started;
  console.log(`[cluster] three nodes clustered in ${bootMs} ms`);
  backend = (await allocateRedisDb()).url;
  deadPort = await freePort();
}, 240_000);

afterAll(async () => {
  for (const w of workers) await w.close({ timeoutMs: 5000 }).catch(() => {});
  for (const a of apps) await a.close().catch(() => {});
  for (const w of pyWorkers) await w.stop().catch(() => {});
  await cluster?.dispose();
}, 120_000);

describe("three-node RabbitMQ cluster harness", () => {
  it("runs three nodes; a quorum queue has a member on each and a leader", async () => {
    const status = JSON.parse((await cluster.ctl(["cluster_status", "--formatter", "json"])).stdout) as {
      running_nodes: string[];
    };
    expect(new Set(status.running_nodes)).toEqual(new Set(cluster.nodes.map((n) => n.nodeName)));
    const queue = uniqueName("harness");
    const app = quorumApp(queue);
    await app.transport.declare([app.router.queue(queue)]);
    const rows = JSON.parse(
      (await cluster.ctl(["list_queues", "name", "type", "leader", "members", "--formatter", "json"])).stdout,
    ) as { name: string; type: string; leader: string; members: string[] }[];
    const row = rows.find((r) => r.name === queue);
    expect(row?.type).toBe("quorum");
    expect(new Set(row?.members)).toEqual(new Set(status.running_nodes));
    expect(status.running_nodes).toContain(await cluster.quorumLeader(queue));
  });
});

describe("failover lists (amqp://a;amqp://b, round-robin)", () => {
  it("a TS worker skips a dead node, follows its node's stop to the next one, and runs what Python sends before and after", async () => {
    const queue = uniqueName("failover");
    const app = quorumApp(queue);
    const errors: string[] = [];
    app.task("ts.hit", (_ctx, i: number) => i * 2);
    const worker = app.worker({
      concurrency: 4,
      hostname: `ts-failover-${queue}@localhost`,
      withoutMingle: true,
    });
    worker.on("consumer-error", (err) => errors.push(err.message));
    workers.push(worker);
    await worker.start();
    const transport = app.transport as AmqpTransport;
    // Round-robin from the first URL: the dead node refused, the next one (node 1) took it.
    expect(transport.endpoint.port).toBe(cluster.nodes[0]?.port);

    const send = (from: number) =>
      pythonJson<number[]>(
        `
from interop_app import app, emit
rs = [app.send_task("ts.hit", (i,)) for i in range(${from}, ${from + 20})]
emit([r.get(timeout=60) for r in rs])
`,
        { brokerUrl: brokerList(), backendUrl: backend, defaultQueue: queue, config: PY_CONFIG },
      );
    expect(await send(0)).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));

    const stopped = cluster.nodes[0];
    if (!stopped) throw new Error("no node 0");
    const stopAt = Date.now();
    await cluster.stop(0);
    try {
      await waitUntil(
        "the TS worker on another node",
        async () => transport.connection.isOpen && transport.endpoint.port !== stopped.port,
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      const recoverMs = Date.now() - stopAt;
      console.log(
        `[failover list] TS worker reconnected to the next node ${recoverMs} ms after its node stopped`,
      );
      expect([cluster.nodes[1]?.port, cluster.nodes[2]?.port]).toContain(transport.endpoint.port);
      // Python (kombu) walks the same list: dead, stopped, then a live node.
      expect(await send(20)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 20) * 2));
    } finally {
      // The later tests need all three nodes.
      await cluster.start(0);
    }
  }, 180_000);
});

describe("the quorum queue's leader stopped under load", () => {
  it(`${FAILOVER_TASKS} acksLate tasks to TS and Python workers: every task runs, Python reads every result, countdown tasks run after`, async () => {
    const saved = process.env.CELERIAC_LOG_LEVEL;
    process.env.CELERIAC_LOG_LEVEL = "warn";
    const queue = uniqueName("load");
    const runsKey = `runs:${queue}`;
    const recorder = new Redis(backend);
    try {
      const workerApp = quorumApp(queue, { brokerConnectionMaxRetries: 1000 });
      registerRecordTasks(workerApp, recorder);
      const worker = workerApp.worker({
        concurrency: 16,
        hostname: `ts-${queue}@localhost`,
        withoutMingle: true,
      });
      workers.push(worker);
      await worker.start();
      pyWorkers.push(
        await startCeleryWorker({
          brokerUrl: brokerList(),
          backendUrl: backend,
          recordUrl: backend,
          defaultQueue: queue,
          pool: "threads",
          concurrency: 8,
          config: { ...PY_CONFIG, task_acks_late: true },
        }),
      );
      const producer = quorumApp(queue, {
        brokerConnectionMaxRetries: 1000,
        taskPublishRetryPolicy: { maxRetries: 20, intervalStart: 0, intervalStep: 1, intervalMax: 1 },
      });
      let stoppedLeader = "";
      const figures = await runFailoverLoad({
        producer,
        recorder,
        runsKey,
        total: FAILOVER_TASKS,
        countdownTasks: 10,
        countdownSeconds: 8,
        python: { backendUrl: backend },
        async fail() {
          stoppedLeader = await cluster.quorumLeader(queue);
          await cluster.stop(stoppedLeader);
          await waitUntil(
            "a new leader for the task queue",
            async () => (await cluster.quorumLeader(queue).catch(() => stoppedLeader)) !== stoppedLeader,
            { timeoutMs: 60_000, intervalMs: 200 },
          );
        },
      });
      console.log(describeFigures("RabbitMQ cluster (quorum leader node stopped)", figures));
      const tsRuns = Number(await recorder.get(`${runsKey}:ts`));
      console.log(
        `[failover load] runs by the TS worker ${tsRuns}, by the Python worker ${figures.runs - tsRuns}`,
      );
      expect(figures.lost).toBe(0);
      expect(figures.notSucceeded).toEqual([]);
      expect(figures.countdownMissing).toBe(0);
      // Each countdown task first ran at or after its ETA (the time the worker that ran it recorded).
      expect(figures.countdownLateMs).toHaveLength(10);
      for (const late of figures.countdownLateMs) expect(late).toBeGreaterThanOrEqual(0);
      expect(tsRuns).toBeGreaterThan(0);
      expect(figures.runs - tsRuns).toBeGreaterThan(0);
      await cluster.start(stoppedLeader);
    } finally {
      recorder.disconnect();
      if (saved === undefined) delete process.env.CELERIAC_LOG_LEVEL;
      else process.env.CELERIAC_LOG_LEVEL = saved;
    }
  }, 600_000);
});
