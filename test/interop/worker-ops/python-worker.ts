/**
 * TS `app.control` / `app.events` drive the stock Celery 5.7 worker (ping, inspect registered /
 * active / query_task / revoked, revoke before a countdown, an unknown command, events `State`
 * through heartbeats to worker-offline), and mingle hands the Python worker's revoked ids to a TS
 * worker started after it. The last case stops the Python worker.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import type { RunningReceiver } from "../../../src/events/app-events.js";
import { State } from "../../../src/events/state.js";
import { pythonJson } from "../../support/celery.js";
import { until } from "../../support/ops-tasks.js";
import { uniqueName, uniqueQueue } from "../../support/services.js";
import type { OpsFixture } from "./suite.js";

export function definePythonWorkerOps(fx: OpsFixture): void {
  const { ran } = fx.ops;

  describe(`TS app.control / app.events -> Python Celery 5.7 worker (${fx.profile.label})`, () => {
    it("ping gathers the Python and the TS worker's replies", async () => {
      const py = fx.pyWorker.hostname;
      const replies = await fx.app.control.ping({ destination: [py, fx.hostname] });
      expect(replies).toHaveLength(2);
      expect(Object.assign({}, ...replies)).toEqual({
        [py]: { ok: "pong" },
        [fx.hostname]: { ok: "pong" },
      });
    });

    it("inspect registered / active / query_task list a running Python task", async () => {
      const py = fx.pyWorker.hostname;
      const inspect = fx.app.control.inspect({ destination: [py] });
      const registered = await inspect.registered();
      expect(registered?.[py]).toContain("interop.sleep");
      const r = await fx.app.sendTask("interop.sleep", [2], {}, { queue: fx.pyQueue });
      const active = await until("the task to be active", async () => {
        const reply = await inspect.active();
        const list = reply?.[py] as { id: string }[] | undefined;
        return list?.find((t) => t.id === r.id);
      });
      expect(active).toMatchObject({ id: r.id, name: "interop.sleep", args: [2], hostname: py });
      const query = await inspect.queryTask(r.id);
      const entry = (query?.[py] as Record<string, [string, { id: string }]> | undefined)?.[r.id];
      expect(entry?.[0]).toBe("active");
      expect(entry?.[1].id).toBe(r.id);
      await r.get({ timeout: 20_000 });
    });

    it("revoke before the countdown: the Python task never runs, REVOKED is stored", async () => {
      const py = fx.pyWorker.hostname;
      const recordKey = `record:${fx.pyQueue}`;
      const send = (tag: string, countdown: number) =>
        fx.app.sendTask("interop.record", [tag, recordKey], {}, { queue: fx.pyQueue, countdown });
      const r = await send("revoked", 2);
      const replies = await fx.app.control.revoke(r.id, { reply: true, destination: [py] });
      expect(replies).toEqual([{ [py]: { ok: `tasks {'${r.id}'} flagged as revoked` } }]);
      const after = await send("after", 3);
      await after.get({ timeout: 20_000 });
      expect(await r.state()).toBe("REVOKED");
      const redis = new Redis(fx.backend);
      try {
        expect(await redis.lrange(recordKey, 0, -1)).toEqual(["after"]);
      } finally {
        redis.disconnect();
      }
      const revoked = await fx.app.control.inspect({ destination: [py] }).revoked();
      expect(revoked?.[py]).toContain(r.id);
    });

    it("an unknown command answers Python's KeyError reply", async () => {
      const py = fx.pyWorker.hostname;
      const replies = await fx.app.control.broadcast("no_such_command", { reply: true, destination: [py] });
      expect(replies).toEqual([{ [py]: { error: "KeyError('no_such_command')" } }]);
    });

    it("mingle: the Python worker's revoked ids reach a TS worker started after it (and --without-mingle does not)", async () => {
      const py = fx.pyWorker.hostname;
      // One id revoked from TS app.control, one from Python's.
      const fromTs = uniqueName("mingled-ts");
      const fromPy = uniqueName("mingled-py");
      const replies = await fx.app.control.revoke(fromTs, { reply: true, destination: [py] });
      expect(replies).toEqual([{ [py]: { ok: `tasks {'${fromTs}'} flagged as revoked` } }]);
      await pythonJson(
        `
from interop_app import app, emit
emit(app.control.revoke(${JSON.stringify(fromPy)}, reply=True, destination=[${JSON.stringify(py)}]))
`,
        { brokerUrl: fx.broker, backendUrl: fx.backend },
      );
      const mingledName = fx.nodeName("mingled");
      const aloneName = fx.nodeName("alone");
      const mingledQueue = uniqueQueue("ops-mingled");
      await fx.startExtraWorker(mingledName, { withoutMingle: false, queue: mingledQueue });
      await fx.startExtraWorker(aloneName, { withoutMingle: true, queue: uniqueQueue("ops-alone") });
      // As TS inspect sees it...
      const revoked = await fx.app.control.inspect({ destination: [mingledName, aloneName] }).revoked();
      expect(revoked?.[mingledName]).toEqual(expect.arrayContaining([fromTs, fromPy]));
      expect(revoked?.[aloneName]).not.toContain(fromTs);
      // ...and as the celery CLI does.
      const cliRevoked = (await fx.cliJson([
        "inspect",
        "revoked",
        "-d",
        `${mingledName},${aloneName}`,
        "-j",
      ])) as Record<string, string[]>;
      expect(cliRevoked[mingledName]).toEqual(expect.arrayContaining([fromTs, fromPy]));
      expect(cliRevoked[aloneName]).not.toContain(fromPy);
      // The mingled worker acts on them: messages with those ids are discarded as REVOKED.
      const r1 = await fx.app.sendTask("ts.add", [1, 2], null, { queue: mingledQueue, taskId: fromTs });
      const r2 = await fx.app.sendTask("ts.add", [1, 2], null, { queue: mingledQueue, taskId: fromPy });
      const marker = await fx.app.sendTask<number>("ts.add", [3, 4], null, { queue: mingledQueue });
      expect(await marker.get({ timeout: 20_000 })).toBe(7);
      await expect(r2.get({ timeout: 20_000 })).rejects.toThrow();
      expect(await r1.state()).toBe("REVOKED");
      expect(await r2.state()).toBe("REVOKED");
      expect(ran).not.toContain(fromTs);
      expect(ran).not.toContain(fromPy);
    });

    it("app.events State follows the Python worker's heartbeats and a task to SUCCESS, then worker-offline", async () => {
      const py = fx.pyWorker.hostname;
      const state = new State();
      let receiver: RunningReceiver | null = null;
      try {
        receiver = await fx.app.events.receiver(
          { "*": (e) => state.event(e) },
          { wakeup: () => fx.app.control.heartbeat() },
        );
        const w = await until("a heartbeat from the Python worker", async () => state.workers.get(py));
        await until("the worker alive", async () => w.alive());
        expect(w.sw_ident).toBe("py-celery");
        expect(w.freq).toBeGreaterThan(0);
        const r = await fx.app.sendTask("interop.add", [20, 22], {}, { queue: fx.pyQueue });
        expect(await r.get({ timeout: 20_000 })).toBe(42);
        const task = await until("task-succeeded in State", async () => {
          const t = state.tasks.get(r.id);
          return t?.state === "SUCCESS" ? t : null;
        });
        expect(task.name).toBe("interop.add");
        expect(task.fields.result).toBe("42");
        expect(task.worker?.hostname).toBe(py);
        // The suite's last case: the worker's worker-offline reaches State.
        await fx.pyWorker.stop();
        await until("worker-offline", async () => !w.alive() && w.heartbeats.length === 0);
      } finally {
        await receiver?.close();
      }
    }, 60_000);
  });
}
