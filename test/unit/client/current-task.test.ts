import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import {
  addTrail,
  currentWorkerTask,
  runAsWorkerTask,
  withoutTrail,
} from "../../../src/client/current-task.js";

const app = (extra: Record<string, unknown> = {}) =>
  new Celery({ broker: "redis://127.0.0.1:1/0", ...extra });
const frame = (priority: number | null = null) => ({
  id: "parent-1",
  rootId: "root-1",
  priority,
  children: [],
});

describe("current worker task (celery/app/base.py send_task with current_worker_task)", () => {
  it("outside a task: no parent, root = the task's own id", () => {
    const { taskMessage } = app().prepareTask("t.x", [], {}, { taskId: "child" });
    expect([taskMessage.headers.parent_id, taskMessage.headers.root_id]).toEqual([null, "child"]);
    expect(currentWorkerTask()).toBeNull();
  });

  it("inside one: parent = the running task, root = its root (or itself); explicit ids win", async () => {
    const a = app();
    await runAsWorkerTask(frame(), async () => {
      await Promise.resolve();
      const { headers } = a.prepareTask("t.x", [], {}, { taskId: "child" }).taskMessage;
      expect([headers.parent_id, headers.root_id]).toEqual(["parent-1", "root-1"]);
      const explicit = a.prepareTask("t.x", [], {}, { parentId: "p", rootId: "r" }).taskMessage.headers;
      expect([explicit.parent_id, explicit.root_id]).toEqual(["p", "r"]);
    });
    runAsWorkerTask({ ...frame(), rootId: null }, () => {
      expect(a.prepareTask("t.x", [], {}).taskMessage.headers.root_id).toBe("parent-1");
    });
  });

  it("priority only with taskInheritParentPriority, and an explicit one wins", () => {
    runAsWorkerTask(frame(7), () => {
      expect(app().prepareTask("t.x", [], {}).taskMessage.properties.priority).toBe(0);
      const inheriting = app({ taskInheritParentPriority: true });
      expect(inheriting.prepareTask("t.x", [], {}).taskMessage.properties.priority).toBe(7);
      expect(inheriting.prepareTask("t.x", [], {}, { priority: 2 }).taskMessage.properties.priority).toBe(2);
    });
  });

  it("add_trail: each concurrent task keeps its own children; a canvas suppresses its members'", async () => {
    const one = frame();
    const two = { ...frame(), id: "parent-2" };
    await Promise.all([
      runAsWorkerTask(one, async () => {
        await new Promise((r) => setTimeout(r, 5));
        addTrail("a");
      }),
      runAsWorkerTask(two, async () => {
        addTrail("b");
        await withoutTrail(async () => addTrail("member"));
      }),
    ]);
    expect(one.children).toEqual(["a"]);
    expect(two.children).toEqual(["b"]);
    addTrail("outside");
  });
});
