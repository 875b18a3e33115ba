import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson, runCeleryCli } from "../support/celery.js";
import { redisBrokerOf } from "../support/redis-broker.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let worker: Worker;
const homeQueue = uniqueQueue("tscons-home");
const addedQueue = uniqueQueue("tscons-added");
const hostname = `tscons-${process.pid}@localhost`;
const ran: string[] = [];

function celeryCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return runCeleryCli(broker, args);
}

async function cliJson(args: string[]): Promise<unknown> {
  const r = await celeryCli(args);
  expect(r.code, r.out).toBe(0);
  return JSON.parse(r.out.trim());
}

/** `inspect active_queues` names, polled (bounded) until `done` accepts them; the last answer either way. */
async function activeQueueNames(done: (names: string[]) => boolean): Promise<string[]> {
  let names: string[] = [];
  for (let i = 0; i < 50; i++) {
    const reply = (await cliJson(["inspect", "active_queues", "-d", hostname, "-j"])) as Record<
      string,
      { name: string }[]
    >;
    names = (reply[hostname] ?? []).map((q) => q.name);
    if (done(names)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return names;
}

/** Python producer: sends `interop`-style `ts.add` to a queue; waits for the result unless `wait` is false. */
function pySend(queue: string, wait: boolean): Promise<{ id: string; result: unknown }> {
  return pythonJson(
    `
from interop_app import app, emit
r = app.send_task("ts.add", (2, 3), queue=${JSON.stringify(queue)})
emit({"id": r.id, "result": r.get(timeout=20) if ${wait ? "True" : "False"} else None})
`,
    { brokerUrl: broker, backendUrl: backend },
  );
}

async function maxConcurrency(): Promise<unknown> {
  const stats = (await cliJson(["inspect", "stats", "-d", hostname, "-j"])) as Record<
    string,
    { pool?: Record<string, unknown> }
  >;
  return stats[hostname]?.pool?.["max-concurrency"];
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  app = new Celery({ broker, backend });
  app.task("ts.add", (ctx, a: number, b: number) => {
    ran.push(ctx.id);
    return a + b;
  });
  worker = app.worker({ queues: [homeQueue], hostname, concurrency: 3, withoutMingle: true });
  await worker.start();
}, 60_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 2000 });
  await app?.close();
});

describe("celery control add_consumer / cancel_consumer -> TS worker (Redis)", () => {
  it("add_consumer: the TS worker serves the new queue; active_queues lists it", async () => {
    expect(await activeQueueNames(() => true)).toEqual([homeQueue]);
    expect(await cliJson(["control", "add_consumer", addedQueue, "-d", hostname, "-j"])).toEqual([
      { [hostname]: { ok: `add consumer ${addedQueue}` } },
    ]);
    expect(await activeQueueNames((names) => names.includes(addedQueue))).toEqual([homeQueue, addedQueue]);
    const sent = await pySend(addedQueue, true);
    expect(sent.result).toBe(5);
    expect(ran).toContain(sent.id);
  }, 60_000);

  it("cancel_consumer: later messages for that queue stay in Redis; the other queue is still served", async () => {
    expect(await cliJson(["control", "cancel_consumer", addedQueue, "-d", hostname, "-j"])).toEqual([
      { [hostname]: { ok: `no longer consuming from ${addedQueue}` } },
    ]);
    expect(await activeQueueNames((names) => !names.includes(addedQueue))).toEqual([homeQueue]);
    const left = await pySend(addedQueue, false);
    // The worker is alive and consuming: a task to its remaining queue, sent after, completes.
    const served = await pySend(homeQueue, true);
    expect(served.result).toBe(5);
    expect(await redisBrokerOf(app).client.llen(addedQueue)).toBe(1);
    expect(ran).not.toContain(left.id);
    expect(ran).toContain(served.id);
  }, 60_000);
});

describe("celery control pool_grow / pool_shrink -> TS worker (Redis)", () => {
  it("grows and shrinks the concurrency inspect stats reports", async () => {
    const before = await maxConcurrency();
    expect(before).toBe(worker.concurrency);
    expect(await cliJson(["control", "pool_grow", "2", "-d", hostname, "-j"])).toEqual([
      { [hostname]: { ok: "pool will grow" } },
    ]);
    expect(await maxConcurrency()).toBe(Number(before) + 2);
    expect(await cliJson(["control", "pool_shrink", "1", "-d", hostname, "-j"])).toEqual([
      { [hostname]: { ok: "pool will shrink" } },
    ]);
    expect(await maxConcurrency()).toBe(Number(before) + 1);
    expect(worker.concurrency).toBe(Number(before) + 1);
    // Still serving after the changes.
    expect((await pySend(homeQueue, true)).result).toBe(5);
  }, 60_000);
});
