import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { RequestInfo, WorkerControlHost } from "../../src/control/host.js";
import { mailboxOptions } from "../../src/control/mailbox.js";
import { PidboxNode } from "../../src/control/node.js";
import { RevokedSet } from "../../src/control/revoked.js";
import { listenPidbox, mailboxReplySender, type RunningNode } from "../../src/control/worker-pidbox.js";
import { LamportClock } from "../../src/events/clock.js";
import { pythonJson, runCeleryCli } from "../support/celery.js";
import { allocateRedisDb } from "../support/services.js";

let broker: string;
let app: Celery;
let node: RunningNode;
const hostname = `tsnode-${process.pid}@localhost`;
const rateLimits = new Map<string, unknown>();
let shutdowns = 0;
const running: RequestInfo = {
  id: "11111111-2222-3333-4444-555555555555",
  name: "ts.long",
  args: "(1,)",
  kwargs: "{}",
  type: "ts.long",
  hostname,
  time_start: 1_700_000_000.5,
  acknowledged: true,
  delivery_info: { exchange: "", routing_key: "tsq", priority: 0, redelivered: false },
  worker_pid: process.pid,
};
const terminated: string[] = [];

function makeHost(): WorkerControlHost {
  return {
    hostname,
    clock: new LamportClock(),
    revoked: new RevokedSet(),
    events: null,
    tasks: () => [
      { name: "ts.long", attributes: { rate_limit: rateLimits.get("ts.long") ?? null } },
      { name: "ts.add", attributes: {} },
    ],
    active: () => [running],
    reserved: () => [],
    scheduled: () => [],
    findRequest: (id) => (id === running.id ? { state: "active", info: running } : null),
    terminate: (id) => {
      if (id !== running.id) return false;
      terminated.push(id);
      return true;
    },
    stats: () => ({ total: { "ts.long": 1 }, pid: process.pid, clock: "1" }),
    setRateLimit: (name, rate) => {
      if (name !== "ts.long" && name !== "ts.add") return "unknown task";
      rateLimits.set(name, rate);
      return null;
    },
    setTimeLimit: () => null,
    addConsumer: () => {},
    cancelConsumer: () => {},
    activeQueues: () => [],
    shutdown: () => {
      shutdowns += 1;
    },
  };
}

function celeryCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return runCeleryCli(broker, args);
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  app = new Celery({ broker });
  const options = mailboxOptions(app.settings);
  const mailbox = app.transport.mailbox?.(options);
  if (!mailbox) throw new Error("the Redis transport offers no pidbox mailbox");
  const pidbox = new PidboxNode({ host: makeHost(), sendReply: mailboxReplySender(mailbox) });
  node = await listenPidbox(pidbox, mailbox, { budget: options.budget });
}, 60_000);

afterAll(async () => {
  await node?.close();
  await app?.close();
});

describe("Python celery CLI -> TS pidbox node (Redis)", () => {
  it("celery inspect ping", async () => {
    const r = await celeryCli(["inspect", "ping", "-d", hostname, "-j"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.trim())).toEqual({ [hostname]: { ok: "pong" } });
  });

  it("celery inspect active / registered / stats / query_task", async () => {
    const active = await celeryCli(["inspect", "active", "-d", hostname, "-j"]);
    expect(JSON.parse(active.out.trim())).toEqual({ [hostname]: [running] });
    const registered = await celeryCli(["inspect", "registered", "-d", hostname, "-j"]);
    expect(JSON.parse(registered.out.trim())).toEqual({ [hostname]: ["ts.add", "ts.long"] });
    const stats = await celeryCli(["inspect", "stats", "-d", hostname, "-j"]);
    expect(JSON.parse(stats.out.trim())[hostname].total).toEqual({ "ts.long": 1 });
    const query = await celeryCli(["inspect", "query_task", running.id, "-d", hostname, "-j"]);
    expect(JSON.parse(query.out.trim())).toEqual({ [hostname]: { [running.id]: ["active", running] } });
  });

  it("celery control rate_limit and revoke reach the node; registered shows the new rate", async () => {
    const rate = await celeryCli(["control", "rate_limit", "ts.long", "5/s", "-d", hostname, "-j"]);
    // `celery control -j` prints the list of replies; `celery inspect -j` the merged mapping.
    expect(JSON.parse(rate.out.trim())).toEqual([{ [hostname]: { ok: "new rate limit set successfully" } }]);
    expect(rateLimits.get("ts.long")).toBe("5/s");
    const registered = await celeryCli(["inspect", "registered", "-d", hostname, "-j"]);
    expect(JSON.parse(registered.out.trim())).toEqual({ [hostname]: ["ts.add", "ts.long [rate_limit=5/s]"] });
    const revoke = await celeryCli(["control", "revoke", "abc-1", "-d", hostname, "-j"]);
    expect(JSON.parse(revoke.out.trim())).toEqual([
      { [hostname]: { ok: "tasks {'abc-1'} flagged as revoked" } },
    ]);
    const revoked = await celeryCli(["inspect", "revoked", "-d", hostname, "-j"]);
    expect(JSON.parse(revoked.out.trim())).toEqual({ [hostname]: ["abc-1"] });
  });

  it("Python app.control.revoke(id, terminate=True) terminates the running request", async () => {
    const replies = await pythonJson<unknown>(
      `
from interop_app import app, emit
emit(app.control.revoke(${JSON.stringify(running.id)}, terminate=True, reply=True, destination=[${JSON.stringify(hostname)}]))
`,
      { brokerUrl: broker },
    );
    expect(replies).toEqual([{ [hostname]: { ok: `terminate: ${running.id}` } }]);
    expect(terminated).toEqual([running.id]);
  });

  it("celery control shutdown reaches the node (no reply, as from a Python worker)", async () => {
    const before = shutdowns;
    await celeryCli(["control", "shutdown", "-d", hostname, "-t", "0.5"]);
    expect(shutdowns).toBe(before + 1);
  });

  it("a node with another name ignores a request addressed elsewhere", async () => {
    const r = await celeryCli(["inspect", "ping", "-d", "someone-else@nowhere", "-j", "-t", "0.5"]);
    expect(r.out).not.toContain(hostname);
  });
});
