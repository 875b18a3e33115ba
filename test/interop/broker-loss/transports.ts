/**
 * Where the broker-loss suite legitimately differs between Redis and RabbitMQ: how the fatal
 * line and a producer's error name the broker (RabbitMQ's URL is shown without its password), how
 * the worker's reconnect loop is watched before the broker comes back, and how a dead broker URL
 * is made. Everything else in suite.ts is shared.
 */
import { expect } from "vitest";
import type { CeleryOptions } from "../../../src/config.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { freePort } from "../../support/ports.js";
import { startRedis } from "../../support/servers/redis.js";

export interface LossProfile {
  readonly label: string;
  /** What the one "Unrecoverable" line must say about the broker it could not reach (a string: contained). */
  cannotConnect(broker: string): string | RegExp;
  readonly retryWindowTitle: string;
  readonly outage: {
    /** TSW_MAX_RETRIES: enough that the outage stays inside the retry window. */
    readonly maxRetries: number;
    /** "Trying again" lines to see before the broker is started again. */
    readonly retriesSeen: number;
    readonly retriesTimeoutMs: number;
    /** How much longer the broker stays down after that. */
    readonly extraDownMs: number;
  };
  /** A URL where nothing listens. */
  deadBrokerUrl(): Promise<string>;
  readonly deadBrokerOptions: Omit<CeleryOptions, "broker">;
  expectNamesDeadBroker(message: string, url: string): void;
}

const redis: LossProfile = {
  label: "Redis",
  cannotConnect: (broker) => `Cannot connect to ${broker}`,
  retryWindowTitle: "an outage inside the retry window: the worker consumes again afterwards",
  outage: { maxRetries: 30, retriesSeen: 1, retriesTimeoutMs: 15_000, extraDownMs: 3000 },
  async deadBrokerUrl() {
    const dead = await startRedis();
    const url = dead.dbUrl(0);
    await dead.dispose();
    return url;
  },
  deadBrokerOptions: { brokerConnectionMaxRetries: 2 },
  expectNamesDeadBroker(message, url) {
    expect(message).toContain(url);
  },
};

const amqp: LossProfile = {
  label: "RabbitMQ",
  cannotConnect: () => /Cannot connect to amqp:\/\/guest@127\.0\.0\.1:\d+/,
  retryWindowTitle:
    "an outage inside the retry window: the worker stays up and consumes again; a flapping connection backs off",
  outage: { maxRetries: 40, retriesSeen: 3, retriesTimeoutMs: 30_000, extraDownMs: 0 },
  deadBrokerUrl: async () => `amqp://guest:guest@127.0.0.1:${await freePort()}//`,
  deadBrokerOptions: { brokerConnectionTimeout: 1 },
  expectNamesDeadBroker(message) {
    expect(message).toMatch(/127\.0\.0\.1/);
    expect(message).not.toContain("guest:guest");
  },
};

export const LOSS_PROFILES: Record<BrokerTransport, LossProfile> = { redis, amqp };
