/**
 * Routes travel with the workflow (issue 14 item 2). The Node producer's only routing is
 * `taskRoutes: { "ts.*": { queue: tsQ } }`; no signature names a queue. A stock Celery 5.7
 * worker (default queue pyQ, no task_routes) and a TS worker (its own app, default queue pyQ,
 * no taskRoutes) forward the steps. Without the routes written into the steps' options, the
 * Python worker would send every `ts.*` step to its default queue, where it is not registered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { Worker } from "../../src/worker/worker.js";
import { waitUntil } from "../support/process.js";
import { uniqueQueue } from "../support/services.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../support/worker-pair.js";

let pair: WorkerPair;
let producer: Celery;
let tsApp: Celery;
let tsWorker: Worker;
const pyQ = uniqueQueue("rpy");
const tsQ = uniqueQueue("rts");
const T = { timeoutMs: 30_000 };
const recorded: unknown[] = [];
const errbacks: string[] = [];

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    ts: async ({ broker, backend }) => {
      tsApp = new Celery({ broker, backend, taskDefaultQueue: pyQ });
      tsApp.task("ts.double", (_ctx, n: number) => n * 2);
      tsApp.task("ts.xsum", (_ctx, values: number[]) => values.reduce((a, b) => a + b, 0));
      tsApp.task("ts.record", (_ctx, value: unknown) => {
        recorded.push(value);
        return value;
      });
      tsApp.task("ts.on_error", (_ctx, failedId: string) => {
        errbacks.push(failedId);
        return failedId;
      });
      tsWorker = tsApp.worker({
        queues: [tsQ],
        concurrency: 4,
        hostname: "routes-ts@localhost",
        handleSignals: false,
      });
      return tsWorkerSide(tsWorker, tsApp);
    },
  });
  const { broker, backend } = pair;
  producer = new Celery({ broker, backend, taskDefaultQueue: pyQ, taskRoutes: { "ts.*": { queue: tsQ } } });
});

afterAll(async () => {
  await producer?.close();
  await pair?.close();
});

describe("a workflow built in Node is routed by the Node app's taskRoutes at every hop", () => {
  it('chain(s("interop.add", 2, 3), s("ts.double"), s("interop.add", 10)): Python -> TS -> Python', async () => {
    const res = await applyAsync(
      producer,
      chain(s("interop.add", 2, 3), s("ts.double"), s("interop.add", 10)),
    );
    expect(await res.get(T)).toBe(20);
  });

  it("a chord with a Python header and a TS body (the Python worker sends the body)", async () => {
    const res = await applyAsync(
      producer,
      chord([s("interop.add", 1, 1), s("interop.add", 2, 2)], s("ts.xsum")),
    );
    expect(await res.get(T)).toBe(6);
  });

  it("a link on a Python task calls the TS callback (signature link and sendTask link)", async () => {
    const head = s("interop.add", 2, 3);
    head.link(s("ts.record"));
    expect(await (await applyAsync(producer, head)).get(T)).toBe(5);
    const sent = await producer.sendTask("interop.add", [4, 4], {}, { link: s("ts.record") });
    expect(await sent.get(T)).toBe(8);
    await waitUntil("both TS callbacks ran", async () => recorded.length >= 2, { timeoutMs: 30_000 });
    expect([...recorded].sort()).toEqual([5, 8]);
  });

  it("a link_error on a failing Python task calls the TS errback with the failed id", async () => {
    const bad = s("interop.fail", "ValueError", "routed");
    bad.linkError(s("ts.on_error"));
    const res = await applyAsync(producer, bad);
    await expect(res.get(T)).rejects.toMatchObject({ excType: "ValueError" });
    await waitUntil("the TS errback ran", async () => errbacks.includes(res.id), { timeoutMs: 30_000 });
    expect(errbacks).toEqual([res.id]);
  });
});
