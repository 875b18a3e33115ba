/**
 * Parity, Python Celery 5.7 producers -> the TS worker: an in-process worker (the `Celery` facade)
 * for request/result scenarios, worker processes (test/support/ts-worker) for the ones that kill
 * or SIGTERM a worker. Results through the Redis result backend (plus `rpc://` where the transport
 * has it).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { PythonError } from "../../../src/worker/errors.js";
import type { Worker } from "../../../src/worker/worker.js";
import { pythonJson, startCeleryWorker } from "../../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../../support/services.js";
import { startTsWorkerProcess } from "../../support/ts-worker/launch.js";
import type { TransportProfile } from "./transports.js";

const PY_PRELUDE = `
import json, time
from collections import Counter
from interop_app import app, emit
from celery.result import AsyncResult
`;

const until = async (check: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> => {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

export function definePythonToTs(profile: TransportProfile): void {
  describe(`Python producer -> TS worker (${profile.name} broker, Redis backend)`, () => {
    let broker: string;
    let backend: string;
    let app: Celery;
    let worker: Worker;
    const queue = uniqueQueue(`par-${profile.name}-ts`);
    let releaseRetry!: () => void;
    const retryGate = new Promise<void>((resolve) => {
      releaseRetry = resolve;
    });
    const closers: (() => Promise<void>)[] = [];

    const py = <T>(code: string, backendUrl = backend, timeoutMs = 120_000) =>
      pythonJson<T>(`${PY_PRELUDE}\nQ = ${JSON.stringify(queue)}\n${code}`, {
        brokerUrl: broker,
        backendUrl,
        timeoutMs,
      });

    beforeAll(async () => {
      broker = await profile.brokerUrl();
      backend = (await allocateRedisDb()).url;
      app = new Celery({ broker, backend, resultExtended: true });
      app.task("ts.add", (_ctx, a: number, b: number) => a + b);
      app.task("ts.retry_once", async (ctx, value: string) => {
        if (ctx.retries < 1) ctx.retry({ countdown: 0.1, exc: new PythonError("KeyError", ["transient"]) });
        // Holds the second run until the test has seen RETRY in the backend: no race on timing.
        await retryGate;
        return `${value}:${ctx.retries}`;
      });
      worker = app.worker({ queues: [queue], concurrency: 8, hostname: `par-${profile.name}@localhost` });
      await worker.start();
    }, 60_000);

    afterAll(async () => {
      releaseRetry();
      for (const close of closers.reverse()) await close();
      await worker?.close({ timeoutMs: 5000 });
      await app?.close();
    });

    it("Python reads the TS worker's result with AsyncResult.get()", async () => {
      const out = await py<{ value: number; state: string; worker: string }>(`
r = app.send_task("ts.add", (2, 3), queue=Q)
v = r.get(timeout=30)
emit({"value": v, "state": r.state, "worker": app.backend.get_task_meta(r.id).get("worker")})
`);
      expect(out).toEqual({ value: 5, state: "SUCCESS", worker: worker.hostname });
    });

    it("a retry: Python sees RETRY, then SUCCESS with retries = 1", async () => {
      const seen = await py<{ id: string; retry: Record<string, unknown> }>(`
r = app.send_task("ts.retry_once", ("v",), queue=Q)
deadline = time.time() + 60
meta = {}
while time.time() < deadline:
    meta = app.backend.get_task_meta(r.id)
    if meta["status"] == "RETRY":
        break
    time.sleep(0.02)
emit({"id": r.id, "retry": {"status": meta["status"], "result": repr(meta.get("result"))}})
`);
      expect(seen.retry).toEqual({ status: "RETRY", result: "KeyError('transient')" });
      releaseRetry();
      const done = await py<{ value: string; state: string; retries: number }>(`
r = AsyncResult(${JSON.stringify(seen.id)}, app=app)
v = r.get(timeout=30)
emit({"value": v, "state": r.state, "retries": app.backend.get_task_meta(r.id)["retries"]})
`);
      expect(done).toEqual({ value: "v:1", state: "SUCCESS", retries: 1 });
    });

    it("an unknown task: Python gets NotRegistered", async () => {
      const out = await py<{ error: [string, string, unknown[]]; state: string }>(`
r = app.send_task("ts.no_such_task", (1,), queue=Q)
try:
    r.get(timeout=30)
    err = ["none", "", []]
except Exception as e:
    err = [type(e).__module__, type(e).__name__, list(e.args)]
emit({"error": err, "state": r.state})
`);
      expect(out).toEqual({
        error: ["celery.exceptions", "NotRegistered", ["ts.no_such_task"]],
        state: "FAILURE",
      });
    });

    it("poison messages mixed with good ones: every good task succeeds, no message is left behind", async () => {
      const poisonQueue = uniqueQueue(`par-${profile.name}-poison`);
      const headersFor = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
        const id = randomUUID();
        return { lang: "py", task: "ts.add", id, root_id: id, parent_id: null, group: null, ...extra };
      };
      const poisons: { body: string; contentType: string; headers: Record<string, unknown> }[] = [
        { body: "[[1,2],{},null]", contentType: "application/x-python-serialize", headers: headersFor() },
        { body: "{not json", contentType: "application/json", headers: headersFor() },
        { body: "[[1,2],{}]", contentType: "application/json", headers: headersFor() },
        { body: '["not a list",{},null]', contentType: "application/json", headers: headersFor() },
        { body: "[[1,2],{},null]", contentType: "application/json", headers: { lang: "py", task: "ts.add" } },
        {
          body: "[[1,2],{},null]",
          contentType: "application/json",
          headers: headersFor({ compression: "application/x-gzip" }),
        },
        {
          body: "[[1,2],{},null]",
          contentType: "application/json",
          headers: headersFor({ eta: "yesterday" }),
        },
      ];
      // Good and poison messages interleaved on one queue before the worker consumes it; the poisons
      // go through kombu's Producer with a preset content type, so kombu sends the body unchanged.
      const ids = await pythonJson<string[]>(
        `${PY_PRELUDE}
from kombu import Producer
Q = ${JSON.stringify(poisonQueue)}
poisons = json.loads(${JSON.stringify(JSON.stringify(poisons))})
ids = []
with app.connection_for_write() as conn:
    producer = Producer(conn.default_channel)
    for i in range(21):
        ids.append(app.send_task("ts.add", (i, 1), queue=Q).id)
        if i % 3 == 0 and poisons:
            p = poisons.pop(0)
            producer.publish(p["body"], exchange="", routing_key=Q, content_type=p["contentType"],
                             content_encoding="utf-8", headers=p["headers"])
emit(ids)
`,
        { brokerUrl: broker, backendUrl: backend },
      );
      const poisonWorker = app.worker({
        queues: [poisonQueue],
        concurrency: 4,
        hostname: "poison@localhost",
      });
      await poisonWorker.start();
      let values: number[];
      try {
        values = await py<number[]>(`
emit([AsyncResult(i, app=app).get(timeout=30) for i in json.loads(${JSON.stringify(JSON.stringify(ids))})])
`);
      } finally {
        await poisonWorker.close({ timeoutMs: 5000 });
      }
      expect(values).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(await profile.readyCount(broker, poisonQueue)).toBe(0);
    }, 120_000);

    if (profile.rpcBackend) {
      it("rpc:// backend: Python reads a TS worker's reply from its reply queue", async () => {
        const rpcQueue = uniqueQueue(`par-${profile.name}-rpc`);
        const rpcApp = new Celery({ broker, backend: "rpc://" });
        rpcApp.task("ts.add", (_ctx, a: number, b: number) => a + b);
        const rpcWorker = rpcApp.worker({
          queues: [rpcQueue],
          concurrency: 4,
          hostname: "par-rpc@localhost",
        });
        closers.push(async () => {
          await rpcWorker.close({ timeoutMs: 5000 });
          await rpcApp.close();
        });
        await rpcWorker.start();
        const out = await pythonJson<number[]>(
          `${PY_PRELUDE}\nrs = [app.send_task("ts.add", (i, 100), queue=${JSON.stringify(rpcQueue)}) for i in range(5)]\nemit([r.get(timeout=30) for r in rs])`,
          { brokerUrl: broker, backendUrl: "rpc://" },
        );
        expect(out).toEqual([100, 101, 102, 103, 104]);
      });
    }
  });
}

/** Scenarios that run TS workers as separate processes next to Python workers. */
export function defineWorkerProcesses(profile: TransportProfile): void {
  describe(`TS worker processes beside Python (${profile.name} broker, Redis backend)`, () => {
    const py = <T>(code: string, broker: string, backend: string, config?: Record<string, unknown>) =>
      pythonJson<T>(`${PY_PRELUDE}\n${code}`, {
        brokerUrl: broker,
        backendUrl: backend,
        timeoutMs: 180_000,
        ...(config ? { config } : {}),
      });

    it("a TS worker and a Python worker on one queue split 500 tasks: none lost, none run twice", async () => {
      const broker = await profile.brokerUrl();
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(`par-${profile.name}-mixed`);
      const key = `rec:${queue}`;
      const pyWorker = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [queue],
        pool: "threads",
        concurrency: 4,
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
        const out = await py<{ dupes: number; recorded: number; workers: Record<string, number> }>(
          `
Q, KEY = ${JSON.stringify(queue)}, ${JSON.stringify(key)}
ids = [app.send_task("interop.record", (i, KEY), queue=Q).id for i in range(500)]
for i in ids:
    AsyncResult(i, app=app).get(timeout=120)
r = app.backend.client
tags = [t.decode() for t in r.lrange(KEY, 0, -1)]
workers = Counter(app.backend.get_task_meta(i)["worker"] for i in ids)
emit({"dupes": len(tags) - len(set(tags)), "recorded": len(set(tags)), "workers": dict(workers)})
`,
          broker,
          backend,
        );
        expect(out.recorded).toBe(500);
        expect(out.dupes).toBe(0);
        expect(out.workers[tsWorker.hostname] ?? 0).toBeGreaterThan(0);
        expect(out.workers[pyWorker.hostname] ?? 0).toBeGreaterThan(0);
      } finally {
        await tsWorker.stop();
        await pyWorker.stop();
      }
    }, 240_000);

    it("SIGKILL of an acksLate TS worker: every task is still done (redelivered)", async () => {
      const broker = await profile.brokerUrl();
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(`par-${profile.name}-kill`);
      const key = `rec:${queue}`;
      const base = { TSW_BROKER: broker, TSW_BACKEND: backend, TSW_QUEUES: queue, TSW_ACKS_LATE: "1" };
      const victim = await startTsWorkerProcess({
        ...base,
        ...profile.redeliveryEnv,
        // qos 4 x 5 = 20: the victim holds every task, so the kill never lands between a fetch
        // and its bookkeeping (kombu's Redis transport has that window too: BRPOP, then HSET).
        TSW_CONCURRENCY: "4",
        TSW_PREFETCH: "5",
        TSW_RECORD_DELAY_MS: "400",
      });
      const ids = await py<string[]>(
        `emit([app.send_task("interop.record", ("t%d" % i, ${JSON.stringify(key)}), queue=${JSON.stringify(queue)}).id for i in range(20)])`,
        broker,
        backend,
      );
      const redis = new Redis(backend, { maxRetriesPerRequest: 1 });
      try {
        await until(
          async () => (await profile.readyCount(broker, queue)) === 0 && (await redis.llen(key)) >= 2,
          "every task delivered to the victim and the first ones recorded",
        );
        await victim.kill();
        // Killed mid-run: some tasks were delivered to it and never acknowledged.
        expect(await redis.llen(key)).toBeLessThan(20);
      } finally {
        redis.disconnect();
      }
      const rescuer = await startTsWorkerProcess({ ...base, ...profile.redeliveryEnv, TSW_CONCURRENCY: "4" });
      const pyWorker = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [queue],
        config: profile.redeliveryPythonConfig,
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
          profile.redeliveryPythonConfig,
        );
        expect(out.states).toEqual(ids.map(() => "SUCCESS"));
        expect(out.tags).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
      } finally {
        await rescuer.stop();
        await pyWorker.stop();
      }
    }, 180_000);

    it("graceful shutdown (SIGTERM): in-flight tasks finish, the rest go back to the queue, exit 0", async () => {
      const broker = await profile.brokerUrl();
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(`par-${profile.name}-term`);
      const key = `rec:${queue}`;
      const total = 12;
      const tsWorker = await startTsWorkerProcess({
        TSW_BROKER: broker,
        TSW_BACKEND: backend,
        TSW_QUEUES: queue,
        TSW_CONCURRENCY: "2",
        TSW_PREFETCH: "4",
      });
      const ids = await py<string[]>(
        `emit([app.send_task("ts.sleep_record", (700, "t%d" % i, ${JSON.stringify(key)}), queue=${JSON.stringify(queue)}).id for i in range(${total})])`,
        broker,
        backend,
      );
      // Wait until the worker holds a prefetched backlog (2 running + up to 6 reserved), then stop it.
      await until(async () => (await profile.readyCount(broker, queue)) <= total - 4, "a prefetched backlog");
      const exit = await tsWorker.stop();
      expect(exit.code).toBe(0);
      expect(tsWorker.logs()).toContain("warm shutdown");
      const redis = new Redis(backend, { maxRetriesPerRequest: 1 });
      let done: number;
      try {
        done = await redis.llen(key);
      } finally {
        redis.disconnect();
      }
      const states = await py<string[]>(
        `emit([AsyncResult(i, app=app).state for i in json.loads(${JSON.stringify(JSON.stringify(ids))})])`,
        broker,
        backend,
      );
      const succeeded = states.filter((s) => s === "SUCCESS").length;
      expect(succeeded).toBe(done);
      expect(succeeded).toBeGreaterThan(0);
      expect(states.filter((s) => s !== "SUCCESS").every((s) => s === "PENDING")).toBe(true);
      // The unstarted backlog is back in the queue (Redis: restored from `unacked` by the worker;
      // AMQP: rejected/requeued as the channel closes, which RabbitMQ may finish just after exit).
      await until(async () => (await profile.readyCount(broker, queue)) >= total - succeeded, "the requeue");
      expect(await profile.readyCount(broker, queue)).toBe(total - succeeded);
    }, 120_000);
  });
}
