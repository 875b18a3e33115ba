/**
 * End to end: a TS beat's periodic task runs on a real Celery 5.7 worker, on Redis and on
 * RabbitMQ. The worker's `interop.headers` task returns its request context; the stored result
 * shows the beat header (`celery_beat_task`), the entry's own header and arguments.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { createLogger } from "../../src/logging.js";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

let backend: string;
let redis: Redis;
const workers: CeleryWorker[] = [];

beforeAll(async () => {
  ({ url: backend } = await allocateRedisDb());
  redis = new Redis(backend);
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  redis?.disconnect();
});

interface HeadersResult {
  args: unknown[];
  kwargs: Record<string, unknown>;
  extra: Record<string, unknown>;
}

/** Results the worker stored for `interop.headers` whose kwargs carry `marker`. */
async function resultsFor(marker: string): Promise<HeadersResult[]> {
  const keys = await redis.keys("celery-task-meta-*");
  const out: HeadersResult[] = [];
  for (const key of keys) {
    const meta = JSON.parse((await redis.get(key)) ?? "{}") as { status?: string; result?: HeadersResult };
    if (meta.status === "SUCCESS" && meta.result?.kwargs?.marker === marker) out.push(meta.result);
  }
  return out;
}

async function beatRunsOnPythonWorker(broker: string): Promise<HeadersResult> {
  const queue = uniqueQueue("beat-e2e");
  const marker = queue;
  workers.push(await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [queue] }));
  const app = new Celery({
    broker,
    beatMaxLoopInterval: 1,
    beatSchedule: {
      headers: {
        task: "interop.headers",
        schedule: 1,
        args: [1, 2],
        kwargs: { marker },
        options: { queue, headers: { tenant: "acme" } },
      },
    },
  });
  const beat = app.beat({ scheduler: "memory", log: createLogger({ level: "warn" }) });
  const running = beat.start();
  try {
    await waitUntil(
      "the Python worker ran the beat's task",
      async () => (await resultsFor(marker)).length > 0,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
  } finally {
    await beat.stop();
    await running;
    await app.close();
  }
  return (await resultsFor(marker))[0] as HeadersResult;
}

describe("a TS beat's tasks run on a Python Celery 5.7 worker", { timeout: 60_000 }, () => {
  it("Redis broker", async () => {
    const { url } = await allocateRedisDb();
    const result = await beatRunsOnPythonWorker(url);
    expect(result.args).toEqual([1, 2]);
    expect(result.extra).toMatchObject({ celery_beat_task: true, tenant: "acme" });
  });

  it("RabbitMQ broker", async () => {
    const result = await beatRunsOnPythonWorker(await amqpUrl());
    expect(result.args).toEqual([1, 2]);
    expect(result.extra).toMatchObject({ celery_beat_task: true, tenant: "acme" });
  });
});
