/**
 * The `Celery` facade end to end over real RabbitMQ, against Celery 5.7:
 * - TS `sendTask` (amqp:// broker, rpc:// backend) to a stock Python worker, `get()` the reply;
 * - a TS worker (`app.task` / `app.worker`) on RabbitMQ answering a Python producer that reads
 *   its result with `AsyncResult.get()` through Python's rpc:// backend (the worker publishes to
 *   the request's reply_to with its correlation_id);
 * - the same TS worker with a Redis result backend and the AMQP broker (mixed combo).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { RemoteTaskError } from "../../src/errors.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

let broker: string;
let redisBackend: string;
let pyWorker: CeleryWorker;
const pyQueue = uniqueQueue("app-amqp-py");
const apps: Celery[] = [];
const workers: Worker[] = [];

function newApp(backend: string): Celery {
  const app = new Celery({ broker, backend });
  apps.push(app);
  return app;
}

function startTsWorker(backend: string, queue: string, hostname: string): Promise<Worker> {
  const app = newApp(backend);
  app.task("ts.add", (_ctx, a: number, b: number) => a + b);
  app.task("ts.reply", (ctx) => ({ replyTo: ctx.replyTo, correlationId: ctx.correlationId, id: ctx.id }));
  app.task("ts.fail", () => {
    throw new PythonError("ValueError", ["bad input"]);
  });
  const worker = app.worker({ queues: [queue], concurrency: 4, hostname });
  workers.push(worker);
  return worker.start().then(() => worker);
}

beforeAll(async () => {
  broker = await amqpUrl();
  redisBackend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({ brokerUrl: broker, backendUrl: "rpc://", queues: [pyQueue] });
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.close({ timeoutMs: 5000 });
  for (const a of apps) await a.close();
  await pyWorker?.stop();
});

describe("TS facade (amqp + rpc://) -> Python Celery 5.7 worker", () => {
  it("sendTask and get() read the rpc reply", async () => {
    const app = newApp("rpc://");
    const results = await Promise.all(
      [1, 2, 3].map((i) => app.sendTask<number>("interop.add", [i, 10], null, { queue: pyQueue })),
    );
    const values = await Promise.all(results.map((r) => r.get({ timeout: 30_000 })));
    expect(values).toEqual([11, 12, 13]);
    expect(await results[0]?.state()).toBe("SUCCESS");
  });

  it("a Python exception comes back as a rejected get()", async () => {
    const app = newApp("rpc://");
    const r = await app.sendTask("interop.fail", ["value", "nope"], null, { queue: pyQueue });
    const err = await r.get({ timeout: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect((err as RemoteTaskError).excType).toBe("InteropError");
    expect((err as RemoteTaskError).excMessage).toEqual(["nope"]);
    expect(await r.state()).toBe("FAILURE");
  });
});

describe("Python producer (amqp + rpc://) -> TS worker (amqp + rpc://)", () => {
  const queue = uniqueQueue("app-amqp-ts-rpc");
  beforeAll(async () => {
    await startTsWorker("rpc://", queue, "ts-rpc@localhost");
  });

  it("Python AsyncResult.get() reads values and failures the TS worker replied", async () => {
    const out = await pythonJson<{
      sum: number;
      ctx: Record<string, unknown>;
      id: string;
      oid: string;
      err: string;
    }>(
      `
from interop_app import app, emit
Q = ${JSON.stringify(queue)}
r = app.send_task("ts.add", (2, 3), queue=Q)
total = r.get(timeout=30)
c = app.send_task("ts.reply", (), queue=Q)
ctx = c.get(timeout=30)
try:
    app.send_task("ts.fail", (), queue=Q).get(timeout=30)
    err = "no error"
except Exception as exc:
    err = type(exc).__name__ + ": " + str(exc)
emit({"sum": total, "ctx": ctx, "id": c.id, "oid": app.thread_oid, "err": err})
`,
      { brokerUrl: broker, backendUrl: "rpc://" },
    );
    expect(out.sum).toBe(5);
    // The handler saw the request's reply_to (Python's oid) and correlation_id (the task id).
    expect(out.ctx).toEqual({ replyTo: out.oid, correlationId: out.id, id: out.id });
    expect(out.err).toBe("ValueError: bad input");
  });
});

describe("Python producer (amqp + redis backend) -> TS worker (amqp broker, Redis backend)", () => {
  const queue = uniqueQueue("app-amqp-ts-redis");
  beforeAll(async () => {
    await startTsWorker(redisBackend, queue, "ts-mixed@localhost");
  });

  it("Python reads the result and the failure from Redis", async () => {
    const out = await pythonJson<{ sum: number; state: string; err: string }>(
      `
from interop_app import app, emit
Q = ${JSON.stringify(queue)}
r = app.send_task("ts.add", (20, 22), queue=Q)
total = r.get(timeout=30)
try:
    app.send_task("ts.fail", (), queue=Q).get(timeout=30)
    err = "no error"
except Exception as exc:
    err = type(exc).__name__ + ": " + str(exc)
emit({"sum": total, "state": r.state, "err": err})
`,
      { brokerUrl: broker, backendUrl: redisBackend },
    );
    expect(out).toEqual({ sum: 42, state: "SUCCESS", err: "ValueError: bad input" });
  });

  it("a TS producer on the same combo reads the TS worker's result", async () => {
    const app = newApp(redisBackend);
    const r = await app.sendTask<number>("ts.add", [7, 8], null, { queue });
    expect(await r.get({ timeout: 30_000 })).toBe(15);
  });
});
