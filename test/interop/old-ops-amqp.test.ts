import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { RunningReceiver } from "../../src/events/app-events.js";
import { State } from "../../src/events/state.js";
import { Terminated } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import {
  type CeleryWorker,
  pythonJson,
  runCeleryCli,
  runPython,
  startCeleryWorker,
} from "../support/celery.js";
import { OpsTasks, until } from "../support/ops-tasks.js";
import { allocateRedisDb, amqpUrl, uniqueName, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let worker: Worker;
const queue = uniqueQueue("opsamqp");
const hostname = `opsamqp-${process.pid}@localhost`;
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
  broker = await amqpUrl();
  backend = (await allocateRedisDb()).url;
  app = new Celery({ broker, backend });
  registerTasks(app);
  worker = app.worker({ queues: [queue], hostname, concurrency: 2, taskEvents: true });
  await worker.start();
}, 60_000);

afterAll(async () => {
  await ops.closeExtra();
  await worker?.close({ timeout: 2000 });
  await app?.close();
});

/**
 * Python: an EventReceiver on RabbitMQ; once consuming (`on_consume_ready`,
 * which also broadcasts `heartbeat` with wakeup=True) it sends one task that
 * succeeds and one that fails to the TS worker, then follows State until both
 * are final and the worker is alive. Prints JSON.
 */
const CAPTURE = `
import json, time
from interop_app import app
from celery.events.state import State
state = State()
types = []
sent = []
def final():
    a, f, w = state.tasks.get(ADD), state.tasks.get(FAIL), state.workers.get(HOST)
    return (a is not None and a.state == "SUCCESS" and f is not None and f.state == "FAILURE"
            and w is not None and w.alive)
def on_event(event):
    if event.get("hostname") == HOST:
        types.append(event["type"])
    state.event(event)
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    consume_ready = recv.on_consume_ready
    def on_ready(*args, **kwargs):
        consume_ready(*args, **kwargs)
        if not sent:
            sent.append(app.send_task("ts.add", (2, 3), queue=QUEUE, task_id=ADD))
            sent.append(app.send_task("ts.fail", (), queue=QUEUE, task_id=FAIL))
    recv.on_consume_ready = on_ready
    deadline = time.time() + 40
    for _ in recv.itercapture(limit=None, timeout=40, wakeup=True):
        if final() or time.time() > deadline:
            break
def task(t):
    return {"state": t.state, "name": t.name, "args": t.args, "result": t.result,
            "worker": t.worker.hostname if t.worker else None,
            "received": t.received is not None, "started": t.started is not None}
w = state.workers.get(HOST)
print(json.dumps({"add": task(state.tasks[ADD]) if ADD in state.tasks else None,
                  "fail": task(state.tasks[FAIL]) if FAIL in state.tasks else None,
                  "exception": state.tasks[FAIL].exception if FAIL in state.tasks else None,
                  "types": types,
                  "worker": {"alive": w.alive, "sw_ident": w.sw_ident} if w else None}), flush=True)
`;

