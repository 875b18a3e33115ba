import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { Terminated } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import {
  type CeleryWorker,
  pythonJson,
  runCeleryCli,
  runPython,
  startCeleryWorker,
} from "../support/celery.js";
import { OpsTasks } from "../support/ops-tasks.js";
import { redisBrokerOf } from "../support/redis-broker.js";
import { allocateRedisDb, uniqueName, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let worker: Worker;
const queue = uniqueQueue("tsops");
const hostname = `tsops-${process.pid}@localhost`;
const ops = new OpsTasks();
const { ran, abortReasons } = ops;
const whenStarted = (id: string) => ops.whenStarted(id);
const registerTasks = (target: Celery) => ops.register(target);
const startExtraWorker = (name: string, options: { withoutMingle: boolean; queue: string }) =>
  ops.startExtraWorker({ broker, backend }, name, options);

function celeryCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return runCeleryCli(broker, args);
}

const cliJson = async (args: string[]): Promise<unknown> => {
  const r = await celeryCli(args);
  expect(r.code, r.out).toBe(0);
  return JSON.parse(r.out.trim());
};

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  app = new Celery({ broker, backend });
  registerTasks(app);
  worker = app.worker({ queues: [queue], hostname, concurrency: 4, taskEvents: true });
  await worker.start();
}, 60_000);

afterAll(async () => {
  await ops.closeExtra();
  await worker?.close({ timeout: 2000 });
  await app?.close();
});

/** Python: State from the TS worker's events until both tasks are final; prints JSON. */
const CAPTURE = `
import json, time
from interop_app import app
from celery.events.state import State
state = State()
types = []
def final():
    a, f = state.tasks.get(ADD), state.tasks.get(FAIL)
    return a is not None and a.state == "SUCCESS" and f is not None and f.state == "FAILURE" and "worker-heartbeat" in types
def on_event(event):
    if event.get("hostname") == HOST:
        types.append(event["type"])
    state.event(event)
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    deadline = time.time() + 40
    for _ in recv.itercapture(limit=None, timeout=40, wakeup=False):
        if final() or time.time() > deadline:
            break
def task(t):
    return {"state": t.state, "name": t.name, "args": t.args, "result": t.result, "exception": t.exception,
            "worker": t.worker.hostname if t.worker else None,
            "received": t.received is not None, "started": t.started is not None}
w = state.workers.get(HOST)
print(json.dumps({"add": task(state.tasks[ADD]), "fail": task(state.tasks[FAIL]), "types": types,
                  "worker": {"alive": w.alive, "sw_ident": w.sw_ident} if w else None}), flush=True)
`;

