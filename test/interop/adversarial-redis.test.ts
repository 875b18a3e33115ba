/**
 * Adversarial tier on Redis (issue 11 item 9): generated malformed messages (truncated, oversized,
 * deep, bad base64, bad compression and bombs, wrong content types, pickle, missing headers, bad
 * envelopes, ...) mixed with good tasks that a stock Celery 5.7 producer sends, to one TS worker.
 * The worker stays up, Python reads every good result, every bad message is settled with a
 * logged reason, and nothing is left in the queue or in `unacked`.
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisKeys } from "../../src/transports/redis/keys.js";
import {
  type AdversarialOutcome,
  mustBeRefused,
  report,
  runAdversarial,
} from "../support/adversarial-run.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let outcome: AdversarialOutcome | undefined;

afterAll(async () => {
  await outcome?.close();
});

describe("adversarial tier: TS worker on Redis, Python producer", () => {
  it("keeps running, answers every good task, refuses every bad message with a reason, leaves nothing behind", async () => {
    const started = Date.now();
    const broker = await allocateRedisDb();
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("adversarial");
    outcome = await runAdversarial({
      transport: "redis",
      broker: broker.url,
      backend,
      queue,
      bad: 90,
      good: 30,
      seed: 11,
    });

    // Every good task (Python's, plus the kombu-JSON envelopes with NaN and a 2^100 int) answered.
    const failed = outcome.results.filter((r) => !r.ok);
    expect(failed).toEqual([]);
    expect(outcome.results.length).toBe(outcome.goods);

    // Nothing left: the queue is empty and no message is in unacked (acksLate: all settled).
    const redis = new Redis(broker.url);
    try {
      let left = { queued: -1, unacked: -1 };
      for (let i = 0; i < 100; i++) {
        const lengths = await Promise.all(new RedisKeys(0).queueKeys(queue).map((k) => redis.llen(k)));
        const queued = lengths.reduce((a, b) => a + b, 0);
        left = { queued, unacked: await redis.hlen(new RedisKeys(0).unackedKey()) };
        if (left.queued === 0 && left.unacked === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toEqual({ queued: 0, unacked: 0 });
    } finally {
      redis.disconnect();
    }

    // Each bad message that must be refused left a reason line; the worker never broke.
    const refused = outcome.bad.filter(mustBeRefused).length;
    expect(outcome.reasonLines.length).toBeGreaterThanOrEqual(refused);
    expect(outcome.brokenLines).toEqual([]);
    expect(outcome.lines.join("")).toContain("Received unregistered task of type 'fuzz.unknown\\n");
    const lost = outcome.results.filter((r) => !r.ok).length;
    console.info(report("redis", outcome, lost, Date.now() - started));
  }, 240_000);
});
