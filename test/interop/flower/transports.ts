/**
 * Where the Flower suite differs between Redis and RabbitMQ: how the broker URL is had, and how
 * the test knows Flower's event receiver is listening before the worker's events matter (anything
 * published earlier is lost on both brokers).
 */
import { Redis } from "ioredis";
import { expect } from "vitest";
import type { Flower } from "../../support/flower.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { waitUntil } from "../../support/process.js";
import { allocateRedisDb, amqpUrl } from "../../support/services.js";

interface FlowerBroker {
  url: string;
  /** Redis: the db number, for CLIENT LIST. */
  db?: number;
}

export interface FlowerProfile {
  readonly label: string;
  /** Appended to the inspect test's title. */
  readonly overWhat: string;
  brokerUrl(): Promise<FlowerBroker>;
  beforeWorkerStarts?(flower: Flower, broker: FlowerBroker): Promise<void>;
  afterWorkerStarted?(flower: Flower, hostname: string): Promise<void>;
  expectStats?(stats: Record<string, unknown> | undefined): void;
}

const redis: FlowerProfile = {
  label: "Redis",
  overWhat: "",
  brokerUrl: () => allocateRedisDb(),
  async beforeWorkerStarts(flower, broker) {
    // Flower's event receiver is listening once a client on the broker's db has a PSUBSCRIBE
    // (CLIENT LIST `db=` / `psub=`); only then may the worker start, or its events are missed.
    const probe = new Redis(broker.url, { maxRetriesPerRequest: 1 });
    try {
      const receiving = new RegExp(`\\bdb=${broker.db}\\b.*\\bpsub=[1-9]`);
      await waitUntil(
        "flower's event receiver",
        async () =>
          String(await probe.client("LIST"))
            .split("\n")
            .some((line) => receiving.test(line)),
        { timeoutMs: 60_000, intervalMs: 100, child: flower.child },
      );
    } finally {
      probe.disconnect();
    }
  },
};

const amqp: FlowerProfile = {
  label: "RabbitMQ",
  overWhat: " over AMQP",
  brokerUrl: async () => ({ url: await amqpUrl() }),
  async afterWorkerStarted(flower, hostname) {
    // Events on AMQP go to a queue Flower binds when its receiver starts; anything published
    // before is lost. The worker heartbeats every 2 s, so Flower counting it online proves its
    // receiver is consuming: only then are the task events sent.
    await waitUntil(
      "flower sees the TS worker's heartbeat",
      async () => {
        try {
          return (
            ((await flower.get("/api/workers?status=1")).body as Record<string, boolean>)[hostname] === true
          );
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, child: flower.child },
    );
  },
  expectStats(stats) {
    expect(stats?.broker).toMatchObject({ transport: "amqp" });
  },
};

export const FLOWER_PROFILES: Record<BrokerTransport, FlowerProfile> = { redis, amqp };
