/**
 * Python drives a running TS worker: an `EventReceiver` + `State` follow it, the `celery
 * inspect|control` CLI and `app.control.revoke` reach it, and every reply is Celery's.
 */
import { describe, expect, it } from "vitest";
import { Terminated } from "../../../src/worker/errors.js";
import { pythonJson, runPython } from "../../support/celery.js";
import { uniqueName, uniqueQueue } from "../../support/services.js";
import type { OpsFixture } from "./suite.js";

/**
 * Python: an EventReceiver follows State until the TS worker (HOST) is alive and both tasks are
 * final. The tasks are sent on the first event from HOST: that event proves the receiver listens
 * (Redis: its PSUBSCRIBE is in place; RabbitMQ: its queue is bound), so none of the tasks' events
 * is published before. Prints JSON.
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
            and w is not None and w.alive and "worker-heartbeat" in types)
def on_event(event):
    state.event(event)
    if event.get("hostname") == HOST:
        types.append(event["type"])
        if not sent:
            sent.append(app.send_task("ts.add", (2, 3), queue=QUEUE, task_id=ADD))
            sent.append(app.send_task("ts.fail", (), queue=QUEUE, task_id=FAIL))
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    deadline = time.time() + 40
    for _ in recv.itercapture(limit=None, timeout=40, wakeup=True):
        if final() or time.time() > deadline:
            break
def task(t):
    return {"state": t.state, "name": t.name, "args": t.args, "result": t.result, "exception": t.exception,
            "worker": t.worker.hostname if t.worker else None,
            "received": t.received is not None, "started": t.started is not None}
w = state.workers.get(HOST)
print(json.dumps({"add": task(state.tasks[ADD]) if ADD in state.tasks else None,
                  "fail": task(state.tasks[FAIL]) if FAIL in state.tasks else None,
                  "types": types,
                  "worker": {"alive": w.alive, "sw_ident": w.sw_ident} if w else None}), flush=True)
`;

/** kombu `Connection.info()` fields a worker's `stats` shows the same way whoever runs it. */
const BROKER_INFO_KEYS = ["transport", "hostname", "port", "userid", "virtual_host", "ssl", "login_method"];
const brokerInfo = (stats: Record<string, unknown> | undefined) => {
  const broker = (stats?.broker ?? {}) as Record<string, unknown>;
  return Object.fromEntries(BROKER_INFO_KEYS.map((k) => [k, broker[k]]));
};

