/**
 * A TS worker survives a Redis restart: a real Python Celery 5.7 producer
 * streams tasks to an in-process TS worker whose broker and result backend
 * live on a redis-server this test owns. Redis is killed mid-stream and
 * started again on the same port; the worker must reconnect every
 * connection it holds (blocking BRPOP, ack emulation, result backend) and
 * run every task sent after the restart, without a hung blocking read and
 * without an unhandled error.
 *
 * The server runs without persistence (harness default `--save ''`), so
 * whatever was queued at the kill is gone: the test checks the tasks of the
 * first half finished before the kill, and sends the second half only after
 * the server is back, which is what "reconnect and resume" can honestly
 * promise (tasks in flight at a crash without persistence are lost for
 * Python's worker too).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

const HALF = 25;

let redis: RedisServer;
let stack: TsStack;
let worker: Worker;
const queue = uniqueQueue("tsrestart");
const logs: string[] = [];
const runs = new Map<number, number>();
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
  redis = await startRedis();
  stack = createTsStack({ broker: redis.dbUrl(1), backend: redis.dbUrl(2) }, { lines: logs });
  stack.task("ts.square", async (_ctx, n: number) => {
    runs.set(n, (runs.get(n) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    return n * n;
  });
  worker = stack.worker({ queues: [queue], concurrency: 4, hostname: "tsrestart@localhost" });
  await worker.start();
});

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await stack?.close();
  await redis?.dispose();
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
});

/** Python sends `ns` to the TS worker and reads every result (state + value). */
const sendAndGet = (ns: number[]) =>
  pythonJson<{ states: string[]; values: number[] }>(
    `
from interop_app import app, emit
rs = [app.send_task("ts.square", (n,), queue=${JSON.stringify(queue)}) for n in ${JSON.stringify(ns)}]
values = [r.get(timeout=30) for r in rs]
emit({"states": [r.state for r in rs], "values": values})
`,
    { brokerUrl: redis.dbUrl(1), backendUrl: redis.dbUrl(2), timeoutMs: 45_000 },
  );

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe("TS worker across a Redis restart (Python producer)", () => {
  it("reconnects after the server is killed and restarted, and runs every task sent afterwards", async () => {
    const before = range(0, HALF);
    const first = await sendAndGet(before);
    expect(first.states.every((s) => s === "SUCCESS")).toBe(true);
    expect(first.values).toEqual(before.map((n) => n * n));

    // Crash the server and keep it down until the worker has noticed (its
    // BRPOP loop reports the lost connection), so the outage is not a blip
    // that a single reconnect hides.
    const logsBeforeKill = logs.length;
    await redis.kill();
    await waitUntil(
      "the worker to report the lost broker connection",
      async () => logs.slice(logsBeforeKill).some((line) => /BRPOP failed|consumer:/i.test(line)),
      { timeoutMs: 15_000 },
    );
    await redis.restart();

    const after = range(HALF, HALF);
    const second = await sendAndGet(after);
    expect(second.states.every((s) => s === "SUCCESS")).toBe(true);
    expect(second.values).toEqual(after.map((n) => n * n));

    // Every task ran exactly once, none of the second half before the restart.
    for (const n of [...before, ...after]) expect(runs.get(n), `task ${n}`).toBe(1);
    expect(unhandled).toEqual([]);
  }, 90_000);

  it("keeps consuming after a second restart (no stuck blocking read)", async () => {
    await redis.restart();
    const more = range(2 * HALF, 5);
    const out = await sendAndGet(more);
    expect(out.values).toEqual(more.map((n) => n * n));
    expect(unhandled).toEqual([]);
  }, 60_000);
});
