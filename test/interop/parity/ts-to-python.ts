/**
 * Parity, TS producer -> stock Python Celery 5.7 worker (prefork -c 2, so soft time limits are
 * enforced by signal as in production). Results through the Redis result backend.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { NotRegisteredError, RemoteTaskError, TaskRevokedError } from "../../../src/errors.js";
import { type CeleryWorker, startCeleryWorker } from "../../support/celery.js";
import { allocateRedisDb, uniqueName, uniqueQueue } from "../../support/services.js";
import type { TransportProfile } from "./transports.js";

const MAX_PRIORITY = 10;

export function defineTsToPython(profile: TransportProfile): void {
  describe(`TS producer -> Python worker (${profile.name} broker, Redis backend)`, () => {
    let broker: string;
    let backend: string;
    let worker: CeleryWorker;
    let app: Celery;
    const queue = uniqueQueue(`par-${profile.name}-py`);
    const apps: Celery[] = [];

    beforeAll(async () => {
      broker = await profile.brokerUrl();
      backend = (await allocateRedisDb()).url;
      worker = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [queue],
        pool: "prefork",
        concurrency: 2,
      });
      app = new Celery({ broker, backend, taskDefaultQueue: queue });
      apps.push(app);
    }, 120_000);

    afterAll(async () => {
      for (const a of apps) await a.close();
      await worker?.stop();
    });

    it("positional and keyword args with every JSON type arrive as sent", async () => {
      const value = {
        s: "héllo ✓",
        i: 2 ** 53 - 1,
        f: 1.5,
        t: true,
        n: null,
        l: [1, "a", null],
        d: { x: {} },
      };
      const result = await app.sendTask("interop.echo", [1, "two", value], { a: "x", b: [true, null] });
      expect(await result.get({ timeout: 30_000 })).toEqual([[1, "two", value], { a: "x", b: [true, null] }]);
    });

    it("countdown: the worker runs the task no earlier than its eta", async () => {
      const sentAt = Date.now();
      const result = await app.sendTask<{ request: { eta: string } }>(
        "interop.headers",
        [],
        {},
        { countdown: 2 },
      );
      const out = await result.get({ timeout: 30_000 });
      expect(new Date(out.request.eta).getTime()).toBeGreaterThanOrEqual(sentAt + 2000);
      const meta = await result.meta();
      expect(new Date(meta.dateDone as string).getTime()).toBeGreaterThanOrEqual(sentAt + 2000);
    });

    it("expires in the past: TaskRevokedError in TS", async () => {
      // On RabbitMQ this also sets `expiration: "0"` (Celery.send_task clamps it): the idle
      // worker's free prefetch slot takes it at once, sees it expired and stores REVOKED.
      const result = await app.sendTask(
        "interop.add",
        [1, 2],
        {},
        { expires: new Date(Date.now() - 60_000) },
      );
      const err = await result.get({ timeout: 30_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TaskRevokedError);
      expect(await result.state()).toBe("REVOKED");
    });

    it("a soft time limit is enforced by the prefork worker", async () => {
      const result = await app.sendTask("interop.time_limited", [10], {}, { softTimeLimit: 1 });
      expect(await result.get({ timeout: 30_000 })).toBe("soft-time-limit");
    });

    it("a Python exception is rebuilt in TS with its type and args", async () => {
      const result = await app.sendTask("interop.fail", ["ValueError", "bad value", 7]);
      const err = await result.get({ timeout: 30_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteTaskError);
      expect(err).toMatchObject({
        excType: "ValueError",
        excModule: "builtins",
        excMessage: ["bad value", 7],
      });
    });

    it("an unknown task fails with NotRegisteredError", async () => {
      const result = await app.sendTask("interop.no_such_task", [1]);
      const err = await result.get({ timeout: 30_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotRegisteredError);
      expect((err as NotRegisteredError).taskName).toBe("interop.no_such_task");
    });

    it("priority: a backlog drains in the transport's priority order (x-max-priority on both sides)", async () => {
      const prioQueue = uniqueQueue(`par-${profile.name}-prio`);
      const key = uniqueName("prio");
      // Both sides declare the queue with x-max-priority (task_queue_max_priority); on RabbitMQ a
      // mismatch would be a 406 PRECONDITION_FAILED. Redis ignores it and uses its buckets.
      const prioApp = new Celery({
        broker,
        backend,
        taskDefaultQueue: prioQueue,
        taskQueueMaxPriority: MAX_PRIORITY,
      });
      apps.push(prioApp);
      const priorities = [3, 9, 0, 6, 9, 0];
      // Publish the whole backlog before any worker consumes the queue, so order is the broker's.
      const sent = [];
      for (const [i, p] of priorities.entries())
        sent.push(await prioApp.sendTask("interop.record", [`${p}-${i}`, key], {}, { priority: p }));
      const direction = prioApp.transport.capabilities.priority;
      const expected = priorities
        .map((p, i) => ({ p, i }))
        .sort((a, b) => (direction === "higher-first" ? b.p - a.p : a.p - b.p) || a.i - b.i)
        .map(({ p, i }) => `${p}-${i}`);
      const prioWorker = await startCeleryWorker({
        brokerUrl: broker,
        backendUrl: backend,
        queues: [prioQueue],
        pool: "solo",
        config: { task_queue_max_priority: MAX_PRIORITY },
      });
      try {
        for (const r of sent) await r.get({ timeout: 30_000 });
      } finally {
        await prioWorker.stop();
      }
      const recorded = await readList(backend, key);
      expect(recorded).toEqual(expected);
    }, 120_000);
  });
}

async function readList(redisUrl: string, key: string): Promise<string[]> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return await client.lrange(key, 0, -1);
  } finally {
    client.disconnect();
  }
}