describe("Python EventReceiver + State <- a running TS worker (Redis)", () => {
  it("tracks the TS worker and its tasks: received, started, succeeded, failed", async () => {
    const client = redisBrokerOf(app).client;
    const before = Number(await client.pubsub("NUMPAT"));
    const addId = uniqueName("add");
    const failId = uniqueName("fail");
    const py = runPython(
      `HOST = ${JSON.stringify(hostname)}\nADD = "${addId}"\nFAIL = "${failId}"\n${CAPTURE}`,
      {
        brokerUrl: broker,
      },
    );
    // The receiver is listening once its PSUBSCRIBE shows in PUBSUB NUMPAT.
    for (let i = 0; i < 300 && Number(await client.pubsub("NUMPAT")) <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const add = await app.sendTask<number>("ts.add", [2, 3], null, { queue, taskId: addId });
    const fail = await app.sendTask("ts.fail", [], null, { queue, taskId: failId });
    expect(await add.get({ timeout: 20_000 })).toBe(5);
    await expect(fail.get({ timeout: 20_000 })).rejects.toThrow();
    const run = await py;
    const snap = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(snap.add).toEqual({
      state: "SUCCESS",
      name: "ts.add",
      args: "(2, 3)",
      result: "5",
      exception: null,
      worker: hostname,
      received: true,
      started: true,
    });
    expect(snap.fail).toMatchObject({ state: "FAILURE", name: "ts.fail", worker: hostname, started: true });
    expect(snap.fail.exception).toContain("bad input");
    expect(snap.worker).toEqual({ alive: true, sw_ident: "celeriac" });
    expect(snap.types).toEqual(
      expect.arrayContaining(["task-received", "task-started", "task-succeeded", "task-failed"]),
    );
  }, 60_000);
});

describe("Python celery inspect|control CLI -> TS worker (Redis)", () => {
  it("inspect ping, registered, stats", async () => {
    expect(await cliJson(["inspect", "ping", "-d", hostname, "-j"])).toEqual({ [hostname]: { ok: "pong" } });
    expect(await cliJson(["inspect", "registered", "-d", hostname, "-j"])).toEqual({
      [hostname]: ["ts.add", "ts.block", "ts.fail"],
    });
    const stats = (await cliJson(["inspect", "stats", "-d", hostname, "-j"])) as Record<
      string,
      Record<string, unknown>
    >;
    expect(stats[hostname]?.pid).toBe(process.pid);
    expect(stats[hostname]?.total).toEqual(expect.objectContaining({ "ts.add": expect.any(Number) }));
  });

  it("inspect active and query_task show a running TS task", async () => {
    const id = uniqueName("block");
    const running = whenStarted(id);
    const r = await app.sendTask("ts.block", [7], null, { queue, taskId: id });
    await running;
    const active = (await cliJson(["inspect", "active", "-d", hostname, "-j"])) as Record<string, unknown[]>;
    expect(active[hostname]).toEqual([
      expect.objectContaining({
        id,
        name: "ts.block",
        hostname,
        acknowledged: true,
        worker_pid: process.pid,
      }),
    ]);
    const query = (await cliJson(["inspect", "query_task", id, "-d", hostname, "-j"])) as Record<
      string,
      Record<string, unknown[]>
    >;
    expect(query[hostname]?.[id]?.[0]).toBe("active");
    // Release it: terminate from the TS control client.
    await app.control.revoke(id, { terminate: true, reply: true, destination: [hostname] });
    await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
  });

  it("control rate_limit and revoke reach the worker; registered shows the new rate", async () => {
    const rate = await cliJson(["control", "rate_limit", "ts.add", "5/s", "-d", hostname, "-j"]);
    expect(rate).toEqual([{ [hostname]: { ok: "new rate limit set successfully" } }]);
    expect(await cliJson(["inspect", "registered", "-d", hostname, "-j"])).toEqual({
      [hostname]: ["ts.add [rate_limit=5/s]", "ts.block", "ts.fail"],
    });
    const id = uniqueName("revoked");
    const revoke = await cliJson(["control", "revoke", id, "-d", hostname, "-j"]);
    expect(revoke).toEqual([{ [hostname]: { ok: `tasks {'${id}'} flagged as revoked` } }]);
    expect(await cliJson(["inspect", "revoked", "-d", hostname, "-j"])).toEqual({
      [hostname]: expect.arrayContaining([id]),
    });
    // A message with that id is not run: REVOKED, as from a Python worker.
    const r = await app.sendTask("ts.add", [1, 1], null, { queue, taskId: id });
    await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
    expect(await r.state()).toBe("REVOKED");
    expect(ran).not.toContain(id);
  });

  it("control shutdown stops a TS worker", async () => {
    const name = `tsops-shutdown-${process.pid}@localhost`;
    const w = await startExtraWorker(name, { withoutMingle: true, queue: uniqueQueue("tsops-sd") });
    await celeryCli(["control", "shutdown", "-d", name, "-t", "0.5"]);
    await w.closed;
    const ping = await celeryCli(["inspect", "ping", "-d", name, "-j", "-t", "0.5"]);
    expect(ping.out).not.toContain(name);
  });
});

describe("Python revoke -> TS worker", () => {
  it("app.control.revoke(id, terminate=True) aborts the running task; Python reads REVOKED", async () => {
    const id = uniqueName("term");
    const running = whenStarted(id);
    await app.sendTask("ts.block", [], null, { queue, taskId: id });
    await running;
    const out = await pythonJson<{ replies: unknown; state: string; error: string }>(
      `
from interop_app import app, emit
from celery.result import AsyncResult
ID = ${JSON.stringify(id)}
replies = app.control.revoke(ID, terminate=True, reply=True, destination=[${JSON.stringify(hostname)}])
r = AsyncResult(ID, app=app)
try:
    r.get(timeout=20)
    error = "none"
except Exception as exc:
    error = type(exc).__name__ + ": " + str(exc)
emit({"replies": replies, "state": r.state, "error": error})
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(out.replies).toEqual([{ [hostname]: { ok: `terminate: ${id}` } }]);
    expect(out.state).toBe("REVOKED");
    expect(out.error).toBe("TaskRevokedError: terminated");
    expect(abortReasons.get(id)).toBeInstanceOf(Terminated);
    expect((abortReasons.get(id) as Terminated).signum).toBe(15);
  });

  it("a task revoked before its countdown never runs on the TS worker", async () => {
    const id = uniqueName("countdown");
    await app.sendTask("ts.add", [4, 4], null, { queue, taskId: id, countdown: 6 });
    const inspect = app.control.inspect({ destination: [hostname] });
    // Held for its ETA: inspect scheduled lists it.
    let scheduled: unknown = null;
    for (let i = 0; i < 100 && !JSON.stringify(scheduled).includes(id); i++) {
      scheduled = await inspect.scheduled();
    }
    expect(JSON.stringify(scheduled)).toContain(id);
    await pythonJson(
      `
from interop_app import app, emit
emit(app.control.revoke(${JSON.stringify(id)}, reply=True, destination=[${JSON.stringify(hostname)}]))
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    // Wait until the worker let go of it (the ETA fired and the request was discarded).
    let held = true;
    for (let i = 0; i < 200 && held; i++) {
      const q = (await inspect.queryTask(id)) as Record<string, Record<string, unknown>> | null;
      held = q !== null && q[hostname]?.[id] !== undefined;
      if (held) await new Promise((r) => setTimeout(r, 100));
    }
    expect(held).toBe(false);
    expect(ran).not.toContain(id);
    expect(await app.asyncResult(id).state()).toBe("REVOKED");
  });
});

describe("mingle: a Python worker's revoked ids reach a TS worker started after it", () => {
  let pyWorker: CeleryWorker;
  beforeAll(async () => {
    pyWorker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [uniqueQueue("pyops")],
    });
  }, 120_000);
  afterAll(async () => {
    await pyWorker?.stop();
  });

  it("the TS worker's hello merges the Python worker's revoked set (and --without-mingle does not)", async () => {
    const id = uniqueName("mingled");
    await pythonJson(
      `
from interop_app import app, emit
emit(app.control.revoke(${JSON.stringify(id)}, reply=True, destination=[${JSON.stringify(pyWorker.hostname)}]))
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    const mingledQueue = uniqueQueue("tsops-mingled");
    const mingledName = `tsops-mingled-${process.pid}@localhost`;
    const aloneName = `tsops-alone-${process.pid}@localhost`;
    await startExtraWorker(mingledName, { withoutMingle: false, queue: mingledQueue });
    await startExtraWorker(aloneName, { withoutMingle: true, queue: uniqueQueue("tsops-alone") });
    const revoked = (await cliJson([
      "inspect",
      "revoked",
      "-d",
      `${mingledName},${aloneName}`,
      "-j",
    ])) as Record<string, string[]>;
    expect(revoked[mingledName]).toContain(id);
    expect(revoked[aloneName]).not.toContain(id);
    // And the mingled worker acts on it: a message with that id is discarded as REVOKED.
    const r = await app.sendTask("ts.add", [1, 2], null, { queue: mingledQueue, taskId: id });
    await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
    expect(await r.state()).toBe("REVOKED");
    expect(ran).not.toContain(id);
  });
});