export function defineTsWorkerOps(fx: OpsFixture): void {
  const label = fx.profile.label;
  const { ran, abortReasons } = fx.ops;

  describe(`Python EventReceiver + State <- a running TS worker (${label})`, () => {
    it("sees the TS worker online and its tasks received, started, SUCCESS / FAILURE", async () => {
      const addId = uniqueName("add");
      const failId = uniqueName("fail");
      const hostname = fx.hostname;
      const run = await runPython(
        `HOST = ${JSON.stringify(hostname)}\nQUEUE = ${JSON.stringify(fx.queue)}\nADD = "${addId}"\nFAIL = "${failId}"\n${CAPTURE}`,
        { brokerUrl: fx.broker, timeoutMs: 90_000 },
      );
      expect(run.code, run.stderr).toBe(0);
      // The TS side of the same two tasks.
      expect(await fx.app.asyncResult<number>(addId).get({ timeout: 20_000 })).toBe(5);
      await expect(fx.app.asyncResult(failId).get({ timeout: 20_000 })).rejects.toThrow();
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
        expect.arrayContaining([
          "worker-heartbeat",
          "task-received",
          "task-started",
          "task-succeeded",
          "task-failed",
        ]),
      );
    }, 120_000);
  });

  describe(`Python celery inspect|control CLI -> TS worker (${label})`, () => {
    it("inspect ping, registered and stats (broker info as the Python worker's)", async () => {
      const hostname = fx.hostname;
      expect(await fx.cliJson(["inspect", "ping", "-d", hostname, "-j"])).toEqual({
        [hostname]: { ok: "pong" },
      });
      expect(await fx.cliJson(["inspect", "registered", "-d", hostname, "-j"])).toEqual({
        [hostname]: ["ts.add", "ts.block", "ts.fail"],
      });
      const py = fx.pyWorker.hostname;
      const stats = (await fx.cliJson(["inspect", "stats", "-d", `${hostname},${py}`, "-j"])) as Record<
        string,
        Record<string, unknown>
      >;
      expect(stats[hostname]?.pid).toBe(process.pid);
      expect(stats[hostname]?.total).toEqual(expect.objectContaining({ "ts.add": expect.any(Number) }));
      // kombu Connection.info() without the password (celery/worker/consumer/connection.py).
      expect(stats[hostname]?.broker).toMatchObject(fx.profile.brokerStats);
      expect(brokerInfo(stats[hostname])).toEqual(brokerInfo(stats[py]));
    });

    it("inspect active and query_task show a running TS task", async () => {
      const hostname = fx.hostname;
      const id = uniqueName("block");
      const running = fx.ops.whenStarted(id);
      const r = await fx.app.sendTask("ts.block", [7], null, { queue: fx.queue, taskId: id });
      await running;
      const active = (await fx.cliJson(["inspect", "active", "-d", hostname, "-j"])) as Record<
        string,
        unknown[]
      >;
      expect(active[hostname]).toEqual([
        expect.objectContaining({
          id,
          name: "ts.block",
          hostname,
          acknowledged: true,
          worker_pid: process.pid,
        }),
      ]);
      const query = (await fx.cliJson(["inspect", "query_task", id, "-d", hostname, "-j"])) as Record<
        string,
        Record<string, unknown[]>
      >;
      expect(query[hostname]?.[id]?.[0]).toBe("active");
      // Release it: terminate from the TS control client.
      await fx.app.control.revoke(id, { terminate: true, reply: true, destination: [hostname] });
      await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
    });

    it("control rate_limit reaches the worker; registered shows the new rate", async () => {
      const hostname = fx.hostname;
      const rate = await fx.cliJson(["control", "rate_limit", "ts.add", "5/s", "-d", hostname, "-j"]);
      expect(rate).toEqual([{ [hostname]: { ok: "new rate limit set successfully" } }]);
      expect(await fx.cliJson(["inspect", "registered", "-d", hostname, "-j"])).toEqual({
        [hostname]: ["ts.add [rate_limit=5/s]", "ts.block", "ts.fail"],
      });
    });

    it("control revoke: the id is listed as revoked and a message with it never runs (REVOKED)", async () => {
      const hostname = fx.hostname;
      const id = uniqueName("revoked");
      const revoke = await fx.cliJson(["control", "revoke", id, "-d", hostname, "-j"]);
      expect(revoke).toEqual([{ [hostname]: { ok: `tasks {'${id}'} flagged as revoked` } }]);
      expect(await fx.cliJson(["inspect", "revoked", "-d", hostname, "-j"])).toEqual({
        [hostname]: expect.arrayContaining([id]),
      });
      const r = await fx.app.sendTask("ts.add", [1, 1], null, { queue: fx.queue, taskId: id });
      // A marker sent after it on the same queue: once it ran, the revoked message was delivered too.
      const marker = await fx.app.sendTask<number>("ts.add", [2, 2], null, { queue: fx.queue });
      expect(await marker.get({ timeout: 20_000 })).toBe(4);
      await expect(r.get({ timeout: 20_000 })).rejects.toThrow();
      expect(await r.state()).toBe("REVOKED");
      expect(ran).toContain(marker.id);
      expect(ran).not.toContain(id);
    });

    it("control shutdown stops a TS worker", async () => {
      const name = fx.nodeName("shutdown");
      const w = await fx.startExtraWorker(name, { withoutMingle: true, queue: uniqueQueue("ops-sd") });
      expect(await fx.cliJson(["inspect", "ping", "-d", name, "-j"])).toEqual({ [name]: { ok: "pong" } });
      await fx.cli(["control", "shutdown", "-d", name, "-t", "0.5"]);
      await w.closed;
      const ping = await fx.cli(["inspect", "ping", "-d", name, "-j", "-t", "0.5"]);
      expect(ping.out).not.toContain(name);
    });
  });

  describe(`Python app.control.revoke -> TS worker (${label})`, () => {
    it("revoke(id, terminate=True) aborts the running TS task (SIGTERM); Python reads REVOKED", async () => {
      const hostname = fx.hostname;
      const id = uniqueName("term");
      const running = fx.ops.whenStarted(id);
      await fx.app.sendTask("ts.block", [], null, { queue: fx.queue, taskId: id });
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
        { brokerUrl: fx.broker, backendUrl: fx.backend },
      );
      expect(out.replies).toEqual([{ [hostname]: { ok: `terminate: ${id}` } }]);
      expect(out.state).toBe("REVOKED");
      expect(out.error).toBe("TaskRevokedError: terminated");
      expect(abortReasons.get(id)).toBeInstanceOf(Terminated);
      expect((abortReasons.get(id) as Terminated).signum).toBe(15);
    });

    it("a task revoked before its countdown never runs on the TS worker", async () => {
      const hostname = fx.hostname;
      const id = uniqueName("countdown");
      await fx.app.sendTask("ts.add", [4, 4], null, { queue: fx.queue, taskId: id, countdown: 6 });
      const inspect = fx.app.control.inspect({ destination: [hostname] });
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
        { brokerUrl: fx.broker, backendUrl: fx.backend },
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
      expect(await fx.app.asyncResult(id).state()).toBe("REVOKED");
    });
  });
}
