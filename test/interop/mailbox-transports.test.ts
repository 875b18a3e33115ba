/**
 * `Transport.mailbox()` at the byte level on real Redis and RabbitMQ (kombu/pidbox.py `Mailbox`,
 * 5.7.0): a request reaches a listening node with its headers, a reply reaches the client's reply
 * queue, a reply after the broadcast is over or for a routing key nobody is bound for is dropped,
 * and (Redis) a reply-queue entry that is no kombu envelope (not JSON, truncated, not an object) is skipped. What Python's nodes and
 * clients make of these bytes is in control-replies.test.ts and the control-redis-* / worker-ops-* tiers.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { mailboxOptions } from "../../src/control/mailbox.js";
import type { BrokerMailbox, MailboxMessage } from "../../src/transports/transport.js";
import { redisBrokerOf } from "../support/redis-broker.js";
import { allocateRedisDb, amqpUrl } from "../support/services.js";

const text = (m: MailboxMessage | null) => (m ? Buffer.from(m.body).toString("utf8") : null);

function mailboxSuite(kind: "redis" | "amqp"): void {
  let app: Celery;
  let mailbox: BrokerMailbox;

  beforeAll(async () => {
    const broker = kind === "redis" ? (await allocateRedisDb()).url : await amqpUrl();
    app = new Celery({ broker });
    const m = app.transport.mailbox?.(mailboxOptions(app.settings));
    if (!m) throw new Error(`the ${kind} transport offers no pidbox mailbox`);
    mailbox = m;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it("a broadcast reaches a listening node with its headers; the reply reaches the client's queue", async () => {
    const hostname = `mbx-${kind}-${randomUUID()}@localhost`;
    const received: MailboxMessage[] = [];
    const errors: unknown[] = [];
    const listener = await mailbox.listen(hostname, {
      onMessage: (m) => received.push(m),
      onError: (e) => errors.push(e),
    });
    const inbox = mailbox.replies(randomUUID());
    try {
      await inbox.open();
      await mailbox.broadcast(Buffer.from('{"method": "ping"}'), { clock: 7, expires: 0 });
      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(received.map((m) => Buffer.from(m.body).toString("utf8"))).toEqual(['{"method": "ping"}']);
      expect(received[0]?.headers).toMatchObject({ clock: 7, expires: 0 });
      expect(received[0]?.contentType).toBe("application/json");
      await mailbox.reply(inbox.replyTo, Buffer.from(`{"${hostname}": 1}`), { ticket: "t1", clock: 8 });
      const reply = await inbox.next(5);
      expect(text(reply)).toBe(`{"${hostname}": 1}`);
      expect(reply?.headers).toMatchObject({ ticket: "t1", clock: 8 });
      // Nobody is bound for this routing key: dropped, no error.
      await mailbox.reply({ ...inbox.replyTo, routingKey: randomUUID() }, Buffer.from("{}"), { ticket: "x" });
      expect(await inbox.next(0.3)).toBeNull();
    } finally {
      await inbox.done();
      await inbox.close();
      await listener.close();
    }
    expect(errors).toEqual([]);
  });

  if (kind === "redis") {
    // kombu after_reply_message_received: the reply queue and its binding are deleted after each
    // broadcast, so a late reply finds no queue. (On RabbitMQ the queue stays and the ticket
    // filter in control/mailbox-client.ts drops it: test/unit/control/mailbox-client.test.ts.)
    it("after done(), the reply queue is unbound: a late reply never reaches the next broadcast", async () => {
      const inbox = mailbox.replies(randomUUID());
      try {
        await inbox.open();
        await inbox.done();
        await mailbox.reply(inbox.replyTo, Buffer.from('{"late@h": 1}'), { ticket: "old" });
        await inbox.open();
        await mailbox.reply(inbox.replyTo, Buffer.from('{"now@h": 1}'), { ticket: "new" });
        expect(text(await inbox.next(5))).toBe('{"now@h": 1}');
        expect(await inbox.next(0.3)).toBeNull();
      } finally {
        await inbox.done();
        await inbox.close();
      }
    });

    it("a reply-queue entry that is no kombu envelope (not JSON, truncated, not an object) is skipped", async () => {
      const oid = randomUUID();
      const inbox = mailbox.replies(oid);
      const transport = redisBrokerOf(app);
      try {
        await inbox.open();
        const list = transport.keys.queueKey(`${oid}.reply.celery.pidbox`, 0);
        await transport.client.lpush(list, "not json", '{"body": "eyJ', "[]", "42");
        await mailbox.reply(inbox.replyTo, Buffer.from('{"ok@h": 1}'), { ticket: "t" });
        expect(text(await inbox.next(5))).toBe('{"ok@h": 1}');
      } finally {
        await inbox.done();
        await inbox.close();
      }
    });
  }
}

describe("Transport.mailbox() on Redis", () => mailboxSuite("redis"));
describe("Transport.mailbox() on RabbitMQ", () => mailboxSuite("amqp"));
