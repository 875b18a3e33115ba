/**
 * kombu's pidbox protocol (control/mailbox-client.ts, control/worker-pidbox.ts) over an in-memory
 * BrokerMailbox: what the control layer puts on the wire and how it reads replies, including
 * hostile bytes. The brokers' own mailboxes are proven against real Celery in
 * test/interop/control-replies.test.ts (both brokers) and the control-redis-* / worker-ops-* tiers.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WorkerControlHost } from "../../../src/control/host.js";
import { MailboxClient } from "../../../src/control/mailbox-client.js";
import { PidboxNode } from "../../../src/control/node.js";
import { RevokedSet } from "../../../src/control/revoked.js";
import { listenPidbox, mailboxReplySender } from "../../../src/control/worker-pidbox.js";
import { LamportClock } from "../../../src/events/clock.js";
import { DEFAULT_WIRE_BUDGET } from "../../../src/serialization/index.js";
import type { BrokerMailbox, MailboxMessage, ReplyInbox } from "../../../src/transports/transport.js";

const REPLY_TO = { exchange: "reply.celery.pidbox", routingKey: "oid-1" };

/** A loopback mailbox: broadcasts reach every listener, replies reach the open inbox. */
function loopback() {
  const listeners = new Set<(m: MailboxMessage) => void>();
  const broadcasts: MailboxMessage[] = [];
  const queued: MailboxMessage[] = [];
  let open = false;
  let opened = 0;
  const json = (body: Uint8Array, headers: Record<string, unknown>): MailboxMessage => ({
    body,
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers,
  });
  const inbox: ReplyInbox = {
    replyTo: REPLY_TO,
    async open() {
      open = true;
      opened++;
    },
    async next() {
      // Lets queued node work (one request at a time) run before answering "nothing more".
      for (let i = 0; i < 20 && queued.length === 0; i++) await new Promise((r) => setImmediate(r));
      return queued.shift() ?? null;
    },
    async done() {
      open = false;
      queued.length = 0;
    },
    async close() {},
  };
  const mailbox: BrokerMailbox = {
    async broadcast(body, headers) {
      const message = json(body, headers);
      broadcasts.push(message);
      for (const l of listeners) l(message);
    },
    async reply(to, body, headers) {
      if (open && to.exchange === REPLY_TO.exchange && to.routingKey === REPLY_TO.routingKey)
        queued.push(json(body, headers));
    },
    async listen(_hostname, handlers) {
      listeners.add(handlers.onMessage);
      return { close: async () => void listeners.delete(handlers.onMessage) };
    },
    replies: () => inbox,
  };
  return {
    mailbox,
    broadcasts,
    /** Puts a raw message in the reply queue (as if some node had sent it). */
    inject(message: Partial<MailboxMessage> & { body: Uint8Array }) {
      queued.push({ contentType: "application/json", contentEncoding: "utf-8", headers: {}, ...message });
    },
    opened: () => opened,
  };
}

function host(hostname: string): WorkerControlHost {
  return {
    hostname,
    clock: new LamportClock(),
    revoked: new RevokedSet(),
    events: null,
    tasks: () => [],
    active: () => [],
    reserved: () => [],
    scheduled: () => [],
    findRequest: () => null,
    terminate: () => false,
    stats: () => ({}),
    setRateLimit: () => null,
    setTimeLimit: () => null,
    addConsumer: () => {},
    cancelConsumer: () => {},
    activeQueues: () => [],
    shutdown: () => {},
  };
}

function client(mailbox: BrokerMailbox, clock = new LamportClock()) {
  return new MailboxClient({
    mailbox,
    oid: "oid-1",
    budget: DEFAULT_WIRE_BUDGET,
    clockForward: () => clock.forward(),
    clockAdjust: (v) => clock.adjust(v),
  });
}

const bytes = (text: string) => Buffer.from(text, "utf8");

