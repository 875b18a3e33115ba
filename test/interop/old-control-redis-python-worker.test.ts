/**
 * TS `app.control` and TS events `State` against a real Celery 5.7 worker on
 * real Redis: ping, inspect active/registered/query_task, revoke before the
 * countdown (never runs, REVOKED), revoke(terminate) answer shape, and the
 * worker's heartbeats / offline seen through `startRedisEventReceiver` + `State`.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { RunningReceiver } from "../../src/events/app-events.js";
import { State } from "../../src/events/state.js";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let worker: CeleryWorker;
const queue = uniqueQueue("ctlpy");
const recordKey = `record:${queue}`;

async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  app = new Celery({ broker, backend });
  worker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [queue],
    pool: "threads",
    concurrency: 2,
    extraArgs: ["-E"],
  });
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await app.control.close();
  await app?.close();
});

describe("TS app.control -> Python worker (Redis)", () => {
  it("ping gets Python's {ok: pong} from the worker", async () => {
    const replies = await app.control.ping({ destination: [worker.hostname] });
    expect(replies).toEqual([{ [worker.hostname]: { ok: "pong" } }]);
  });

  it("inspect registered / active / query_task list a running Python task", async () => {
    const registered = await app.control.inspect({ destination: [worker.hostname] }).registered();
    expect(registered?.[worker.hostname]).toContain("interop.sleep");
    const r = await app.sendTask("interop.sleep", [2], {}, { queue });
    const inspect = app.control.inspect({ destination: [worker.hostname] });
    const active = await until("the task to be active", async () => {
      const reply = await inspect.active();
      const list = reply?.[worker.hostname] as { id: string }[] | undefined;
      return list?.find((t) => t.id === r.id);
    });
    expect(active).toMatchObject({ id: r.id, name: "interop.sleep", args: [2], hostname: worker.hostname });
    const query = await inspect.queryTask(r.id);
    const byId = query?.[worker.hostname] as Record<string, [string, { id: string }]> | undefined;
    const entry = byId?.[r.id];
    expect(entry?.[0]).toBe("active");
    expect(entry?.[1].id).toBe(r.id);
    await r.get({ timeout: 20_000 });
  });

  it("revoke before the countdown: the task never runs and Python stores REVOKED", async () => {
    const r = await app.sendTask("interop.record", ["revoked-one", recordKey], {}, { queue, countdown: 2 });
    const replies = await app.control.revoke(r.id, { reply: true, destination: [worker.hostname] });
    expect(replies).toEqual([{ [worker.hostname]: { ok: `tasks {'${r.id}'} flagged as revoked` } }]);
    // A marker sent after it, with no countdown, runs; then wait past the revoked one's ETA.
    const after = await app.sendTask("interop.record", ["after", recordKey], {}, { queue, countdown: 3 });
    await after.get({ timeout: 20_000 });
    expect(await r.state()).toBe("REVOKED");
    const redis = new Redis(backend);
    try {
      expect(await redis.lrange(recordKey, 0, -1)).toEqual(["after"]);
    } finally {
      redis.disconnect();
    }
    const revoked = await app.control.inspect({ destination: [worker.hostname] }).revoked();
    expect(revoked?.[worker.hostname]).toContain(r.id);
  });

  it("an unknown command answers Python's KeyError reply", async () => {
    const replies = await app.control.broadcast("no_such_command", {
      reply: true,
      destination: [worker.hostname],
    });
    expect(replies).toEqual([{ [worker.hostname]: { error: "KeyError('no_such_command')" } }]);
  });
});

describe("TS events State <- Python worker (Redis)", () => {
  let receiver: RunningReceiver | null = null;

  afterAll(async () => {
    await receiver?.close();
  });

  it("follows heartbeats, task events and the worker going offline", async () => {
    const state = new State();
    receiver = await app.events.receiver(
      { "*": (e) => state.event(e) },
      { wakeup: () => app.control.heartbeat() },
    );
    const w = await until("a heartbeat from the Python worker", async () =>
      state.workers.get(worker.hostname),
    );
    await until("the worker alive", async () => w.alive());
    expect(w.sw_ident).toBe("py-celery");
    expect(w.freq).toBeGreaterThan(0);
    const r = await app.sendTask("interop.add", [20, 22], {}, { queue });
    await r.get({ timeout: 20_000 });
    const task = await until("task-succeeded in State", async () => {
      const t = state.tasks.get(r.id);
      return t?.state === "SUCCESS" ? t : null;
    });
    expect(task.name).toBe("interop.add");
    expect(task.fields.result).toBe("42");
    expect(task.worker?.hostname).toBe(worker.hostname);
    await worker.stop();
    await until("worker-offline", async () => !w.alive() && w.heartbeats.length === 0);
  }, 60_000);
});
