/**
 * The adversarial tier (issue 11 item 9), one suite run per transport (adversarial-redis.test.ts,
 * adversarial-amqp.test.ts): generated malformed messages (truncated, oversized, deep, bad base64,
 * bad compression and bombs, wrong content types, pickle, missing headers, bad envelopes, ...)
 * mixed with good tasks that a stock Celery 5.7 producer sends, to one TS worker (acksLate, Redis
 * result backend). The worker stays up, Python reads every good result, every bad message is
 * settled with a logged reason, and nothing is left in the queue or unacked.
 *
 * What differs by transport is in transports.ts: the plan's size, the broker-only kinds (Redis
 * envelopes; AMQP headers tables nested 600, 5 000 and 15 000 levels, which overflow amqplib's
 * recursive decoder: the frame guard turns each into one rejected message instead of a closed
 * connection), what else each run must show, and how "nothing left" is read from the broker.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  type AdversarialOutcome,
  mustBeRefused,
  report,
  runAdversarial,
} from "../../support/adversarial-run.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { allocateRedisDb, uniqueQueue } from "../../support/services.js";
import { ADVERSARIAL_PROFILES } from "./transports.js";

export function defineAdversarialSuite(transport: BrokerTransport): void {
  const profile = ADVERSARIAL_PROFILES[transport];
  let outcome: AdversarialOutcome | undefined;

  afterAll(async () => {
    await outcome?.close().catch(() => undefined);
  });

  describe(`adversarial tier: TS worker on ${profile.label}, Python producer`, () => {
    it(profile.title, async () => {
      const started = Date.now();
      const broker = await profile.brokerUrl();
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(profile.queuePrefix);
      const run = await runAdversarial({ transport, broker, backend, queue, seed: 11, ...profile.plan });
      outcome = run;

      // Every good task (Python's, plus on Redis the kombu-JSON envelopes with NaN and a 2^100 int) answered.
      const failed = run.results.filter((r) => !r.ok);
      expect(failed).toEqual([]);
      expect(run.results.length).toBe(run.goods);

      await profile.expectOnTransport(run);

      // Each bad message that must be refused left a reason line; the worker never broke.
      const refused = run.bad.filter(mustBeRefused).length;
      expect(run.reasonLines.length).toBeGreaterThanOrEqual(refused);
      expect(run.brokenLines).toEqual([]);

      const figures = report(transport, run, failed.length, Date.now() - started);
      if (await profile.expectNothingLeft(run, broker, queue)) outcome = undefined;
      console.info(figures);
    }, 240_000);
  });
}
