/**
 * The TS worker as a separate process beside Python: sharing a queue with a
 * Python worker, surviving SIGKILL with acksLate (redelivery after the
 * visibility timeout through the shared `unacked` keys), and warm shutdown.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { startTsWorkerProcess } from "../support/ts-worker/launch.js";

const py = <T>(code: string, broker: string, backend: string) =>
  pythonJson<T>(
    `
import json, time
from collections import Counter
from interop_app import app, emit
from celery.result import AsyncResult
${code}
`,
    { brokerUrl: broker, backendUrl: backend, timeoutMs: 180_000 },
  );

describe("TS worker process beside Python workers (Redis)", () => {
  it("a Python worker and a TS worker on one queue split 2000 tasks: none lost, none run twice", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("mixed");
    const key = `rec:${queue}`;
    const pyWorker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [queue],
      pool: "threads",
      concurrency: 4,
      config: { result_extended: true },
    });
    const tsWorker = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_CONCURRENCY: "8",
      TSW_PREFETCH: "1",
      TSW_RESULT_EXTENDED: "1",
      TSW_LOG_LEVEL: "warn",
    });
    try {
      const out = await py<{
        dupes: number;
        recorded: number;
        done: number;
        workers: Record<string, number>;
      }>(
        `
Q, KEY = ${JSON.stringify(queue)}, ${JSON.stringify(key)}
ids = [app.send_task("interop.record", (i, KEY), queue=Q).id for i in range(2000)]
for i in ids:
    AsyncResult(i, app=app).get(timeout=120)
r = app.backend.client
tags = [t.decode() for t in r.lrange(KEY, 0, -1)]
workers = Counter(json.loads(r.get(app.backend.get_key_for_task(i)))["worker"] for i in ids)
emit({"dupes": len(tags) - len(set(tags)), "recorded": len(set(tags)), "done": len(ids), "workers": dict(workers)})
`,
        broker,
        backend,
      );
      expect(out.done).toBe(2000);
      expect(out.recorded).toBe(2000);
      expect(out.dupes).toBe(0);
      expect(out.workers[tsWorker.hostname] ?? 0).toBeGreaterThan(0);
      expect(out.workers[pyWorker.hostname] ?? 0).toBeGreaterThan(0);
    } finally {
      await tsWorker.stop();
      await pyWorker.stop();
    }
  }, 240_000);

  it("SIGKILL of a TS worker with acksLate: every task is still done after the visibility timeout (restored by the TS or Python sweep)", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("kill");
    const key = `rec:${queue}`;
    const tsWorker = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_CONCURRENCY: "4",
      TSW_PREFETCH: "2",
      TSW_ACKS_LATE: "1",
      TSW_VISIBILITY_TIMEOUT: "3",
      TSW_RECORD_DELAY_MS: "400",
    });
    const ids = await py<string[]>(
      `
emit([app.send_task("interop.record", ("t%d" % i, ${JSON.stringify(key)}), queue=${JSON.stringify(queue)}).id for i in range(20)])
`,
      broker,
      backend,
    );
    const redis = new Redis(backend, { maxRetriesPerRequest: 1 });
    const brokerRedis = new Redis(broker, { maxRetriesPerRequest: 1 });
    try {
      while ((await redis.llen(key)) < 2) await new Promise((r) => setTimeout(r, 50));
      await tsWorker.kill();
      const orphaned = await brokerRedis.hlen("unacked");
      expect(orphaned).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      brokerRedis.disconnect();
    }
    // A Python worker that knows the task name picks up the queue and, after the visibility
    // timeout, the TS worker's unacked messages (our HSET entries, restored by kombu's sweep).
    const rescuer = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_CONCURRENCY: "4",
      TSW_ACKS_LATE: "1",
      TSW_VISIBILITY_TIMEOUT: "3",
    });
    const pyWorker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [queue],
      config: {
        broker_transport_options: {
          visibility_timeout: 3,
          unacked_restore_interval: 1,
          unacked_restore_throttle: 1,
        },
      },
    });
    try {
      const out = await py<{ states: string[]; tags: string[] }>(
        `
ids = json.loads(${JSON.stringify(JSON.stringify(ids))})
states = [AsyncResult(i, app=app).get(timeout=90) and AsyncResult(i, app=app).state for i in ids]
tags = sorted(set(t.decode() for t in app.backend.client.lrange(${JSON.stringify(key)}, 0, -1)))
emit({"states": states, "tags": tags})
`,
        broker,
        backend,
      );
      expect(out.states).toEqual(ids.map(() => "SUCCESS"));
      expect(out.tags).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
    } finally {
      await rescuer.stop();
      await pyWorker.stop();
    }
  }, 180_000);

  it("SIGTERM: stops consuming, finishes running tasks, restores the rest to the queue and exits 0", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("term");
    const key = `rec:${queue}`;
    const tsWorker = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_CONCURRENCY: "2",
      TSW_PREFETCH: "4",
    });
    const ids = await py<string[]>(
      `
emit([app.send_task("ts.sleep_record", (700, "t%d" % i, ${JSON.stringify(key)}), queue=${JSON.stringify(queue)}).id for i in range(12)])
`,
      broker,
      backend,
    );
    const redis = new Redis(backend, { maxRetriesPerRequest: 1 });
    const brokerRedis = new Redis(broker, { maxRetriesPerRequest: 1 });
    try {
      // Wait until the worker holds a prefetched backlog, then stop it.
      while ((await brokerRedis.hlen("unacked")) < 4) await new Promise((r) => setTimeout(r, 20));
      const exit = await tsWorker.stop();
      expect(exit.code).toBe(0);
      const done = await redis.llen(key);
      const states = await py<string[]>(
        `
emit([AsyncResult(i, app=app).state for i in json.loads(${JSON.stringify(JSON.stringify(ids))})])
`,
        broker,
        backend,
      );
      const succeeded = states.filter((s) => s === "SUCCESS").length;
      expect(succeeded).toBe(done);
      expect(succeeded).toBeGreaterThan(0);
      expect(await brokerRedis.hlen("unacked")).toBe(0);
      expect(await brokerRedis.llen(queue)).toBe(12 - succeeded);
      expect(states.filter((s) => s !== "SUCCESS").every((s) => s === "PENDING")).toBe(true);
      expect(tsWorker.logs()).toContain("warm shutdown");
    } finally {
      redis.disconnect();
      brokerRedis.disconnect();
    }
  }, 120_000);
});
