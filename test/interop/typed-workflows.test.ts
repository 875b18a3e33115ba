/**
 * One signature type, typed end to end (issue 14 item 3), against real Redis, a stock Celery 5.7
 * worker (Python tasks `interop.*` on pyQ) and a TS worker (`ts.*` on tsQ, routed by the app's
 * `taskRoutes` only). The handles `app.task()` returns and the `app.signature()` handles make
 * signatures that go into links, chains, groups and chords, and workflows start themselves with
 * `.applyAsync()` / `.delay()` through the app they are bound to (or the one passed / current).
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, group, s } from "../../src/canvas/index.js";
import type { AsyncResult, GroupResult } from "../../src/client/result.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const pyQ = uniqueQueue("typed-py");
const tsQ = uniqueQueue("typed-ts");
const T = { timeoutMs: 30_000 };
let broker: string;
let backend: string;
let pyWorker: CeleryWorker;
let app: Celery;
let worker: Worker;

function handles(a: Celery) {
  return {
    double: a.task("ts.double", (_ctx, n: number) => n * 2),
    label: a.task("ts.label", async (_ctx, n: number, prefix: string) => `${prefix}${n}`),
    add: a.signature<[number, number], number>("interop.add"),
    xsum: a.signature<[number[]], number>("interop.xsum"),
  };
}
let h: ReturnType<typeof handles>;

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQ],
    defaultQueue: pyQ,
  });
  app = new Celery({ broker, backend, taskDefaultQueue: pyQ, taskRoutes: { "ts.*": { queue: tsQ } } });
  h = handles(app);
  worker = app.worker({
    queues: [tsQ],
    concurrency: 4,
    hostname: "typed-ts@localhost",
    handleSignals: false,
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await app?.close();
  await pyWorker?.stop();
});

describe("typed handles and self-starting workflows across Python and TS workers", () => {
  it("a TS task's handle sends it: delay() and applyAsync() typed from the handler", async () => {
    const r = await h.double.delay(21);
    expectTypeOf(r).toEqualTypeOf<AsyncResult<number>>();
    expect(await r.get(T)).toBe(42);
    const labelled = await h.label.applyAsync([7, "n="], {}, { priority: 3 });
    expectTypeOf(labelled.get).returns.toEqualTypeOf<Promise<string>>();
    expect(await labelled.get(T)).toBe("n=7");
  });

  it("a handle's s() is a link on a Python task (sendTask link: the type error and ProtocolError are gone)", async () => {
    const link = h.double.s();
    const linkId = link.freeze();
    const r = await app.sendTask<number>("interop.add", [2, 3], {}, { link });
    expect(await r.get(T)).toBe(5);
    expect(await app.asyncResult<number>(linkId).get(T)).toBe(10);
  });

  it("chain(python, ts, python).applyAsync() is typed by its last step; Python reads the same result", async () => {
    const c = chain(h.add.s(2, 3), h.double.s(), h.add.s(10));
    const r = await c.applyAsync();
    expectTypeOf(r).toEqualTypeOf<AsyncResult<number>>();
    expect(await r.get(T)).toBe(20);
    expect(await r.parent?.get(T)).toBe(10);
    const fromPython = await pythonJson<number>(
      `
      from interop_app import app, emit
      emit(app.AsyncResult(${JSON.stringify(r.id)}).get(timeout=20))
      `,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(fromPython).toBe(20);
  });

  it("group(...).delay() gives a typed GroupResult; chord(...).applyAsync() the body's result", async () => {
    const g = await group(h.double.s(1), h.double.s(2)).delay();
    expectTypeOf(g).toEqualTypeOf<GroupResult<number>>();
    expect(await g.get(T)).toEqual([2, 4]);
    const c = await chord([h.add.s(1, 1), h.double.s(2)], h.xsum.s()).applyAsync();
    expectTypeOf(c).toEqualTypeOf<AsyncResult<number>>();
    expect(await c.get(T)).toBe(6);
  });

  it("signatures from s() go through the app passed as { app }, else the current app", async () => {
    const other = new Celery({
      broker,
      backend,
      taskDefaultQueue: pyQ,
      taskRoutes: { "ts.*": { queue: tsQ } },
    });
    try {
      // `other` is now the current app; `app` is passed explicitly.
      const viaOption = await chain(s<number>("interop.add", 1, 2), s<number>("ts.double")).applyAsync(
        [],
        {},
        { app },
      );
      expect(await viaOption.get(T)).toBe(6);
      const viaCurrent = await s<number>("interop.add", 4, 4).delay();
      expect(await viaCurrent.get(T)).toBe(8);
    } finally {
      await other.close();
    }
  });
});
