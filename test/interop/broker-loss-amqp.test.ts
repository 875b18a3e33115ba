/**
 * RabbitMQ loss never leaves a zombie (a TS worker process on its own
 * RabbitMQ node, Redis result backend, Python producer):
 * - an outage longer than `brokerConnectionMaxRetries`: the worker exits 1
 *   with one clear line (never 0, never silently);
 * - an outage inside the retry window: the worker stays up (nothing lets
 *   the event loop run dry while it reconnects) and consumes again; a
 *   connection that dies right after it opened is reopened after a backoff,
 *   with a log line;
 * - `sendTask` against an unreachable broker rejects with
 *   ConnectionLostError (bounded by task_publish_retry_policy);
 * - the CLI exits 69 with one line on an unreachable broker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConnectionLostError } from "../../src/errors.js";
import { pythonJson } from "../support/celery.js";
import { celeriac } from "../support/cli-apps/run.js";
import { freePort } from "../support/ports.js";
import { waitUntil } from "../support/process.js";
import { type RabbitMqServer, startRabbitMq } from "../support/servers/rabbitmq.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { startTsWorkerProcess } from "../support/ts-worker/launch.js";

let rabbit: RabbitMqServer;

beforeAll(async () => {
  rabbit = await startRabbitMq();
});

afterAll(async () => {
  await rabbit?.dispose();
});

const sendAndGet = (broker: string, backend: string, queue: string, xs: number[]) =>
  pythonJson<number[]>(
    `
from interop_app import app, emit
rs = [app.send_task("interop.add", (x, 1), queue=${JSON.stringify(queue)}) for x in ${JSON.stringify(xs)}]
emit([r.get(timeout=30) for r in rs])
`,
    { brokerUrl: broker, backendUrl: backend, timeoutMs: 60_000 },
  );

describe("RabbitMQ broker loss (TS worker process, Python producer)", () => {
  it("an outage longer than brokerConnectionMaxRetries: the worker exits 1 with one line", async () => {
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("bla-exit");
    const worker = await startTsWorkerProcess({
      TSW_BROKER: rabbit.url,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_MAX_RETRIES: "3",
    });
    expect(await sendAndGet(rabbit.url, backend, queue, [1, 2])).toEqual([2, 3]);
    await rabbit.stop();
    try {
      // Bounded by the test timeout: a worker that never exits fails here.
      const exit = await worker.exited;
      expect(exit.code).toBe(1);
      const fatal = worker
        .logs()
        .split("\n")
        .filter((line) => /Unrecoverable/.test(line));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatch(/Cannot connect to amqp:\/\/guest@127\.0\.0\.1:\d+/);
      expect(fatal[0]).toContain("broker_connection_max_retries=3");
    } finally {
      await rabbit.start();
    }
  }, 90_000);

  it("an outage inside the retry window: the worker stays up and consumes again; a flapping connection backs off", async () => {
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("bla-back");
    const worker = await startTsWorkerProcess({
      TSW_BROKER: rabbit.url,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_MAX_RETRIES: "40",
    });
    try {
      expect(await sendAndGet(rabbit.url, backend, queue, [1, 2])).toEqual([2, 3]);
      await rabbit.stop();
      // The old failure: every reconnect timer unref'd, the process exited 0 about 1 s in.
      await waitUntil(
        "the worker to retry a few times",
        async () => (worker.logs().match(/Trying again/g) ?? []).length >= 3,
        {
          timeoutMs: 30_000,
        },
      );
      await rabbit.start();
      expect(await sendAndGet(rabbit.url, backend, queue, [10, 20, 30])).toEqual([11, 21, 31]);

      // A connection closed right after it opened is reopened after a backoff, with a line saying so.
      const before = worker.logs().length;
      await rabbit.ctl(["close_all_connections", "test: first close"]);
      await waitUntil(
        "the worker to reconnect",
        async () => /reconnecting/.test(worker.logs().slice(before)),
        {
          timeoutMs: 15_000,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await rabbit.ctl(["close_all_connections", "test: second close"]);
      await waitUntil(
        "a backoff line for the short-lived connection",
        async () => /lost \d+ ms after it opened; reconnecting in/.test(worker.logs().slice(before)),
        { timeoutMs: 15_000 },
      );
      expect(await sendAndGet(rabbit.url, backend, queue, [5])).toEqual([6]);
      expect(worker.logs()).not.toMatch(/Unrecoverable/);
    } finally {
      const exit = await worker.stop();
      expect(exit.code).toBe(0);
    }
  }, 150_000);
});

describe("RabbitMQ unreachable: producer and CLI", () => {
  it("sendTask rejects with ConnectionLostError naming the broker", async () => {
    const url = `amqp://guest:guest@127.0.0.1:${await freePort()}//`;
    const app = new Celery({ broker: url, brokerConnectionTimeout: 1 });
    try {
      const err = await app.sendTask("interop.add", [1, 2]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect((err as Error).message).toMatch(/127\.0\.0\.1/);
      expect((err as Error).message).not.toContain("guest:guest");
    } finally {
      await app.close();
    }
  }, 60_000);

  it("the CLI exits 69 with one line", async () => {
    const url = `amqp://guest:guest@127.0.0.1:${await freePort()}//`;
    const run = await celeriac(["--broker", url, "call", "interop.add", "--args", "[1, 2]"]);
    expect(run.code).toBe(69);
    const lines = run.stderr.split("\n").filter((line) => line.trim() !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/broker/i);
  }, 90_000);
});
