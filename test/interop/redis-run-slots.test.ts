/**
 * The worker's concurrency slots (src/worker/run-slots.ts) against a real redis-server whose
 * writes are held (`CLIENT PAUSE WRITE`): a run gives its slot back once its handler returns, so
 * the next handler does not wait for the previous result's round trip, but at most `concurrency`
 * finished runs wait on the backend at once. While the server holds every write (the result
 * script, the acks, the take), a worker of concurrency 2 runs exactly 4 handlers and then no
 * more, however many messages it holds; once writes are back every result is stored as SUCCESS.
 *
 * A private redis-server: pausing writes would stall every other file's clients on the shared one.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/index.js";
import type { Worker } from "../../src/worker/worker.js";
import { waitUntil } from "../support/process.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { uniqueQueue } from "../support/services.js";

let server: RedisServer;
let app: Celery;
let worker: Worker;
let broker: Redis;
let backend: Redis;
const queue = uniqueQueue("slots");
let calls = 0;
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});

beforeAll(async () => {
  server = await startRedis();
  app = new Celery({ broker: server.dbUrl(1), backend: server.dbUrl(2), taskDefaultQueue: queue });
  // The first two runs wait for the gate; every later one returns at once.
  app.task("ts.slots.gated", async (_ctx, n: number) => {
    calls++;
    if (calls <= 2) await gate;
    return n * 2;
  });
  worker = app.worker({
    queues: [queue],
    concurrency: 2,
    prefetchMultiplier: 4,
    withoutMingle: true,
    remoteControl: false,
  });
  await worker.start();
  broker = new Redis(server.dbUrl(1));
  backend = new Redis(server.dbUrl(2));
});

afterAll(async () => {
  broker?.disconnect();
  backend?.disconnect();
  await worker?.close({ timeoutMs: 5000 });
  await app?.close();
  await server?.dispose();
});

describe("concurrency slots while the backend holds the results", () => {
  it("runs 2 x concurrency handlers while writes are paused, then stores every result", async () => {
    const results = [];
    for (let n = 0; n < 12; n++) results.push(await app.sendTask("ts.slots.gated", [n]));
    // Two handlers wait at the gate; the prefetch (2 x 4) holds 8 more, recorded in `unacked`.
    await waitUntil(
      "2 runs at the gate and 8 messages held",
      async () => {
        return calls === 2 && (await broker.hlen("unacked")) === 8;
      },
      { timeoutMs: 10_000 },
    );
    await broker.call("CLIENT", "PAUSE", "10000", "WRITE");
    try {
      openGate();
      // The two gated runs return; their results cannot be written, so they finish in the
      // background while two more handlers run; those keep their slots.
      await waitUntil("4 handlers called", async () => calls >= 4, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(calls).toBe(4);
      expect(await backend.dbsize()).toBe(0);
    } finally {
      await broker.call("CLIENT", "UNPAUSE");
    }
    const values = await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    expect(values).toEqual(Array.from({ length: 12 }, (_, n) => n * 2));
    expect(calls).toBe(12);
    for (const r of results) {
      const meta = JSON.parse((await backend.get(`celery-task-meta-${r.id}`)) ?? "null");
      expect(meta.status).toBe("SUCCESS");
    }
  });
});
