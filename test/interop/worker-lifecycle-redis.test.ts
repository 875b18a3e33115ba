/**
 * The worker's lifecycle on real Redis (issue 11 items 7 and 8):
 * - a worker started from the API (`await worker.start()`, no signal handling of its own) takes
 *   SIGTERM as a warm shutdown: 5 000 tasks, SIGTERM mid-run, a second worker drains the rest,
 *   none lost and none run twice;
 * - an async handler past its hard time limit keeps its concurrency slot until it returns:
 *   concurrency 1, three hard-limited handlers that ignore `ctx.signal`, never two at once.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { startTsWorkerProcess } from "../support/ts-worker/launch.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let redis: Redis;
let producer: Celery;

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  redis = new Redis(backend);
  producer = new Celery({ broker, backend });
});

afterAll(async () => {
  await producer?.close();
  redis?.disconnect();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("SIGTERM to a worker started with await worker.start()", () => {
  it("is a warm shutdown: 5 000 tasks, SIGTERM mid-run, none lost, none run twice", async () => {
    const queue = uniqueQueue("sigterm");
    const key = `rec:${queue}`;
    const total = 5000;
    const env = {
      TSW_BROKER: broker,
      TSW_BACKEND: backend,
      TSW_QUEUES: queue,
      TSW_CONCURRENCY: "8",
      TSW_PREFETCH: "4",
      TSW_RECORD_DELAY_MS: "5",
      TSW_LOG_LEVEL: "warn",
    };
    const first = await startTsWorkerProcess({ ...env, TSW_API_SIGNALS: "1" });
    for (let i = 0; i < total; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, total - i) }, (_, j) =>
          producer.sendTask("interop.record", [i + j, key], null, { queue, ignoreResult: true }),
        ),
      );
    }
    await until("the first worker to run 300 tasks", async () => (await redis.llen(key)) >= 300, 60_000);
    const exit = await first.stop();
    const ranByFirst = await redis.llen(key);
    expect(first.logs()).toContain("Warm shutdown (SIGTERM)");
    // The worker re-raised SIGTERM once drained: the process ended the way Node ends on it.
    expect(exit).toEqual({ code: null, signal: "SIGTERM" });
    expect(ranByFirst).toBeLessThan(total);

    const second = await startTsWorkerProcess(env);
    try {
      await until("all tasks to be recorded", async () => (await redis.llen(key)) >= total, 120_000);
    } finally {
      await second.stop();
    }
    const tags = await redis.lrange(key, 0, -1);
    const distinct = new Set(tags);
    expect({ lost: total - distinct.size, duplicates: tags.length - distinct.size }).toEqual({
      lost: 0,
      duplicates: 0,
    });
  }, 240_000);
});

describe("an async handler past its hard time limit", () => {
  let stack: TsStack;
  const lines: string[] = [];

  afterAll(async () => {
    await stack?.close();
  });

  it("keeps its slot until it returns: concurrency 1, three stubborn handlers, never two at once", async () => {
    const queue = uniqueQueue("stubborn");
    stack = createTsStack({ broker, backend }, { lines });
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    stack.task(
      "ts.stubborn",
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        // Ignores ctx.signal: runs 3x past its hard limit.
        await new Promise((resolve) => setTimeout(resolve, 600));
        running--;
        finished++;
        return "too late";
      },
      { timeLimit: 0.2 },
    );
    const worker = stack.worker({ queues: [queue], concurrency: 1, handleSignals: false });
    await worker.start();
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => producer.sendTask("ts.stubborn", [], null, { queue })),
      );
      const states = await Promise.all(
        results.map((r) =>
          r.get({ timeout: 30_000 }).then(
            () => "SUCCESS",
            (e: Error) => e.name,
          ),
        ),
      );
      await until("the three handlers to return", async () => finished === 3, 30_000);
      expect(maxRunning).toBe(1);
      expect(states).toHaveLength(3);
      for (const state of states) expect(state).not.toBe("SUCCESS");
      const log = lines.join("\n");
      expect(log.match(/could not be killed/g)).toHaveLength(3);
      expect(log.match(/Hard time limit \(0\.2s\) exceeded/g)).toHaveLength(3);
    } finally {
      await worker.close({ timeoutMs: 5000 });
    }
  }, 60_000);
});
