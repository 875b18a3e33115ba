/**
 * Nothing is lost on Redis when an `acksLate` TS worker is SIGKILLed at any
 * instant: the take script pops a message and records it in kombu's
 * `unacked` / `unacked_index` in one atomic step (kombu's BRPOP-then-HSET
 * loses the message popped in between). And the entries it writes are
 * kombu's: a Python worker's visibility sweep restores what a killed TS
 * worker held, and a TS worker's sweep restores what a killed Python worker
 * held.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { pythonJson, startCeleryWorker } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { startTsWorkerProcess, type TsWorkerProcess } from "../support/ts-worker/launch.js";

const TASKS = 3000;
const KILLS = 6;

const py = <T>(code: string, broker: string, backend: string) =>
  pythonJson<T>(
    `
import json
from interop_app import app, emit
from celery.result import AsyncResult
${code}
`,
    { brokerUrl: broker, backendUrl: backend, timeoutMs: 120_000 },
  );

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("Redis: take and record atomically (SIGKILL at random instants)", () => {
  it(`${TASKS} acksLate tasks, the TS worker SIGKILLed ${KILLS} times at random points: none lost`, async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("killmany");
    const key = `rec:${queue}`;
    const env = {
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_ACKS_LATE: "1",
      // Small prefetch: many takes, so the kills land between, during and after them.
      TSW_CONCURRENCY: "4",
      TSW_PREFETCH: "2",
      TSW_VISIBILITY_TIMEOUT: "3",
      // Slow enough that six short lives do not drain 3 000 tasks on an idle machine.
      TSW_RECORD_DELAY_MS: "5",
      TSW_LOG_LEVEL: "warn",
    };
    await py(
      `
Q, KEY = ${JSON.stringify(queue)}, ${JSON.stringify(key)}
with app.producer_or_acquire() as producer:
    for i in range(${TASKS}):
        app.send_task("interop.record", ("t%d" % i, KEY), queue=Q, producer=producer)
emit(True)
`,
      broker,
      backend,
    );
    const rec = new Redis(backend, { maxRetriesPerRequest: 3 });
    const brk = new Redis(broker, { maxRetriesPerRequest: 3 });
    const killedAt: number[] = [];
    let worker: TsWorkerProcess | null = null;
    try {
      for (let k = 0; k < KILLS; k++) {
        worker = await startTsWorkerProcess(env);
        // A random instant in the worker's life: from right after it is ready to most of a second in.
        await sleep(Math.floor(Math.random() * 900));
        await worker.kill();
        worker = null;
        killedAt.push(await rec.llen(key));
      }
      // Most kills landed mid-run (work was left, some of it held unacked by the dead worker). The
      // last life may finish the queue on a fast machine, so not every kill is required to.
      expect(killedAt.filter((recorded) => recorded < TASKS).length).toBeGreaterThanOrEqual(KILLS - 2);
      worker = await startTsWorkerProcess(env);
      await waitUntil(
        "every task recorded at least once",
        async () => new Set(await rec.lrange(key, 0, -1)).size === TASKS,
        { timeoutMs: 120_000, intervalMs: 250 },
      ).catch(async (err: Error) => {
        const seen = new Set(await rec.lrange(key, 0, -1)).size;
        throw new Error(
          `${err.message}: ${seen} recorded, unacked ${await brk.hlen("unacked")} (mutex ttl ${await brk.pttl("unacked_mutex")} ms), queued ${await brk.llen(queue)}\n${worker?.logs().slice(-3000)}`,
        );
      });
      await waitUntil(
        "nothing left in unacked or in the queue",
        async () => (await brk.hlen("unacked")) === 0 && (await brk.llen(queue)) === 0,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const tags = await rec.lrange(key, 0, -1);
      const unique = new Set(tags);
      const lost = Array.from({ length: TASKS }, (_, i) => `t${i}`).filter((t) => !unique.has(t));
      const duplicates = tags.length - unique.size;
      console.info(
        `[atomic take] ${TASKS} tasks, ${KILLS} SIGKILLs (recorded at each kill: ${killedAt.join(", ")}): lost ${lost.length}, run twice ${duplicates}`,
      );
      expect(lost).toEqual([]);
      expect(await brk.zcard("unacked_index")).toBe(0);
    } finally {
      await worker?.stop(5000);
      rec.disconnect();
      brk.disconnect();
    }
  }, 240_000);

  it("a Python worker's sweep restores what a killed TS worker held, and a TS worker's sweep what a killed Python worker held", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("crossrestore");
    const brk = new Redis(broker, { maxRetriesPerRequest: 3 });
    const sweepConfig = {
      result_extended: true,
      task_acks_late: true,
      broker_transport_options: {
        visibility_timeout: 2,
        unacked_restore_interval: 1,
        unacked_restore_throttle: 1,
      },
    };
    try {
      // 1. TS holds 4 messages unacked (one running for a minute, three prefetched), then dies.
      const tsVictim = await startTsWorkerProcess({
        TSW_BROKER: broker,
        TSW_BACKEND: backend,
        TSW_QUEUES: queue,
        TSW_ACKS_LATE: "1",
        TSW_CONCURRENCY: "1",
        TSW_PREFETCH: "4",
        TSW_RECORD_DELAY_MS: "60000",
      });
      const tsHeld = await py<string[]>(
        `emit([app.send_task("interop.record", ("ts%d" % i, "rec:${queue}:a"), queue=${JSON.stringify(queue)}).id for i in range(4)])`,
        broker,
        backend,
      );
      await waitUntil("the TS worker holds all 4 unacked", async () => (await brk.hlen("unacked")) === 4, {
        timeoutMs: 20_000,
      });
      await tsVictim.kill();
      const pyRescuer = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [queue],
        config: sweepConfig,
      });
      try {
        const workers = await py<string[]>(
          `
ids = json.loads(${JSON.stringify(JSON.stringify(tsHeld))})
for i in ids:
    AsyncResult(i, app=app).get(timeout=60)
emit([app.backend.get_task_meta(i)["worker"] for i in ids])
`,
          broker,
          backend,
        );
        expect(workers).toEqual(tsHeld.map(() => pyRescuer.hostname));
      } finally {
        await pyRescuer.stop();
      }
      expect(await brk.hlen("unacked")).toBe(0);

      // 2. Python holds 4 (each running an 8 s sleep), then dies; a TS worker's sweep restores and runs them.
      const pyVictim = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [queue],
        pool: "threads",
        concurrency: 4,
        config: { ...sweepConfig, broker_transport_options: { visibility_timeout: 3600 } },
      });
      const pyHeld = await py<string[]>(
        `emit([app.send_task("interop.sleep", (8,), queue=${JSON.stringify(queue)}).id for i in range(4)])`,
        broker,
        backend,
      );
      await waitUntil(
        "the Python worker holds all 4 unacked",
        async () => (await brk.hlen("unacked")) === 4,
        {
          timeoutMs: 20_000,
        },
      );
      await pyVictim.kill();
      const tsRescuer = await startTsWorkerProcess({
        TSW_BROKER: broker,
        TSW_BACKEND: backend,
        TSW_QUEUES: queue,
        TSW_ACKS_LATE: "1",
        TSW_CONCURRENCY: "4",
        TSW_VISIBILITY_TIMEOUT: "2",
        TSW_RESULT_EXTENDED: "1",
        TSW_SHUTDOWN_TIMEOUT_MS: "500",
      });
      try {
        const workers = await py<string[]>(
          `
ids = json.loads(${JSON.stringify(JSON.stringify(pyHeld))})
for i in ids:
    AsyncResult(i, app=app).get(timeout=60)
emit([app.backend.get_task_meta(i)["worker"] for i in ids])
`,
          broker,
          backend,
        );
        expect(workers).toEqual(pyHeld.map(() => tsRescuer.hostname));
        expect(await brk.hlen("unacked")).toBe(0);
      } finally {
        await tsRescuer.stop(5000);
      }
    } finally {
      brk.disconnect();
    }
  }, 180_000);
});
