import { describe, expect, it } from "vitest";
import type { WorkerControlHost } from "../../../src/control/host.js";
import { addressedTo, matchHostname } from "../../../src/control/mailbox.js";
import { PidboxNode } from "../../../src/control/node.js";
import { RevokedSet } from "../../../src/control/revoked.js";
import { LamportClock } from "../../../src/events/clock.js";

function host(overrides: Partial<WorkerControlHost> = {}): WorkerControlHost {
  return {
    hostname: "w1@h",
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
    ...overrides,
  };
}

function node(h: WorkerControlHost) {
  const sent: { reply: unknown; ticket: string }[] = [];
  const n = new PidboxNode({
    host: h,
    sendReply: async (reply, _to, ticket) => {
      sent.push({ reply, ticket });
    },
  });
  return { n, sent };
}

const call = (method: string, extra: Record<string, unknown> = {}) => ({
  method,
  arguments: {},
  destination: null,
  pattern: null,
  matcher: null,
  ticket: "t1",
  reply_to: { exchange: "reply.celery.pidbox", routing_key: "oid" },
  ...extra,
});

describe("destination / pattern matching (kombu Node.handle_message, kombu.matcher)", () => {
  it("destination list wins, then pattern+matcher, else everyone", () => {
    expect(addressedTo({ destination: ["a@h"] }, "a@h")).toBe(true);
    expect(addressedTo({ destination: ["b@h"], pattern: "*", matcher: "glob" }, "a@h")).toBe(false);
    expect(addressedTo({ destination: [], pattern: "a@*", matcher: "glob" }, "a@h")).toBe(true);
    expect(addressedTo({ pattern: "^b", matcher: "pcre" }, "a@h")).toBe(false);
    expect(addressedTo({}, "a@h")).toBe(true);
    expect(matchHostname("w1.x@h", "w?.x@*", "glob")).toBe(true);
    expect(matchHostname("w1x@h", "w?.x@*", "glob")).toBe(false);
  });
});

describe("PidboxNode", () => {
  it("replies {hostname: value} with the ticket, KeyError for unknown commands, nothing for casts", async () => {
    const { n, sent } = node(host());
    await n.handle(call("ping"));
    await n.handle(call("nope"));
    await n.handle({ method: "ping", arguments: {} });
    expect(sent).toEqual([
      { reply: { "w1@h": { ok: "pong" } }, ticket: "t1" },
      { reply: { "w1@h": { error: "KeyError('nope')" } }, ticket: "t1" },
    ]);
  });

  it("drops malformed requests and requests for other nodes", async () => {
    const { n, sent } = node(host());
    expect(await n.handle("junk")).toBeNull();
    expect(await n.handle({ arguments: {} })).toBeNull();
    expect(await n.handle(call("ping", { destination: ["other@h"] }))).toBeNull();
    expect(sent).toEqual([]);
  });

  it("revoke records ids, terminate reports Python's texts, hello merges lists and maps", async () => {
    const h = host({ terminate: (id) => id === "run" });
    const { n } = node(h);
    expect(await n.handle(call("revoke", { arguments: { task_id: ["a", "b"] } }))).toEqual({
      "w1@h": { ok: "tasks {'a', 'b'} flagged as revoked" },
    });
    expect(await n.handle(call("revoke", { arguments: { task_id: "zzz", terminate: true } }))).toEqual({
      "w1@h": { ok: "terminate: tasks unknown" },
    });
    expect(await n.handle(call("terminate", { arguments: { task_id: "run", signal: "KILL" } }))).toEqual({
      "w1@h": { ok: "terminate: run" },
    });
    const hello = (await n.handle(
      call("hello", { arguments: { from_node: "x@h", revoked: { m1: 1.0 } } }),
    )) as Record<string, { revoked: string[] }>;
    expect(hello["w1@h"]?.revoked).toEqual(["a", "b", "zzz", "run", "m1"]);
  });

  it("enable/disable_events answer the 5.7 error without a dispatcher", async () => {
    const { n } = node(host());
    expect(await n.handle(call("enable_events"))).toEqual({
      "w1@h": { error: "event dispatcher unavailable" },
    });
  });
});

describe("RevokedSet (LimitedSet)", () => {
  it("evicts the oldest beyond maxlen and expired ids", () => {
    const s = new RevokedSet({ maxlen: 2, expires: 10 });
    s.add("a", 0);
    s.add("b", 1000);
    s.add("c", 2000);
    expect(s.ids(2000)).toEqual(["b", "c"]);
    expect(s.has("b", 20_000)).toBe(false);
    const copy = new RevokedSet({ expires: 0 });
    copy.load(JSON.parse(JSON.stringify(s)));
    expect(copy.has("c", 2000)).toBe(true);
  });
});
