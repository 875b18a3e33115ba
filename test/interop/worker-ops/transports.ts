/**
 * Where the worker-operations suite differs between Redis and RabbitMQ: how the broker URL is had
 * and what a worker's `stats` reply says of its broker beyond what the Python worker beside it
 * says (kombu `Connection.info()`). Everything else in suite.ts is shared.
 */
import type { BrokerTransport } from "../../support/own-broker.js";
import { allocateRedisDb, amqpUrl } from "../../support/services.js";

export interface OpsProfile {
  readonly transport: BrokerTransport;
  readonly label: string;
  /** Redis: a fresh db of the file's own; RabbitMQ: the shared node (tests keep apart by unique queue and node names). */
  brokerUrl(): Promise<string>;
  /** Fields `inspect stats` must show under `broker` for this URL. */
  readonly brokerStats: Record<string, unknown>;
}

const redis: OpsProfile = {
  transport: "redis",
  label: "Redis",
  brokerUrl: async () => (await allocateRedisDb()).url,
  brokerStats: { transport: "redis" },
};

const amqp: OpsProfile = {
  transport: "amqp",
  label: "RabbitMQ",
  brokerUrl: () => amqpUrl(),
  brokerStats: { transport: "amqp", userid: "guest", virtual_host: "/" },
};

export const OPS_PROFILES: Record<BrokerTransport, OpsProfile> = { redis, amqp };
