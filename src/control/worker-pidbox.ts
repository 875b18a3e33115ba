import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { wireBudget } from "../serialization/index.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import type { BrokerEvents } from "../transports/transport.js";
import { amqpReplySender, listenAmqpPidbox } from "./amqp-mailbox.js";
import type { WorkerControlHost } from "./host.js";
import { mailboxNames } from "./mailbox.js";
import { PidboxNode } from "./node.js";
import { listenRedisPidbox, type RunningNode, redisReplySender } from "./redis-mailbox.js";

/** The broker a worker's ops run on: kombu's Redis transport, or RabbitMQ (`AmqpTransport`). */
export type OpsTransport =
  | {
      readonly driverType: string;
      readonly keys: RedisKeys;
      readonly client: Redis;
      newClient(name: string): Redis;
      events(): BrokerEvents;
    }
  | AmqpTransport;

export interface WorkerPidboxOptions {
  settings: Settings;
  transport: OpsTransport;
  hostname: string;
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/**
 * The worker's pidbox node (celery/worker/pidbox.py `Pidbox`, kombu/pidbox.py `Node`, 5.7.0): it
 * answers remote control for `host` over the broker's mailbox. Null when the node could not
 * start; the worker then runs without remote control, as Celery warns of duplicate nodenames.
 */
export async function startWorkerPidbox(
  host: WorkerControlHost,
  options: WorkerPidboxOptions,
): Promise<RunningNode | null> {
  const { settings: s, transport: t, log } = options;
  if (t instanceof AmqpTransport) {
    const pidbox = new PidboxNode({ host, sendReply: amqpReplySender(t), log });
    // A node with the same name already holds the exclusive queue (405 RESOURCE_LOCKED).
    return listenAmqpPidbox(pidbox, {
      transport: t,
      namespace: s.controlExchange,
      exclusive: s.compat.exclusiveOpsQueues,
      budget: wireBudget(s),
      onError: (err) => log.warn(`pidbox: ${(err as Error).message ?? String(err)}`),
    }).catch((err: unknown) => {
      log.error(`pidbox: remote control disabled for ${options.hostname}: ${(err as Error).message}`);
      return null;
    });
  }
  const mailbox = {
    client: t.client,
    keys: t.keys,
    names: mailboxNames(s.controlExchange),
    bindingDeadlines: s.compat.permanentBindings,
    bodyEncoding: s.brokerTransportOptions.bodyEncoding,
    budget: wireBudget(s),
  };
  const pidbox = new PidboxNode({ host, sendReply: redisReplySender(mailbox), log });
  const subscriber = t.newClient("celeriac-pidbox");
  let node: RunningNode;
  try {
    node = await listenRedisPidbox(pidbox, {
      ...mailbox,
      subscriber,
      onError: (err) => log.warn(`pidbox: ${(err as Error).message ?? String(err)}`),
    });
  } catch (err) {
    subscriber.disconnect();
    throw err;
  }
  return {
    ...node,
    async close() {
      await node.close();
      subscriber.disconnect();
    },
  };
}
