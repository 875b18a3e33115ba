/**
 * Where the parity suite legitimately differs between Redis and RabbitMQ: how a broker URL is
 * obtained, how many messages are ready in a queue, and what makes an acksLate message come back
 * after its worker is SIGKILLed. Everything else in the suite is shared; priority direction is
 * read from the transport's own `capabilities`.
 */
import { type ChannelModel, connect } from "amqplib";
import { Redis } from "ioredis";
import { allocateRedisDb, amqpUrl } from "../../support/services.js";

export type ParityTransport = "redis" | "amqp";

export interface TransportProfile {
  readonly name: ParityTransport;
  /** A broker URL no other test file shares state with (Redis: a fresh db; AMQP: unique queues). */
  brokerUrl(): Promise<string>;
  /** Messages waiting in `queue` (not delivered to any consumer). */
  readyCount(broker: string, queue: string): Promise<number>;
  /**
   * Extra TS worker-process env for the SIGKILL scenario. Redis: unacked messages come back once
   * their visibility timeout passes (kombu's restore sweep), so make it short. AMQP: RabbitMQ
   * requeues a closed connection's unacked deliveries by itself, nothing to set.
   */
  readonly redeliveryEnv: Record<string, string>;
  /** Python worker config matching `redeliveryEnv` (same visibility timeout for kombu's sweep). */
  readonly redeliveryPythonConfig: Record<string, unknown>;
  /** Whether the `rpc://` result backend exists on this transport (it needs AMQP). */
  readonly rpcBackend: boolean;
}

/** amqplib emits `error` on connections and channels; an unheard one would crash the test run. */
async function openAmqp(broker: string): Promise<ChannelModel> {
  const connection = await connect(broker);
  connection.on("error", () => {});
  return connection;
}

const redis: TransportProfile = {
  name: "redis",
  brokerUrl: async () => (await allocateRedisDb()).url,
  async readyCount(broker, queue) {
    const client = new Redis(broker, { maxRetriesPerRequest: 1 });
    try {
      return await client.llen(queue);
    } finally {
      client.disconnect();
    }
  },
  redeliveryEnv: { TSW_VISIBILITY_TIMEOUT: "3" },
  redeliveryPythonConfig: {
    broker_transport_options: {
      visibility_timeout: 3,
      unacked_restore_interval: 1,
      unacked_restore_throttle: 1,
    },
  },
  rpcBackend: false,
};

const amqp: TransportProfile = {
  name: "amqp",
  brokerUrl: () => amqpUrl(),
  async readyCount(broker, queue) {
    const connection = await openAmqp(broker);
    try {
      const channel = await connection.createChannel();
      channel.on("error", () => {});
      const { messageCount } = await channel.checkQueue(queue);
      return messageCount;
    } finally {
      await connection.close();
    }
  },
  redeliveryEnv: {},
  redeliveryPythonConfig: {},
  rpcBackend: true,
};

export const TRANSPORTS: Record<ParityTransport, TransportProfile> = { redis, amqp };
