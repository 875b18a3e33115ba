import type { Redis } from "ioredis";
import { CONTROL_QUEUE_EXPIRES, pidboxNames, REPLY_QUEUE_EXPIRES } from "../pidbox-names.js";
import type {
  BrokerMailbox,
  MailboxListener,
  MailboxMessage,
  MailboxOptions,
  OutgoingMessage,
  ReplyInbox,
} from "../transport.js";
import { bindExpiring, type ExpiringBinding, keepBinding, unbind } from "./binding.js";
import { ensureConnecting } from "./connection.js";
import { type BodyEncoding, buildEnvelope, decodeEnvelope } from "./envelope.js";
import type { RedisKeys } from "./keys.js";

/** What the Redis mailbox needs of the transport. */
export interface RedisMailboxHost {
  readonly client: Redis;
  readonly keys: RedisKeys;
  newClient(name: string): Redis;
}

/**
 * Celery's control mailbox over kombu's Redis transport (kombu/pidbox.py on
 * kombu/transport/redis.py `Channel._put_fanout`, `Channel.get_table`, `Channel._put`, 5.7.0):
 * requests are `PUBLISH /<db>.<ns>.pidbox` (fanout), nodes listen with `PSUBSCRIBE` on the same
 * channel after binding `<host>.<ns>.pidbox`; replies go to the direct `reply.<ns>.pidbox`
 * exchange, i.e. `SMEMBERS _kombu.binding.reply.<ns>.pidbox` then `LPUSH <oid>.reply.<ns>.pidbox`,
 * which the client `BRPOP`s.
 */
export function redisMailbox(
  host: RedisMailboxHost,
  options: MailboxOptions,
  bodyEncoding: BodyEncoding = "base64",
): BrokerMailbox {
  const { client, keys } = host;
  const names = pidboxNames(options.namespace);
  const envelope = (
    body: Uint8Array,
    headers: Record<string, unknown>,
    exchange: string,
    routingKey: string,
    deliveryMode: 1 | 2,
  ): string => {
    const message: OutgoingMessage = {
      body,
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers,
      properties: { delivery_mode: deliveryMode },
      exchange,
      routingKey,
    };
    return JSON.stringify(buildEnvelope(message, { bodyEncoding }));
  };
  const read = (payload: string | Buffer, what: string): MailboxMessage => {
    const decoded = decodeEnvelope(payload, { budget: options.budget, what });
    return {
      body: decoded.body,
      contentType: decoded.contentType,
      contentEncoding: decoded.contentEncoding,
      headers: decoded.headers,
    };
  };
  return {
    async broadcast(body, headers) {
      ensureConnecting(client);
      await client.publish(
        keys.fanoutPublishChannel(names.exchange, ""),
        envelope(body, headers, names.exchange, "", 2),
      );
    },

    // The direct exchange: look the routing key up in the binding table, LPUSH to each queue.
    async reply(to, body, headers) {
      ensureConnecting(client);
      const members = await client.smembers(keys.bindingKey(to.exchange));
      const queues = new Set<string>();
      for (const member of members) {
        const parsed = keys.parseBindingMember(member);
        if (parsed && parsed.routingKey === to.routingKey) queues.add(parsed.queue);
      }
      const value = envelope(body, headers, to.exchange, to.routingKey, 1);
      // kombu drops a reply nobody is bound for (the caller gave up and deleted its queue).
      for (const queue of queues) await client.lpush(keys.queueKey(queue, 0), value);
    },

    async listen(hostname, handlers): Promise<MailboxListener> {
      const binding: ExpiringBinding = {
        exchange: names.exchange,
        routingKey: "",
        queue: names.nodeQueue(hostname),
        expires: CONTROL_QUEUE_EXPIRES,
      };
      const channel = keys.fanoutSubscribePattern(names.exchange, "");
      const subscriber = host.newClient("celeriac-pidbox");
      const onMessage = (_pattern: Buffer, _channel: Buffer, payload: Buffer) => {
        let message: MailboxMessage;
        try {
          message = read(payload, "control request");
        } catch (err) {
          handlers.onError(err);
          return;
        }
        handlers.onMessage(message);
      };
      subscriber.on("pmessageBuffer", onMessage);
      let stopKeeping: () => void;
      try {
        await bindExpiring(client, keys, binding, options.bindingDeadlines);
        await subscriber.psubscribe(channel);
        stopKeeping = keepBinding(client, keys, binding, options.bindingDeadlines, handlers.onError);
      } catch (err) {
        subscriber.disconnect();
        throw err;
      }
      return {
        async close() {
          stopKeeping();
          subscriber.off("pmessageBuffer", onMessage);
          await subscriber.punsubscribe(channel).catch(handlers.onError);
          await unbind(client, keys, binding).catch(handlers.onError);
          subscriber.disconnect();
        },
      };
    },

    replies(oid) {
      return redisReplyInbox(host, options, oid, read);
    },
  };
}

/**
 * kombu `Mailbox._broadcast` / `_collect` on Redis: the reply queue is bound before each request
 * that wants replies and deleted with its binding after (`after_reply_message_received`); replies
 * are `BRPOP`ped on a connection of the inbox's own, since BRPOP blocks it.
 */
function redisReplyInbox(
  host: RedisMailboxHost,
  options: MailboxOptions,
  oid: string,
  read: (payload: string, what: string) => MailboxMessage,
): ReplyInbox {
  const { client, keys } = host;
  const names = pidboxNames(options.namespace);
  const queue = names.replyQueue(oid);
  const binding: ExpiringBinding = {
    exchange: names.replyExchange,
    routingKey: oid,
    queue,
    expires: REPLY_QUEUE_EXPIRES,
  };
  const queueKeys = keys.queueKeys(queue);
  let blocking: Redis | null = null;
  return {
    replyTo: { exchange: names.replyExchange, routingKey: oid },
    async open() {
      ensureConnecting(client);
      await bindExpiring(client, keys, binding, options.bindingDeadlines);
    },
    async next(timeoutSeconds) {
      blocking ??= host.newClient("celeriac-pidbox-reply");
      for (;;) {
        const popped = await blocking.brpop(...queueKeys, Math.max(0.01, timeoutSeconds));
        if (popped === null) return null;
        try {
          return read(popped[1], "control reply");
        } catch {
          // Not a kombu envelope: skipped, as kombu's consumer cannot decode it either.
        }
      }
    },
    async done() {
      await client
        .del(...queueKeys)
        .then(() => unbind(client, keys, binding))
        .catch(() => undefined);
    },
    async close() {
      const c = blocking;
      blocking = null;
      c?.disconnect();
    },
  };
}