describe("MailboxClient (kombu Mailbox._broadcast/_collect) and listenPidbox (kombu Node)", () => {
  it("puts kombu's request on the wire and collects {host: reply} from each node", async () => {
    const loop = loopback();
    const errors: unknown[] = [];
    const nodes = await Promise.all(
      ["w1@h", "w2@h"].map((name) =>
        listenPidbox(
          new PidboxNode({ host: host(name), sendReply: mailboxReplySender(loop.mailbox) }),
          loop.mailbox,
          { budget: DEFAULT_WIRE_BUDGET, onError: (e) => errors.push(e) },
        ),
      ),
    );
    const replies = await client(loop.mailbox).broadcast("ping", { reply: true, timeout: 1 });
    expect(replies).toEqual([{ "w1@h": { ok: "pong" } }, { "w2@h": { ok: "pong" } }]);
    const sent = loop.broadcasts[0];
    const request = JSON.parse(Buffer.from(sent?.body ?? []).toString("utf8"));
    expect(Object.keys(request).sort()).toEqual(
      ["arguments", "destination", "matcher", "method", "pattern", "reply_to", "ticket"].sort(),
    );
    expect(request.reply_to).toEqual({ exchange: REPLY_TO.exchange, routing_key: REPLY_TO.routingKey });
    expect(Object.keys(sent?.headers ?? {}).sort()).toEqual(["clock", "expires"]);
    // A destination limits the wait to that many replies.
    const one = await client(loop.mailbox).broadcast("ping", { reply: true, destination: ["w2@h"] });
    expect(one).toEqual([{ "w2@h": { ok: "pong" } }]);
    for (const n of nodes) await n.close();
    expect(errors).toEqual([]);
  });

  it("a cast opens no reply queue and sends neither ticket nor reply_to", async () => {
    const loop = loopback();
    expect(await client(loop.mailbox).broadcast("shutdown", { destination: ["w1@h"] })).toBeNull();
    expect(loop.opened()).toBe(0);
    const request = JSON.parse(Buffer.from(loop.broadcasts[0]?.body ?? []).toString("utf8"));
    expect(request).toEqual({
      method: "shutdown",
      arguments: {},
      destination: ["w1@h"],
      pattern: null,
      matcher: null,
    });
  });

  it("skips replies with another ticket, expired ones and unreadable bodies; adjusts the clock", async () => {
    const loop = loopback();
    const clock = new LamportClock();
    const c = client(loop.mailbox, clock);
    // The node that answers injects the noise first, then its own reply.
    const node = new PidboxNode({
      host: host("w1@h"),
      sendReply: async (reply, to, ticket, clk) => {
        loop.inject({ body: bytes('{"x@h": 1}'), headers: { ticket: "another", clock: 5 } });
        loop.inject({ body: bytes('{"x@h": 2}'), headers: { ticket, expires: 1 } });
        loop.inject({ body: bytes("[1, 2]"), headers: { ticket } });
        loop.inject({ body: bytes('{"x@h": '), headers: { ticket } });
        loop.inject({
          body: bytes('{"x@h": 3}'),
          headers: { ticket },
          contentType: "application/x-python-serialize",
        });
        loop.inject({ body: bytes('"a string"'), headers: { ticket, clock: 900 } });
        await mailboxReplySender(loop.mailbox)(reply, to, ticket, clk);
      },
    });
    const running = await listenPidbox(node, loop.mailbox, { budget: DEFAULT_WIRE_BUDGET });
    const replies = await c.broadcast("ping", { reply: true });
    expect(replies).toEqual([{ "w1@h": { ok: "pong" } }]);
    expect(clock.value).toBeGreaterThanOrEqual(900);
    await running.close();
  });

  it("hostile request bytes never stop a node: it still answers the next ping", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc.json().map((j) => bytes(j)),
          ),
          { maxLength: 6 },
        ),
        async (junk) => {
          const loop = loopback();
          const errors: unknown[] = [];
          const running = await listenPidbox(
            new PidboxNode({ host: host("w1@h"), sendReply: mailboxReplySender(loop.mailbox) }),
            loop.mailbox,
            { budget: DEFAULT_WIRE_BUDGET, onError: (e) => errors.push(e) },
          );
          for (const body of junk) await loop.mailbox.broadcast(body, {});
          const replies = await client(loop.mailbox).broadcast("ping", {
            reply: true,
            destination: ["w1@h"],
          });
          expect(replies).toEqual([{ "w1@h": { ok: "pong" } }]);
          await running.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it("an oversized or too deeply nested request is dropped with a reason, the node keeps answering", async () => {
    const loop = loopback();
    const errors: string[] = [];
    const budget = { ...DEFAULT_WIRE_BUDGET, maxMessageSize: 1024, maxDepth: 8 };
    const running = await listenPidbox(
      new PidboxNode({ host: host("w1@h"), sendReply: mailboxReplySender(loop.mailbox) }),
      loop.mailbox,
      { budget, onError: (e) => errors.push((e as Error).message) },
    );
    await loop.mailbox.broadcast(
      bytes(JSON.stringify({ method: "ping", arguments: { pad: "x".repeat(2000) } })),
      {},
    );
    await loop.mailbox.broadcast(bytes(`${"[".repeat(50)}${"]".repeat(50)}`), {});
    const replies = await client(loop.mailbox).broadcast("ping", { reply: true, destination: ["w1@h"] });
    expect(replies).toEqual([{ "w1@h": { ok: "pong" } }]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/control request/);
    expect(errors[1]).toMatch(/nests deeper than the 8/);
    await running.close();
  });
});
