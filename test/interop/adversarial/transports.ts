/** Where the adversarial suite (suite.ts) differs between Redis and RabbitMQ. */
import { connect } from "amqplib";
import { Redis } from "ioredis";
import { expect } from "vitest";
import type { AmqpTransport } from "../../../src/transports/amqp/transport.js";
import { RedisKeys } from "../../../src/transports/redis/keys.js";
import type { AdversarialOutcome } from "../../support/adversarial-run.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { waitUntil } from "../../support/process.js";
import { allocateRedisDb, amqpUrl } from "../../support/services.js";

export interface AdversarialProfile {
  readonly label: string;
  readonly title: string;
  readonly queuePrefix: string;
  brokerUrl(): Promise<string>;
  readonly plan: { bad: number; good: number; deepHeaderLevels?: number[] };
  /** What this transport's run must also show. */
  expectOnTransport(outcome: AdversarialOutcome): Promise<void>;
  /** Asserts the queue is empty and nothing unacked; true when it closed the worker to see that. */
  expectNothingLeft(outcome: AdversarialOutcome, broker: string, queue: string): Promise<boolean>;
}

const DEEP_HEADER_LEVELS = [600, 5_000, 15_000];

const redis: AdversarialProfile = {
  label: "Redis",
  title:
    "keeps running, answers every good task, refuses every bad message with a reason, leaves nothing behind",
  queuePrefix: "adversarial",
  brokerUrl: async () => (await allocateRedisDb()).url,
  plan: { bad: 90, good: 30 },
  async expectOnTransport(outcome) {
    expect(outcome.lines.join("")).toContain("Received unregistered task of type 'fuzz.unknown\\n");
  },
  async expectNothingLeft(_outcome, broker, queue) {
    // Nothing left while the worker runs: the queue (every priority list) is empty and no message
    // is in unacked (acksLate: all settled).
    const client = new Redis(broker);
    try {
      let left = { queued: -1, unacked: -1 };
      for (let i = 0; i < 100; i++) {
        const lengths = await Promise.all(new RedisKeys(0).queueKeys(queue).map((k) => client.llen(k)));
        const queued = lengths.reduce((a, b) => a + b, 0);
        left = { queued, unacked: await client.hlen(new RedisKeys(0).unackedKey()) };
        if (left.queued === 0 && left.unacked === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toEqual({ queued: 0, unacked: 0 });
    } finally {
      client.disconnect();
    }
    return false;
  },
};

const amqp: AdversarialProfile = {
  label: "RabbitMQ",
  title: "keeps running on one connection, answers every good task, refuses every bad message with a reason",
  queuePrefix: "adversarial-amqp",
  brokerUrl: () => amqpUrl(),
  plan: { bad: 50, good: 20, deepHeaderLevels: DEEP_HEADER_LEVELS },
  async expectOnTransport(outcome) {
    // One connection throughout: no reconnect loop behind a poison header table.
    const transport = outcome.app.transport as AmqpTransport;
    expect(transport.connection.generation).toBe(1);
    for (const levels of DEEP_HEADER_LEVELS) {
      expect(outcome.kinds[`deep-headers-${levels}`]).toBe(1);
    }
    // Every good result can be in while a deep-header message still waits behind the 17 MiB body.
    const headerRejections = () =>
      outcome.lines.filter((l) => /rejected message .*headers table/.test(l)).length;
    await waitUntil(
      "the worker to reject the three deep header tables",
      async () => headerRejections() >= 3,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    expect(headerRejections()).toBe(3);
  },
  async expectNothingLeft(outcome, broker, queue) {
    // The 17 MiB body is the slowest message to arrive: every good result can be in while the
    // worker still reads it, and closing then would requeue it. Its refusal names its id.
    const oversized = outcome.steps.find((step) => step.kind === "oversized");
    const oversizedId = String((oversized as { headers?: { id?: unknown } } | undefined)?.headers?.id);
    await waitUntil(
      "the worker to refuse the oversized message",
      async () => outcome.reasonLines.some((line) => line.includes(oversizedId)),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    // Nothing left ready, and (after the worker's channel closes) nothing was left unacked.
    await outcome.close();
    const conn = await connect(broker);
    try {
      const ch = await conn.createChannel();
      const { messageCount } = await ch.checkQueue(queue);
      expect(messageCount).toBe(0);
      await ch.close();
    } finally {
      await conn.close();
    }
    return true;
  },
};

export const ADVERSARIAL_PROFILES: Record<BrokerTransport, AdversarialProfile> = { redis, amqp };
