import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { jsonDumps, type WireBudget } from "../serialization/index.js";
import { bindExpiring, type ExpiringBinding, keepBinding, unbind } from "../transports/redis/binding.js";
import { ensureConnecting } from "../transports/redis/connection.js";
import { type BodyEncoding, buildEnvelope, decodeEnvelope } from "../transports/redis/envelope.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import {
  CONTROL_QUEUE_EXPIRES,
  type ControlReply,
  type ControlRequest,
  decodeControlBody,
  type MailboxNames,
  REPLY_QUEUE_EXPIRES,
} from "./mailbox.js";
import type { PidboxNode, ReplySender } from "./node.js";

/**
 * Celery's control mailbox over kombu's Redis transport (kombu/pidbox.py on
 * kombu/transport/redis.py `Channel._put_fanout`, `Channel.get_table`, 5.7.0):
 * requests are `PUBLISH /<db>.<ns>.pidbox` (fanout), nodes listen with
 * `PSUBSCRIBE` on the same channel after binding `<host>.<ns>.pidbox`;
 * replies go to the direct `reply.<ns>.pidbox` exchange, i.e. `SMEMBERS
 * _kombu.binding.reply.<ns>.pidbox` then `LPUSH <oid>.reply.<ns>.pidbox`,
 * which the caller `BRPOP`s.
 */
export interface RedisMailboxOptions {
  client: Redis;
  keys: RedisKeys;
  names: MailboxNames;
  /** kombu 5.7 binding deadlines for the expiring pidbox queues. */
  bindingDeadlines: boolean;
  bodyEncoding?: BodyEncoding;
  /** The wire-input budget requests and replies are read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
}

function jsonMessage(
  body: unknown,
  headers: Record<string, unknown>,
  exchange: string,
  routingKey: string,
  deliveryMode: 1 | 2,
  bodyEncoding: BodyEncoding,
): string {
  return JSON.stringify(
    buildEnvelope(
      {
        // kombu's json.dumps (a reply may hold Infinity, e.g. `conf`'s result_backend_max_retries).
        body: Buffer.from(jsonDumps(body), "utf8"),
        contentType: "application/json",
        contentEncoding: "utf-8",
        headers,
        properties: { delivery_mode: deliveryMode },
        exchange,
        routingKey,
      },
      { bodyEncoding },
    ),
  );
}

/** The reply sender of a node: direct-exchange lookup in the binding table, then LPUSH to each queue. */
export function redisReplySender(options: RedisMailboxOptions): ReplySender {
  const { client, keys } = options;
  return async (reply: ControlReply, to, ticket, clock) => {
    ensureConnecting(client);
    const members = await client.smembers(keys.bindingKey(to.exchange));
    const queues = new Set<string>();
    for (const member of members) {
      const parsed = keys.parseBindingMember(member);
      if (parsed && parsed.routingKey === to.routingKey) queues.add(parsed.queue);
    }
    const value = jsonMessage(
      reply,
      { ticket, clock },
      to.exchange,
      to.routingKey,
      1,
      options.bodyEncoding ?? "base64",
    );
    // kombu drops a reply nobody is bound for (the caller gave up and deleted its queue).
    for (const queue of queues) await client.lpush(keys.queueKey(queue, 0), value);
  };
}

export interface RunningNode {
  close(): Promise<void>;
}

/** Joins the mailbox as `node.host.hostname` and answers requests until closed. */
export async function listenRedisPidbox(
  node: PidboxNode,
  options: RedisMailboxOptions & {
    subscriber: Redis;
    onError?(err: unknown): void;
  },
): Promise<RunningNode> {
  const { keys, names, subscriber } = options;
  const onError = options.onError ?? (() => {});
  const binding: ExpiringBinding = {
    exchange: names.exchange,
    routingKey: "",
    queue: names.nodeQueue(node.host.hostname),
    expires: CONTROL_QUEUE_EXPIRES,
  };
  const channel = keys.fanoutSubscribePattern(names.exchange, "");
  let chain: Promise<unknown> = Promise.resolve();
  const onMessage = (_pattern: Buffer, _channel: Buffer, payload: Buffer) => {
    let body: unknown;
    let headers: Record<string, unknown>;
    try {
      const budget = options.budget ? { budget: options.budget } : {};
      const envelope = decodeEnvelope(payload, { ...budget, what: "control request" });
      body = decodeControlBody(
        envelope.body,
        envelope.contentType,
        envelope.contentEncoding,
        "control request",
        options.budget,
      );
      headers = envelope.headers;
    } catch (err) {
      onError(err);
      return;
    }
    // One request at a time, in arrival order, as kombu's consumer callback runs them.
    chain = chain.then(() => node.handle(body, headers)).catch(onError);
  };
  subscriber.on("pmessageBuffer", onMessage);
  await bindExpiring(options.client, keys, binding, options.bindingDeadlines);
  await subscriber.psubscribe(channel);
  const stopKeeping = keepBinding(options.client, keys, binding, options.bindingDeadlines, onError);
  return {
    async close() {
      stopKeeping();
      subscriber.off("pmessageBuffer", onMessage);
      await subscriber.punsubscribe(channel).catch(onError);
      await chain.catch(() => undefined);
      await unbind(options.client, keys, binding).catch(onError);
    },
  };
}

export interface BroadcastOptions {
  arguments?: Record<string, unknown>;
  destination?: string[] | null;
  pattern?: string | null;
  matcher?: string | null;
  /** Wait for replies (`call`/`multi_call`); false = cast. */
  reply?: boolean;
  /** Seconds to wait for each next reply (kombu `_collect` drains with this timeout per reply); default 1. */
  timeout?: number;
  /** Stop after this many replies; default `destination.length` when given. */
  limit?: number | null;
}

/**
 * The client half (kombu `Mailbox._broadcast`, `_publish`, `_collect`):
 * bind the reply queue, PUBLISH the request, BRPOP replies whose `ticket`
 * header matches until `limit` or a `timeout` with nothing new, then delete
 * the reply queue and its binding (`after_reply_message_received`).
 */
export class RedisMailboxClient {
  constructor(
    private readonly options: RedisMailboxOptions & {
      oid: string;
      clockForward(): number;
      clockAdjust(v: unknown): void;
      /** A connection for the blocking BRPOP (one broadcast at a time uses it). */
      blocking: () => Redis;
    },
  ) {}

