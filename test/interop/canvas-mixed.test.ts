/**
 * Mixed-language workflows (issue 5, items 3 and 4): a stock Celery 5.7 worker on one queue, a
 * TS worker (in this process) on another, one Redis broker + backend. Every step is routed by
 * its signature's `queue` option, so each hop crosses languages where the test says so; the
 * workflows are built in TS (canvas module) and in Python (celery.canvas), and read from both.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, group, type Signature, s, si, signature } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { AsyncResult } from "../../src/client/result.js";
import { RemoteTaskError } from "../../src/errors.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../support/worker-pair.js";

let broker: string;
let backend: string;
let pair: WorkerPair;
let stack: TsStack;
let tsWorker: Worker;
let app: Celery;
let redis: Redis;
const pyQ = uniqueQueue("cpy");
const tsQ = uniqueQueue("cts");
const T = { timeout: 30_000 };
const tsErrbackCalls: string[] = [];

const py = (name: string, ...args: unknown[]): Signature => s(`interop.${name}`, ...args).set({ queue: pyQ });
const ts = (name: string, ...args: unknown[]): Signature => s(`ts.${name}`, ...args).set({ queue: tsQ });

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    ts: async (urls) => {
      ({ broker, backend } = urls);
      stack = createTsStack({ broker, backend, resultExtended: true }, { lines: [] });
      stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
      stack.task("ts.mul", (_ctx, a: number, b: number) => a * b);
      stack.task("ts.xsum", (_ctx, values: number[]) => values.reduce((x, y) => x + y, 0));
      stack.task("ts.fail", (_ctx, ...args: unknown[]) => {
        throw new PythonError("ValueError", ["ts failed", ...args]);
      });
      stack.task("ts.on_error", (_ctx, failedId: string) => {
        tsErrbackCalls.push(failedId);
        return failedId;
      });
      tsWorker = stack.worker({ queues: [tsQ], concurrency: 4, hostname: "canvas-ts@localhost" });
      return tsWorkerSide(tsWorker, stack);
    },
  });
  app = new Celery({ broker, backend, taskDefaultQueue: pyQ });
  redis = new Redis(backend);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await pair?.close();
});

const env = () => ({ brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ });
const pyQs = () => JSON.stringify(pyQ);
const tsQs = () => JSON.stringify(tsQ);

async function until<V>(read: () => Promise<V>, done: (v: V) => boolean): Promise<V> {
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("chains across languages", () => {
  it("py -> ts -> py built in TS: ((1+2)*10)+5, parent ids and children across the hop", async () => {
    const res = await applyAsync(app, chain(py("add", 1, 2), ts("mul", 10), py("add", 5)));
    expect(await res.get(T)).toBe(35);
    const tsStep = res.parent as AsyncResult;
    expect(await tsStep.get(T)).toBe(30);
    const tsMeta = await tsStep.meta();
    // The TS worker recorded the step it sent as its child and its Python parent as parent_id.
    expect(tsMeta.children).toEqual([[[res.id, null], null]]);
    expect(tsMeta.parentId).toBe((tsStep.parent as AsyncResult).id);
    expect(tsMeta.worker).toBe("canvas-ts@localhost");
    expect((await res.meta()).parentId).toBe(tsStep.id);
  });

  it("py -> ts -> py built in Python", async () => {
    const value = await pythonJson<number>(
      `
from interop_app import app, emit
from celery import chain
sig = lambda name, args, q: app.signature(name, args=args, queue=q)
c = chain(sig("interop.add", (1, 2), ${pyQs()}), sig("ts.mul", (10,), ${tsQs()}), sig("interop.add", (5,), ${pyQs()}))
emit(c.apply_async().get(timeout=30))
`,
      env(),
    );
    expect(value).toBe(35);
  });

  it("ts -> ts -> py with an immutable TS step", async () => {
    const res = await applyAsync(
      app,
      chain(ts("add", 1, 1), si("ts.mul", 3, 3).set({ queue: tsQ }), py("add", 1)),
    );
    expect(await res.get(T)).toBe(10);
  });

  it("a chain failing in a TS step: the caller of the last (Python) step sees the TS error", async () => {
    const res = await applyAsync(app, chain(py("add", 1, 1), ts("fail"), py("add", 1)));
    const err = await res.get(T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toMatchObject({ excType: "ValueError", excMessage: ["ts failed", 2] });
    expect((await res.meta()).name).toBe("interop.add");
  });

  it("a chain failing in a Python step before a TS step", async () => {
    const res = await applyAsync(
      app,
      chain(ts("add", 1, 1), si("interop.fail", "KeyError", "k").set({ queue: pyQ }), ts("mul", 2)),
    );
    await expect(res.get(T)).rejects.toMatchObject({ excType: "KeyError" });
  });
});

describe("groups and chords across languages", () => {
  it("group mixing Python and TS members, ordered", async () => {
    const res = await applyAsync(
      app,
      group(py("add", 1, 1), ts("mul", 3, 3), py("add", 2, 2), ts("add", 5, 5)),
    );
    expect(await res.get(T)).toEqual([2, 9, 4, 10]);
    expect(await res.completedCount()).toBe(4);
  });

  it("chord with TS header tasks and a Python body (TS runs the 5.7 join)", async () => {
    const res = await applyAsync(app, chord([ts("add", 1, 1), ts("add", 2, 2), ts("add", 3, 3)], py("xsum")));
    expect(await res.get(T)).toBe(12);
    const gid = (res.parent as { id: string }).id;
    // Our claim/cleanup left Celery's done marker and removed the join keys.
    expect(await redis.get(`celery-taskset-meta-${gid}.c`)).toBe("done");
    expect(await redis.exists(`celery-taskset-meta-${gid}.j`, `celery-taskset-meta-${gid}.d`)).toBe(0);
    expect((await res.meta()).name).toBe("interop.xsum");
  });

  it("chord with Python header tasks and a TS body", async () => {
    const res = await applyAsync(app, chord([py("add", 1, 1), py("mul", 2, 5), py("add", 3, 3)], ts("xsum")));
    expect(await res.get(T)).toBe(18);
    expect((await res.meta()).worker).toBe("canvas-ts@localhost");
  });

  it("chord whose header mixes both languages, built in Python, body in TS", async () => {
    const value = await pythonJson<number>(
      `
from interop_app import app, emit
from celery import chord
sig = lambda name, args, q: app.signature(name, args=args, queue=q)
header = [sig("ts.add", (i, i), ${tsQs()}) if i % 2 else sig("interop.add", (i, i), ${pyQs()}) for i in range(6)]
emit(chord(header)(sig("ts.xsum", (), ${tsQs()})).get(timeout=30))
`,
      env(),
    );
    expect(value).toBe(30);
  });

  it("chord with a failing TS header member: the body fails with ChordError", async () => {
    const res = await applyAsync(
      app,
      chord([ts("add", 1, 1), si("ts.fail", "x").set({ queue: tsQ })], py("xsum")),
    );
    const err = await res.get(T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toMatchObject({ excType: "ChordError" });
    expect(String((err as RemoteTaskError).excMessage[0])).toMatch(
      /^Dependency [0-9a-f-]+ raised ValueError\('ts failed', 'x'\)$/,
    );
  });
});

describe("link and link_error across languages", () => {
  it("a failing TS task calls a Python errback with its id", async () => {
    const key = `canvas:errback:${tsQ}`;
    const bad = si("ts.fail", "boom").set({ queue: tsQ });
    bad.linkError(signature("interop.record", [], { key }, { queue: pyQ }));
    const res = await applyAsync(app, bad);
    await expect(res.get(T)).rejects.toBeInstanceOf(RemoteTaskError);
    const recorded = await until(
      () => redis.lrange(key, 0, -1),
      (v) => v.length >= 1,
    );
    expect(recorded).toEqual([res.id]);
  });

  it("a failing Python task calls a TS errback with its id", async () => {
    const bad = si("interop.fail", "ValueError", "py boom").set({ queue: pyQ });
    bad.linkError(ts("on_error"));
    const res = await applyAsync(app, bad);
    await expect(res.get(T)).rejects.toMatchObject({ excType: "ValueError" });
    await until(
      async () => tsErrbackCalls.includes(res.id),
      (seen) => seen,
    );
    expect(tsErrbackCalls.filter((id) => id === res.id)).toHaveLength(1);
  });

  it("a TS task's success callbacks (several, sent as one group) run in Python", async () => {
    const ok = ts("add", 2, 3);
    ok.link(py("mul", 10));
    ok.link(py("add", 1));
    const res = await applyAsync(app, ok);
    expect(await res.get(T)).toBe(5);
    const meta = await res.meta();
    // One child: the group of both callbacks, as trace.py sends them.
    expect(meta.children).toHaveLength(1);
    const [[gid], members] = (meta.children ?? [])[0] as [[string, null], unknown[][]];
    expect(typeof gid).toBe("string");
    const ids = members.map((m) => (m[0] as string[])[0] as string);
    const values = await Promise.all(ids.map((id) => app.asyncResult(id).get(T)));
    expect(values).toEqual([50, 6]);
  });
});

describe("nested workflows", () => {
  it("chain(task, group, task) built in TS runs as a chord continued by the TS worker", async () => {
    const res = await applyAsync(app, chain(ts("add", 1, 1), group(py("add", 1), ts("mul", 10)), py("xsum")));
    expect(await res.get(T)).toBe(23);
  });

  it("the same workflow built in Python: the TS worker applies the chord embedded in its chain", async () => {
    const value = await pythonJson<number>(
      `
from interop_app import app, emit
from celery import chain, group
sig = lambda name, args, q: app.signature(name, args=args, queue=q)
c = chain(sig("ts.add", (1, 1), ${tsQs()}), group(sig("interop.add", (1,), ${pyQs()}), sig("ts.mul", (10,), ${tsQs()})), sig("ts.xsum", (), ${tsQs()}))
emit(c.apply_async().get(timeout=30))
`,
      env(),
    );
    expect(value).toBe(23);
  });
});
