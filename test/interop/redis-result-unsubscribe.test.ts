/**
 * The Redis result consumer's UNSUBSCRIBE is deferred (it rides along with the next SUBSCRIBE, or
 * goes out on its own shortly after): a channel is still left once its result is read, a burst of
 * results leaves all of theirs in one go, and an id waited for again before its UNSUBSCRIBE went
 * out stays subscribed and still receives its result. Results are stored by a second app's
 * backend (SETEX + PUBLISH, the path a worker's result takes), channels read with PUBSUB NUMSUB.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { ResultBackend } from "../../src/backends/backend.js";
import { TimeoutError } from "../../src/errors.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueName } from "../support/services.js";

let waiter: Celery;
let storer: Celery;
let admin: Redis;

beforeAll(async () => {
  const { url } = await allocateRedisDb();
  waiter = new Celery({ broker: url, backend: url });
  storer = new Celery({ broker: url, backend: url });
  admin = new Redis(url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  admin?.disconnect();
  await waiter?.close();
  await storer?.close();
});

function backendOf(app: Celery): ResultBackend {
  const backend = app.backend;
  if (backend === null) throw new Error("the app has no result backend");
  return backend;
}

function store(taskId: string, result: unknown): Promise<void> {
  return backendOf(storer).storeResult({
    task_id: taskId,
    status: "SUCCESS",
    result,
    traceback: null,
    children: [],
    date_done: new Date().toISOString(),
  });
}

/** Subscribers of each id's result channel, as the server counts them. */
async function subscribers(ids: readonly string[]): Promise<number[]> {
  const reply = (await admin.pubsub("NUMSUB", ...ids.map((id) => `celery-task-meta-${id}`))) as unknown[];
  return ids.map((_, i) => Number(reply[i * 2 + 1]));
}

async function expectSubscribers(ids: readonly string[], count: number): Promise<void> {
  let seen: number[] = [];
  await waitUntil(
    `${count} subscriber(s) on ${ids.length} result channel(s)`,
    async () => {
      seen = await subscribers(ids);
      return seen.every((n) => n === count);
    },
    { timeoutMs: 5_000, intervalMs: 10 },
  ).catch(() => {
    throw new Error(`expected ${count} subscriber(s) on every channel, NUMSUB says ${seen.join(", ")}`);
  });
}

/** Resolves once the waiter's subscription to `id` is in place (so the PUBLISH is what resolves it). */
async function subscribed(id: string): Promise<void> {
  await expectSubscribers([id], 1);
}

describe("Redis result consumer: deferred UNSUBSCRIBE", () => {
  it("a result's channel is left after get() resolves, with no other wait to ride along with", async () => {
    const id = uniqueName("unsub-one");
    const got = waiter.asyncResult(id).get({ timeoutMs: 10_000 });
    await subscribed(id);
    await store(id, 7);
    expect(await got).toBe(7);
    await expectSubscribers([id], 0);
  });

  it("a burst of results leaves every channel; the next wait's channel is subscribed meanwhile", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => uniqueName(`unsub-burst-${i}`));
    const gets = ids.map((id) => waiter.asyncResult(id).get({ timeoutMs: 10_000 }));
    await expectSubscribers(ids, 1);
    await Promise.all(ids.map((id, i) => store(id, i)));
    expect(await Promise.all(gets)).toEqual(ids.map((_, i) => i));
    const next = uniqueName("unsub-next");
    const nextGot = waiter.asyncResult(next).get({ timeoutMs: 10_000 });
    await subscribed(next);
    await expectSubscribers(ids, 0);
    await store(next, "done");
    expect(await nextGot).toBe("done");
    await expectSubscribers([next], 0);
  });

  it("an id waited for again before its UNSUBSCRIBE went out stays subscribed and gets its result", async () => {
    const id = uniqueName("unsub-again");
    await expect(waiter.asyncResult(id).get({ timeoutMs: 1 })).rejects.toBeInstanceOf(TimeoutError);
    // At once, while the timed-out wait's UNSUBSCRIBE is still pending.
    const got = waiter.asyncResult(id).get({ timeoutMs: 10_000 });
    await subscribed(id);
    // Longer than the deferral: a stale UNSUBSCRIBE would have left the channel by now.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await subscribers([id])).toEqual([1]);
    await store(id, { again: true });
    expect(await got).toEqual({ again: true });
  });
});