  async broadcast(command: string, opts: BroadcastOptions = {}): Promise<ControlReply[] | null> {
    const { client, keys, names, oid } = this.options;
    const destination = opts.destination ?? null;
    const timeout = opts.timeout ?? 1;
    const reply = opts.reply ?? false;
    const ticket = reply ? randomUUID() : null;
    const limit = opts.limit ?? (destination && destination.length > 0 ? destination.length : null);
    const replyQueue = names.replyQueue(oid);
    const replyBinding: ExpiringBinding = {
      exchange: names.replyExchange,
      routingKey: oid,
      queue: replyQueue,
      expires: REPLY_QUEUE_EXPIRES,
    };
    const request: ControlRequest = {
      method: command,
      arguments: opts.arguments ?? {},
      destination,
      pattern: opts.pattern ?? null,
      matcher: opts.matcher ?? null,
    };
    ensureConnecting(client);
    if (ticket !== null) {
      await bindExpiring(client, keys, replyBinding, this.options.bindingDeadlines);
      request.ticket = ticket;
      request.reply_to = { exchange: names.replyExchange, routing_key: oid };
    }
    const message = jsonMessage(
      request,
      { clock: this.options.clockForward(), expires: timeout ? Date.now() / 1000 + timeout : 0 },
      names.exchange,
      "",
      2,
      this.options.bodyEncoding ?? "base64",
    );
    await client.publish(keys.fanoutPublishChannel(names.exchange, ""), message);
    if (ticket === null) return null;
    const replyKeys = keys.queueKeys(replyQueue);
    const responses: ControlReply[] = [];
    const blocking = this.options.blocking();
    try {
      while (limit === null || responses.length < limit) {
        const popped = await blocking.brpop(...replyKeys, Math.max(0.01, timeout));
        if (popped === null) break;
        const handled = this.onReply(popped[1], ticket);
        if (handled !== null) responses.push(handled);
      }
    } finally {
      await client
        .del(...replyKeys)
        .then(() => unbind(client, keys, replyBinding))
        .catch(() => undefined);
    }
    return responses;
  }

  private onReply(payload: string, ticket: string): ControlReply | null {
    try {
      const budget = this.options.budget ? { budget: this.options.budget } : {};
      const envelope = decodeEnvelope(payload, { ...budget, what: "control reply" });
      this.options.clockAdjust(envelope.headers.clock ?? 0);
      const expires = envelope.headers.expires;
      if (typeof expires === "number" && expires > 0 && Date.now() / 1000 > expires) return null;
      const thisTicket = envelope.headers.ticket ?? ticket;
      if (thisTicket !== ticket) return null;
      const body = decodeControlBody(
        envelope.body,
        envelope.contentType,
        envelope.contentEncoding,
        "control reply",
        this.options.budget,
      );
      return body !== null && typeof body === "object" && !Array.isArray(body)
        ? (body as ControlReply)
        : null;
    } catch {
      return null;
    }
  }
}
