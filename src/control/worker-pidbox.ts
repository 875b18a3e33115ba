import type { Settings } from "../config.js";
import { jsonDumps, type WireBudget, wireBudget } from "../serialization/index.js";
import type { BrokerMailbox } from "../transports/transport.js";
import type { WorkerControlHost } from "./host.js";
import { decodeControlBody, type MailboxBroker, mailboxOptions } from "./mailbox.js";
import { PidboxNode, type ReplySender } from "./node.js";

/** A node answering on its mailbox until closed. */
export interface RunningNode {
  close(): Promise<void>;
}

/**
 * A node's reply (kombu/pidbox.py `Mailbox._publish_reply`, 5.7.0): `{host: result}` in kombu's
 * JSON (a reply may hold Infinity, e.g. `conf`'s result_backend_max_retries), headers
 * `{ticket, clock}`, to the request's `reply_to`.
 */
export function mailboxReplySender(mailbox: BrokerMailbox): ReplySender {
  return (reply, to, ticket, clock) =>
    mailbox.reply(to, Buffer.from(jsonDumps(reply), "utf8"), { ticket, clock });
}

/**
 * Joins the mailbox as `node.host.hostname` (kombu `Node.listen` with celery/worker/pidbox.py
 * `Pidbox`, 5.7.0) and answers requests until closed: one request at a time, in arrival order,
 * as kombu's consumer callback runs them. A request that is no JSON object within `budget` is
 * dropped with `onError`.
 */
export async function listenPidbox(
  node: PidboxNode,
  mailbox: BrokerMailbox,
  options: { budget: WireBudget; onError?(err: unknown): void },
): Promise<RunningNode> {
  const onError = options.onError ?? (() => {});
  let chain: Promise<unknown> = Promise.resolve();
  const listener = await mailbox.listen(node.host.hostname, {
    onMessage(message) {
      let body: unknown;
      try {
        body = decodeControlBody(
          message.body,
          message.contentType,
          message.contentEncoding,
          "control request",
          options.budget,
        );
      } catch (err) {
        onError(err);
        return;
      }
      chain = chain.then(() => node.handle(body, message.headers)).catch(onError);
    },
    onError,
  });
  return {
    async close() {
      await listener.close();
      await chain.catch(() => undefined);
    },
  };
}

export interface WorkerPidboxOptions {
  settings: Settings;
  transport: MailboxBroker;
  hostname: string;
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/**
 * The worker's pidbox node (celery/worker/pidbox.py `Pidbox`, kombu/pidbox.py `Node`, 5.7.0): it
 * answers remote control for `host` over the broker's mailbox. Null when the node could not
 * start (on RabbitMQ a node with the same name already holds the exclusive queue: 405
 * RESOURCE_LOCKED); the worker then runs without remote control, as Celery warns of duplicate
 * nodenames. Null too on a broker without a mailbox.
 */
export async function startWorkerPidbox(
  host: WorkerControlHost,
  options: WorkerPidboxOptions,
): Promise<RunningNode | null> {
  const { settings: s, log } = options;
  const mailbox = options.transport.mailbox?.(mailboxOptions(s));
  if (!mailbox) {
    log.error(`pidbox: remote control disabled for ${options.hostname}: this broker has no pidbox mailbox`);
    return null;
  }
  const pidbox = new PidboxNode({ host, sendReply: mailboxReplySender(mailbox), log });
  return listenPidbox(pidbox, mailbox, {
    budget: wireBudget(s),
    onError: (err) => log.warn(`pidbox: ${(err as Error).message ?? String(err)}`),
  }).catch((err: unknown) => {
    log.error(`pidbox: remote control disabled for ${options.hostname}: ${(err as Error).message}`);
    return null;
  });
}
