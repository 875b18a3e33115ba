/**
 * A broker server of the test file's own, for tests that stop and start it (broker loss): Redis
 * (test/support/servers/redis.ts) or RabbitMQ (test/support/servers/rabbitmq.ts) behind one shape,
 * so a suite parameterized by transport stops, starts and addresses either the same way.
 */
import { startRabbitMq } from "./servers/rabbitmq.js";
import { startRedis } from "./servers/redis.js";

export type BrokerTransport = "redis" | "amqp";

export interface OwnBroker {
  readonly transport: BrokerTransport;
  /** A broker URL on this server. Redis: db `n` (tests on one server keep apart by db); AMQP: vhost "/" whatever `n`. */
  url(n: number): string;
  /** Clean stop (the port stays reserved for `start`). */
  stop(): Promise<void>;
  /** Starts it again on the same port (RabbitMQ keeps its data dir). */
  start(): Promise<void>;
  dispose(): Promise<void>;
  /** RabbitMQ only: `rabbitmqctl close_all_connections <reason>` (the broker drops every client). */
  closeAllConnections?(reason: string): Promise<void>;
}

export async function startOwnBroker(transport: BrokerTransport): Promise<OwnBroker> {
  if (transport === "redis") {
    const redis = await startRedis();
    return {
      transport,
      url: (n) => redis.dbUrl(n),
      stop: () => redis.stop(),
      start: () => redis.restart(),
      dispose: () => redis.dispose(),
    };
  }
  const rabbit = await startRabbitMq();
  return {
    transport,
    url: () => rabbit.url,
    stop: () => rabbit.stop(),
    start: () => rabbit.start(),
    dispose: () => rabbit.dispose(),
    closeAllConnections: async (reason) => {
      await rabbit.ctl(["close_all_connections", reason]);
    },
  };
}
