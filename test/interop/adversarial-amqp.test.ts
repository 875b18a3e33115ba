/**
 * Adversarial tier on RabbitMQ (issue 11 item 9): generated malformed messages mixed with good
 * tasks from a stock Celery 5.7 producer, to one TS worker (amqp broker, Redis backend),
 * including headers tables nested 600, 5 000 and 15 000 levels (amqplib's recursive decoder
 * overflows on the deep ones: the frame guard turns that into one rejected message instead of a
 * closed connection). The worker stays up on ONE connection, Python reads every good result,
 * every bad message is settled with a logged reason, and nothing is left ready or unacked.
 */
import { connect } from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import type { AmqpTransport } from "../../src/transports/amqp/transport.js";
import {
  type AdversarialOutcome,
  mustBeRefused,
  report,
  runAdversarial,
} from "../support/adversarial-run.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

let outcome: AdversarialOutcome | undefined;

afterAll(async () => {
  await outcome?.close().catch(() => undefined);
});

describe("adversarial tier: TS worker on RabbitMQ, Python producer", () => {
  it("keeps running on one connection, answers every good task, refuses every bad message with a reason", async () => {
    const started = Date.now();
    const broker = await amqpUrl();
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("adversarial-amqp");
    outcome = await runAdversarial({
      transport: "amqp",
      broker,
      backend,
      queue,
      bad: 50,
      good: 20,
      seed: 11,
      deepHeaderLevels: [600, 5_000, 15_000],
    });
    const failed = outcome.results.filter((r) => !r.ok);
    expect(failed).toEqual([]);
    expect(outcome.results.length).toBe(outcome.goods);

    // One connection throughout: no reconnect loop behind a poison header table.
    const transport = outcome.app.transport as AmqpTransport;
    expect(transport.connection.generation).toBe(1);

    const refused = outcome.bad.filter(mustBeRefused).length;
    for (const levels of [600, 5_000, 15_000]) {
      expect(outcome.kinds[`deep-headers-${levels}`]).toBe(1);
    }
    expect(outcome.lines.filter((l) => /rejected message .*headers table/.test(l)).length).toBe(3);
    expect(outcome.reasonLines.length).toBeGreaterThanOrEqual(refused);
    expect(outcome.brokenLines).toEqual([]);

    const lost = failed.length;
    const figures = report("amqp", outcome, lost, Date.now() - started);
    // Nothing left ready, and (after the worker's channel closes) nothing was left unacked.
    await outcome.close();
    outcome = undefined;
    const conn = await connect(broker);
    try {
      const ch = await conn.createChannel();
      const { messageCount } = await ch.checkQueue(queue);
      expect(messageCount).toBe(0);
      await ch.close();
    } finally {
      await conn.close();
    }
    console.info(figures);
  }, 240_000);
});
