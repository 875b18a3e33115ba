/**
 * The pre-5.7 chord join (compat "5.6": MULTI pipeline, `.s` by SETEX + PUBLISH, no `.d`/`.c`)
 * shared between a stock Celery 5.6 worker and a TS worker on Redis.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chord, type Signature, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { Worker } from "../../src/worker/worker.js";
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
const pyQ = uniqueQueue("c56py");
const tsQ = uniqueQueue("c56ts");
const T = { timeout: 30_000 };

const py = (name: string, ...args: unknown[]): Signature => s(`interop.${name}`, ...args).set({ queue: pyQ });
const ts = (name: string, ...args: unknown[]): Signature => s(`ts.${name}`, ...args).set({ queue: tsQ });

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    python: { celeryVersion: "5.6" },
    ts: async (urls) => {
      ({ broker, backend } = urls);
      stack = createTsStack({ broker, backend, compat: "5.6" }, { lines: [] });
      stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
      stack.task("ts.xsum", (_ctx, values: number[]) => values.reduce((x, y) => x + y, 0));
      tsWorker = stack.worker({ queues: [tsQ], concurrency: 4, hostname: "c56-ts@localhost" });
      return tsWorkerSide(tsWorker, stack);
    },
  });
  app = new Celery({ broker, backend, taskDefaultQueue: pyQ, compat: "5.6" });
  redis = new Redis(backend);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await pair?.close();
});

describe("chords with Celery 5.6 (pipeline join)", () => {
  it("mixed header, TS body: both sides count into one .j and nothing of 5.7 is written", async () => {
    const res = await applyAsync(app, chord([ts("add", 1, 1), py("add", 2, 2), ts("add", 3, 3)], ts("xsum")));
    expect(await res.get(T)).toBe(12);
    const gid = (res.parent as { id: string }).id;
    expect(await redis.exists(`celery-taskset-meta-${gid}.c`, `celery-taskset-meta-${gid}.d`)).toBe(0);
    expect(await redis.exists(`celery-taskset-meta-${gid}.j`, `celery-taskset-meta-${gid}.s`)).toBe(0);
  });

  it("TS header, Python 5.6 body", async () => {
    const res = await applyAsync(app, chord([ts("add", 5, 5), ts("add", 1, 0)], py("xsum")));
    expect(await res.get(T)).toBe(11);
  });
});