describe("Python EventReceiver + State <- TS worker (RabbitMQ)", () => {
  it("sees the TS worker online and its tasks SUCCESS / FAILURE", async () => {
    const addId = uniqueName("add");
    const failId = uniqueName("fail");
    const run = await runPython(
      `HOST = ${JSON.stringify(hostname)}\nQUEUE = ${JSON.stringify(queue)}\nADD = "${addId}"\nFAIL = "${failId}"\n${CAPTURE}`,
      { brokerUrl: broker, timeoutMs: 90_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const snap = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(snap.add).toEqual({
      state: "SUCCESS",
      name: "ts.add",
      args: "(2, 3)",
      result: "5",
      worker: hostname,
      received: true,
      started: true,
    });
    expect(snap.fail).toMatchObject({ state: "FAILURE", name: "ts.fail", worker: hostname, started: true });
    expect(snap.exception).toContain("bad input");
    expect(snap.worker).toEqual({ alive: true, sw_ident: "celeriac" });
    expect(snap.types).toEqual(
      expect.arrayContaining(["worker-heartbeat", "task-received", "task-started", "task-succeeded"]),
    );
  }, 120_000);
});

describe("Python celery inspect|control CLI -> TS worker (RabbitMQ)", () => {
  it("inspect ping, registered and stats", async () => {
    expect(await cliJson(["inspect", "ping", "-d", hostname, "-j"])).toEqual({ [hostname]: { ok: "pong" } });
    expect(await cliJson(["inspect", "registered", "-d", hostname, "-j"])).toEqual({
      [hostname]: ["ts.add", "ts.block", "ts.fail"],
    });
    const stats = (await cliJson(["inspect", "stats", "-d", hostname, "-j"])) as Record<
      string,
      Record<string, unknown>
    >;
    expect(stats[hostname]?.pid).toBe(process.pid);
    // kombu Connection.info() without the password (celery/worker/consumer/connection.py).
    expect(stats[hostname]?.broker).toMatchObject({ transport: "amqp", userid: "guest", virtual_host: "/" });
  });

  it("control revoke: the id is listed as revoked and a message with it never runs", async () => {
    const id = uniqueName("revoked");
    const revoke = await cliJson(["control", "revoke", id, "-d", hostname, "-j"]);
    expect(revoke).toEqual([{ [hostname]: { ok: `tasks {'${id}'} flagged as revoked` } }]);
    expect(await cliJson(["inspect", "revoked", "-d", hostname, "-j"])).toEqual({
      [hostname]: expect.arrayContaining([id]),
    });
    const r = await app.sendTask("ts.add", [1, 1], null, { queue, taskId: id });
    // A marker sent after it on the same queue: once it ran, the revoked message was delivered too.
    const marker = await app.sendTask<number>("ts.add", [2, 2], null, { queue });
    expect(await marker.get({ timeout: 20_000 })).toBe(4);
    await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
    expect(await r.state()).toBe("REVOKED");
    expect(ran).toContain(marker.id);
    expect(ran).not.toContain(id);
  });
});

describe("Python app.control -> TS worker (RabbitMQ)", () => {
  it("revoke(id, terminate=True) aborts the running TS task; Python reads REVOKED", async () => {
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
  });

  it("control shutdown stops a TS worker", async () => {
    const name = `opsamqp-shutdown-${process.pid}@localhost`;
    const w = await startExtraWorker(name, { withoutMingle: true, queue: uniqueQueue("opsamqp-sd") });
    expect(await cliJson(["inspect", "ping", "-d", name, "-j"])).toEqual({ [name]: { ok: "pong" } });
    await celeryCli(["control", "shutdown", "-d", name, "-t", "0.5"]);
    await w.closed;
    const ping = await celeryCli(["inspect", "ping", "-d", name, "-j", "-t", "0.5"]);
    expect(ping.out).not.toContain(name);
  });
});

describe("TS app.control / app.events -> Python Celery 5.7 worker (RabbitMQ)", () => {
  let pyWorker: CeleryWorker;
  let client: Celery;
  let receiver: RunningReceiver | null = null;
  const pyQueue = uniqueQueue("opsamqp-py");

  beforeAll(async () => {
    client = new Celery({ broker, backend });
    pyWorker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [pyQueue],
      pool: "threads",
      concurrency: 2,
      extraArgs: ["-E"],
    });
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    await pyWorker?.stop();
    await client?.close();
  });

  it("ping gathers the Python and the TS worker's replies", async () => {
    const replies = await client.control.ping({ destination: [pyWorker.hostname, hostname] });
    expect(replies).toHaveLength(2);
    expect(Object.assign({}, ...replies)).toEqual({
      [pyWorker.hostname]: { ok: "pong" },
      [hostname]: { ok: "pong" },
    });
  });

  it("inspect().active() lists a running Python task", async () => {
    const r = await client.sendTask("interop.sleep", [2], {}, { queue: pyQueue });
    const inspect = client.control.inspect({ destination: [pyWorker.hostname] });
    const active = await until("the task to be active", async () => {
      const reply = await inspect.active();
      const list = reply?.[pyWorker.hostname] as { id: string }[] | undefined;
      return list?.find((t) => t.id === r.id);
    });
    expect(active).toMatchObject({
      id: r.id,
      name: "interop.sleep",
      args: [2],
      hostname: pyWorker.hostname,
    });
    await r.get({ timeout: 20_000 });
  });

  it("revoke before the countdown: the Python task never runs, REVOKED is stored", async () => {
    const recordKey = `record:${pyQueue}`;
    const r = await client.sendTask(
      "interop.record",
      ["revoked", recordKey],
      {},
      { queue: pyQueue, countdown: 2 },
    );
    const replies = await client.control.revoke(r.id, { reply: true, destination: [pyWorker.hostname] });
    expect(replies).toEqual([{ [pyWorker.hostname]: { ok: `tasks {'${r.id}'} flagged as revoked` } }]);
    const after = await client.sendTask(
      "interop.record",
      ["after", recordKey],
      {},
      { queue: pyQueue, countdown: 3 },
    );
    await after.get({ timeout: 20_000 });
    expect(await r.state()).toBe("REVOKED");
    const redis = new Redis(backend);
    try {
      expect(await redis.lrange(recordKey, 0, -1)).toEqual(["after"]);
    } finally {
      redis.disconnect();
    }
  });

  it("mingle: the Python worker's revoked id reaches a TS worker started after it", async () => {
    const id = uniqueName("mingled");
    const replies = await client.control.revoke(id, { reply: true, destination: [pyWorker.hostname] });
    expect(replies).toEqual([{ [pyWorker.hostname]: { ok: `tasks {'${id}'} flagged as revoked` } }]);
    const mingledName = `opsamqp-mingled-${process.pid}@localhost`;
    const aloneName = `opsamqp-alone-${process.pid}@localhost`;
    const mingledQueue = uniqueQueue("opsamqp-mingled");
    await startExtraWorker(mingledName, { withoutMingle: false, queue: mingledQueue });
    await startExtraWorker(aloneName, { withoutMingle: true, queue: uniqueQueue("opsamqp-alone") });
    const revoked = await client.control.inspect({ destination: [mingledName, aloneName] }).revoked();
    expect(revoked?.[mingledName]).toContain(id);
    expect(revoked?.[aloneName]).not.toContain(id);
    const r = await client.sendTask("ts.add", [1, 2], null, { queue: mingledQueue, taskId: id });
    const marker = await client.sendTask<number>("ts.add", [3, 4], null, { queue: mingledQueue });
    expect(await marker.get({ timeout: 20_000 })).toBe(7);
    expect(await r.state()).toBe("REVOKED");
    expect(ran).not.toContain(id);
  });

  it("app.events State follows the Python worker's heartbeats and a task to SUCCESS", async () => {
    const state = new State();
    receiver = await client.events.receiver(
      { "*": (e) => state.event(e) },
      { wakeup: () => client.control.heartbeat() },
    );
    const w = await until("a heartbeat from the Python worker", async () =>
      state.workers.get(pyWorker.hostname),
    );
    await until("the worker alive", async () => w.alive());
    expect(w.sw_ident).toBe("py-celery");
    const r = await client.sendTask("interop.add", [20, 22], {}, { queue: pyQueue });
    expect(await r.get({ timeout: 20_000 })).toBe(42);
    const task = await until("task-succeeded in State", async () => {
      const t = state.tasks.get(r.id);
      return t?.state === "SUCCESS" ? t : null;
    });
    expect(task.name).toBe("interop.add");
    expect(task.fields.result).toBe("42");
    expect(task.worker?.hostname).toBe(pyWorker.hostname);
    // Runs last in this block: the worker's worker-offline reaches State.
    await pyWorker.stop();
    await until("worker-offline", async () => !w.alive() && w.heartbeats.length === 0);
  }, 60_000);
});
