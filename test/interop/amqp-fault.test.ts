/**
 * Fault test (issue 6, item 5): a RabbitMQ of our own is stopped and restarted while a TS
 * producer publishes 10 000 tasks (publisher confirms) and a TS worker (`acksLate`, Redis result
 * backend) consumes them. Every task's result must eventually be SUCCESS in the Redis backend,
 * none lost. Deliveries that were running or unacked when the connection dropped are redelivered
 * by RabbitMQ (at-least-once): the task records each run, and the number of tasks that ran more
 * than once is printed, not asserted (it depends on where the outage fell).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { AsyncResult } from "../../src/client/result.js";
import type { AmqpTransport } from "../../src/transports/amqp/index.js";
import type { Worker } from "../../src/worker/worker.js";
import { type RabbitMqServer, startRabbitMq } from "../support/servers/rabbitmq.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const TOTAL = 10_000;
/** Publishes in flight at once (each waits for its confirm). */
const WINDOW = 500;
/** The broker goes down once this many publishes were confirmed. */
const OUTAGE_AT = 3_000;

let rabbit: RabbitMqServer;
let backend: string;
let recorder: Redis;
let producer: Celery;
let workerApp: Celery;
let worker: Worker;
const queue = uniqueQueue("fault");
const runsKey = `runs:${queue}`;

const savedLogLevel = process.env.CELERIAC_LOG_LEVEL;

beforeAll(async () => {
  // 10 000 "received"/"succeeded" lines would drown the count printed below. The facade's worker
  // takes its default logger's level from here (this file runs in its own vitest worker).
  process.env.CELERIAC_LOG_LEVEL = "warn";
  rabbit = await startRabbitMq();
  backend = (await allocateRedisDb()).url;
  recorder = new Redis(backend, { maxRetriesPerRequest: 3 });
  // The broker stays down for a few seconds: keep retrying through the outage. A publish is
  // bounded by task_publish_retry_policy (as kombu's Producer.publish is), so it gets Celery's
  // Redis-backend-like 20 retries 1 s apart to ride out the restart (about 113 s at most).
  const common = {
    broker: rabbit.url,
    backend,
    taskDefaultQueue: queue,
    brokerConnectionMaxRetries: 1000,
    taskPublishRetryPolicy: { maxRetries: 20, intervalStart: 0, intervalStep: 1, intervalMax: 1 },
  };
  producer = new Celery(common);
  workerApp = new Celery({ ...common, taskAcksLate: true });
  workerApp.task("fault.run", async (ctx, n: number) => {
    await recorder.rpush(runsKey, ctx.id);
    return n;
  });
  worker = workerApp.worker({
    queues: [queue],
    concurrency: 32,
    prefetchMultiplier: 4,
    hostname: "fault@localhost",
  });
  await worker.start();
}, 120_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 10_000 });
  await workerApp?.close();
  await producer?.close();
  recorder?.disconnect();
  await rabbit?.dispose();
  if (savedLogLevel === undefined) delete process.env.CELERIAC_LOG_LEVEL;
  else process.env.CELERIAC_LOG_LEVEL = savedLogLevel;
});

/** Task ids whose stored state is not SUCCESS yet, read through the Redis backend's keys. */
async function notYetSucceeded(ids: readonly string[]): Promise<string[]> {
  const pending: string[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const metas = await recorder.mget(chunk.map((id) => `celery-task-meta-${id}`));
    metas.forEach((raw, j) => {
      const status = raw === null ? "PENDING" : (JSON.parse(raw) as { status: string }).status;
      if (status !== "SUCCESS") pending.push(chunk[j] as string);
    });
  }
  return pending;
}

describe("RabbitMQ restarted under load (TS producer + acksLate TS worker)", () => {
  it(`all ${TOTAL} tasks end SUCCESS; duplicates are counted`, async () => {
    const results: AsyncResult[] = [];
    let outage: Promise<void> | null = null;
    for (let start = 0; start < TOTAL; start += WINDOW) {
      const batch = Array.from({ length: Math.min(WINDOW, TOTAL - start) }, (_, k) =>
        producer.sendTask("fault.run", [start + k]),
      );
      results.push(...(await Promise.all(batch)));
      if (outage === null && results.length >= OUTAGE_AT) {
        // Stop (clean shutdown: durable queue and persistent messages survive), stay down while
        // the producer keeps publishing into the outage, then start the same node again.
        outage = rabbit.stop().then(async () => {
          await new Promise((r) => setTimeout(r, 2000));
          await rabbit.start();
        });
      }
    }
    await outage;
    const ids = results.map((r) => r.id);
    expect(new Set(ids).size).toBe(TOTAL);

    let pending = await notYetSucceeded(ids);
    const deadline = Date.now() + 240_000;
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      pending = await notYetSucceeded(pending);
    }
    expect(pending).toEqual([]);

    // Values come back through the facade's AsyncResult for a sample spread over the run.
    for (const index of [0, OUTAGE_AT, TOTAL - 1]) {
      expect(await results[index]?.get({ timeout: 10_000 })).toBe(index);
    }

    // Both sides really lost their connection and came back on a new one.
    expect((producer.transport as AmqpTransport).connection.generation).toBeGreaterThan(1);
    expect((workerApp.transport as AmqpTransport).connection.generation).toBeGreaterThan(1);

    const runs = await recorder.lrange(runsKey, 0, -1);
    const perTask = new Map<string, number>();
    for (const id of runs) perTask.set(id, (perTask.get(id) ?? 0) + 1);
    expect(perTask.size).toBe(TOTAL);
    const duplicated = [...perTask.values()].filter((n) => n > 1).length;
    console.log(
      `amqp fault: ${TOTAL} tasks SUCCESS, ${runs.length} runs, ${duplicated} tasks ran more than once (at-least-once redelivery)`,
    );
  }, 400_000);
});
