/**
 * Broker and backend loss on Redis never leaves a zombie and loses no result
 * already computed:
 * - an outage longer than `brokerConnectionMaxRetries` ends the TS worker
 *   process with status 1 and one clear line (Celery's "Unrecoverable
 *   error" exit), nothing of ours keeping the process alive;
 * - an outage inside the retry window: the worker consumes again
 *   (a Python producer sends before and after);
 * - a ~3 s restart of the result backend while a task runs: the result is
 *   stored once Redis is back (Celery's backend retry policy), then acked;
 * - a producer call against a dead broker rejects with ConnectionLostError;
 * - a wrong password is a clear error naming the URL with the password
 *   masked, and nothing printed carries the password.
 */
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConnectionLostError } from "../../src/errors.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { startTsWorkerProcess } from "../support/ts-worker/launch.js";
import { createTsStack } from "../support/ts-worker/stack.js";

let brokerServer: RedisServer;

beforeAll(async () => {
  brokerServer = await startRedis();
});

afterAll(async () => {
  await brokerServer?.dispose();
});

const sendAndGet = (broker: string, backend: string, queue: string, xs: number[]) =>
  pythonJson<number[]>(
    `
from interop_app import app, emit
rs = [app.send_task("interop.add", (x, 1), queue=${JSON.stringify(queue)}) for x in ${JSON.stringify(xs)}]
emit([r.get(timeout=30) for r in rs])
`,
    { brokerUrl: broker, backendUrl: backend, timeoutMs: 45_000 },
  );

describe("Redis broker loss (TS worker process, Python producer)", () => {
  it("an outage longer than brokerConnectionMaxRetries: the worker exits 1 with one line", async () => {
    const broker = brokerServer.dbUrl(1);
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("bl-exit");
    const worker = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_MAX_RETRIES: "3",
    });
    expect(await sendAndGet(broker, backend, queue, [1, 2])).toEqual([2, 3]);
    await brokerServer.stop();
    try {
      // Bounded by the test timeout: a worker that never exits fails here (the zombie case).
      const exit = await worker.exited;
      expect(exit.code).toBe(1);
      const fatal = worker
        .logs()
        .split("\n")
        .filter((line) => /Unrecoverable/.test(line));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toContain(`Cannot connect to ${broker}`);
      expect(fatal[0]).toContain("broker_connection_max_retries=3");
    } finally {
      await brokerServer.restart();
    }
  }, 60_000);

  it("an outage inside the retry window: the worker consumes again afterwards", async () => {
    const broker = brokerServer.dbUrl(2);
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("bl-back");
    const worker = await startTsWorkerProcess({
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_MAX_RETRIES: "30",
    });
    try {
      expect(await sendAndGet(broker, backend, queue, [1, 2])).toEqual([2, 3]);
      const before = worker.logs().length;
      await brokerServer.stop();
      await waitUntil(
        "the worker to report the outage",
        async () => /Trying again/.test(worker.logs().slice(before)),
        {
          timeoutMs: 15_000,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await brokerServer.restart();
      expect(await sendAndGet(broker, backend, queue, [10, 20, 30])).toEqual([11, 21, 31]);
      expect(worker.logs()).not.toMatch(/Unrecoverable/);
    } finally {
      const exit = await worker.stop();
      expect(exit.code).toBe(0);
    }
  }, 90_000);
});

describe("Redis result backend restart while a task runs (in-process TS worker)", () => {
  let backendServer: RedisServer;
  beforeAll(async () => {
    backendServer = await startRedis();
  });
  afterAll(async () => {
    await backendServer?.dispose();
  });

  it("the result computed during a ~3 s backend outage is stored once Redis is back, then the message is acked", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = backendServer.dbUrl(1);
    const queue = uniqueQueue("bl-backend");
    const lines: string[] = [];
    const stack = createTsStack({ broker, backend, taskAcksLate: true }, { lines });
    let release!: () => void;
    const running = new Promise<void>((resolve) => {
      release = resolve;
    });
    stack.task("ts.slow_square", async (_ctx, n: number) => {
      release();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return n * n;
    });
    const worker = stack.worker({ queues: [queue], concurrency: 2, hostname: "bl-backend@localhost" });
    await worker.start();
    const brk = new Redis(broker, { maxRetriesPerRequest: 3 });
    try {
      const id = await pythonJson<string>(
        `
from interop_app import app, emit
emit(app.send_task("ts.slow_square", (7,), queue=${JSON.stringify(queue)}).id)
`,
        { brokerUrl: broker, backendUrl: backend },
      );
      await running;
      await backendServer.stop();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await backendServer.restart();
      const out = await pythonJson<{ state: string; value: number }>(
        `
from interop_app import app, emit
r = app.AsyncResult(${JSON.stringify(id)})
emit({"value": r.get(timeout=60), "state": r.state})
`,
        { brokerUrl: broker, backendUrl: backend, timeoutMs: 70_000 },
      );
      expect(out).toEqual({ state: "SUCCESS", value: 49 });
      await waitUntil(
        "the acksLate message acked after the store",
        async () => (await brk.hlen("unacked")) === 0,
        {
          timeoutMs: 10_000,
        },
      );
      expect(lines.join("\n")).not.toMatch(/Could not store result/);
    } finally {
      brk.disconnect();
      await worker.close({ timeout: 5000 });
      await stack.close();
    }
  }, 120_000);
});

describe("Redis producer against a dead or refusing broker", () => {
  it("sendTask rejects with ConnectionLostError naming the broker (bounded by task_publish_retry_policy)", async () => {
    const dead = await startRedis();
    const url = dead.dbUrl(0);
    await dead.dispose();
    const app = new Celery({ broker: url, brokerConnectionMaxRetries: 2 });
    try {
      const err = await app.sendTask("interop.add", [1, 2]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect((err as Error).message).toContain(url);
    } finally {
      await app.close();
    }
  }, 60_000);

  it("a wrong password: a clear error naming the URL, password masked, nowhere in what is printed", async () => {
    const locked = await startRedis();
    // Set after start: the harness's readiness PING has no password.
    const admin = new Redis(locked.url);
    await admin.config("SET", "requirepass", "right-pass-123");
    admin.disconnect();
    const secret = "wrong-pass-456";
    const url = `redis://:${secret}@127.0.0.1:${locked.port}/0`;
    const app = new Celery({ broker: url, backend: url.replace(/\/0$/, "/1") });
    try {
      const err = await app.sendTask("interop.add", [1, 2]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionLostError);
      const message = (err as Error).message;
      expect(message).toMatch(new RegExp(`redis://:\\*+@127\\.0\\.0\\.1:${locked.port}/0`));
      expect(message).toMatch(/refused the credentials: WRONGPASS/);
      expect(inspect(err, { depth: 10 })).not.toContain(secret);
      const read = await app
        .asyncResult("00000000-0000-0000-0000-000000000000")
        .get({ timeout: 2000 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(inspect(read, { depth: 10 })).not.toContain(secret);
    } finally {
      await app.close();
      await locked.dispose();
    }
  }, 60_000);
});
