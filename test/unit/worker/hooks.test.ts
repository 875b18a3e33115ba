/**
 * The worker's typed hooks without a broker (issue 13 item 9): listeners run in order, an async
 * listener holds the emitter until it settles (as a Celery signal receiver blocks the tracer), a
 * throwing or rejecting listener is reported and the next one still runs, and the runner's
 * RunSignal becomes Celery's signal sequence (celery/app/trace.py build_tracer, 5.7.0).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reject, Retry } from "../../../src/worker/errors.js";
import type { WorkerRequest } from "../../../src/worker/request.js";
import type { RunSignal } from "../../../src/worker/task-hooks.js";
import { taskSignalHooks, type WorkerEventName, WorkerEvents } from "../../../src/worker/worker-events.js";

const request = {
  id: "id-1",
  name: "t.add",
  args: [2, 3],
  kwargs: { k: 1 },
  retries: 0,
  eta: null,
  expires: null,
  rootId: "id-1",
  parentId: null,
  groupId: null,
  groupIndex: null,
  origin: null,
  replyTo: null,
  correlationId: "id-1",
  headers: {},
  stamps: {},
  deliveryInfo: {
    exchange: "",
    routingKey: "q",
    priority: 0,
    redelivered: false,
    deliveryTag: "t",
    queue: "q",
  },
} as unknown as WorkerRequest;

const HOOKS: WorkerEventName[] = [
  "task-prerun",
  "task-success",
  "task-failure",
  "task-retry",
  "task-revoked",
  "task-postrun",
];

/** The hook events `signal` produces, in order, with their payloads. */
async function fired(
  signal: RunSignal,
): Promise<{ event: WorkerEventName; payload: Record<string, unknown> }[]> {
  const events = new WorkerEvents(() => undefined);
  const seen: { event: WorkerEventName; payload: Record<string, unknown> }[] = [];
  for (const event of HOOKS)
    events.on(event, (payload: unknown) => seen.push({ event, payload: payload as never }));
  const hooks = taskSignalHooks(events);
  await hooks.prerun(request);
  await hooks.settled(request, signal);
  return seen;
}

describe("WorkerEvents.emit", () => {
  it("runs sync listeners before returning and returns undefined", () => {
    const order: number[] = [];
    const events = new WorkerEvents(() => undefined);
    events.on("worker-shutdown", () => order.push(1));
    events.on("worker-shutdown", () => order.push(2));
    expect(events.emit("worker-shutdown", { hostname: "h" })).toBeUndefined();
    expect(order).toEqual([1, 2]);
  });

  it("awaits an async listener before the next one, and its promise settles after all", async () => {
    const order: string[] = [];
    const events = new WorkerEvents(() => undefined);
    events.on("worker-shutdown", async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push("slow");
    });
    events.on("worker-shutdown", () => order.push("next"));
    const pending = events.emit("worker-shutdown", { hostname: "h" });
    expect(order).toEqual([]);
    await pending;
    expect(order).toEqual(["slow", "next"]);
  });

  it("reports a throw, a rejection and a thrown non-Error, and never rejects itself", async () => {
    const errors: unknown[] = [];
    const events = new WorkerEvents((_event, err) => errors.push(err));
    const ran: string[] = [];
    events.on("worker-shutdown", () => {
      throw new Error("sync");
    });
    events.on("worker-shutdown", () => Promise.reject("a string"));
    events.on("worker-shutdown", () => ran.push("last"));
    await expect(events.emit("worker-shutdown", { hostname: "h" })).resolves.toBeUndefined();
    expect(errors.map(String)).toEqual(["Error: sync", "a string"]);
    expect(ran).toEqual(["last"]);
  });

  it("listeners always run in registration order, whichever of them are async", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), async (asyncFlags) => {
        const order: number[] = [];
        const events = new WorkerEvents(() => undefined);
        for (const [i, isAsync] of asyncFlags.entries()) {
          events.on("worker-shutdown", () =>
            isAsync ? Promise.resolve().then(() => order.push(i)) : order.push(i),
          );
        }
        await events.emit("worker-shutdown", { hostname: "h" });
        expect(order).toEqual(asyncFlags.map((_, i) => i));
      }),
    );
  });
});

describe("taskSignalHooks: Celery's signal order and arguments", () => {
  it("success: prerun(args, kwargs), success(result), postrun(retval, SUCCESS)", async () => {
    const seen = await fired({ kind: "success", result: 5, postrun: { state: "SUCCESS", retval: 5 } });
    expect(seen.map((s) => s.event)).toEqual(["task-prerun", "task-success", "task-postrun"]);
    expect(seen[0]?.payload).toMatchObject({ id: "id-1", name: "t.add", args: [2, 3], kwargs: { k: 1 } });
    expect(seen[1]?.payload).toMatchObject({ result: 5, request: { id: "id-1", retries: 0 } });
    expect(seen[2]?.payload).toMatchObject({ retval: 5, state: "SUCCESS", args: [2, 3] });
  });

  it("failure: the thrown value as is, then postrun FAILURE", async () => {
    const thrown = "plain string";
    const seen = await fired({
      kind: "failure",
      exception: thrown,
      traceback: "tb",
      afterPostrun: false,
      postrun: { state: "FAILURE", retval: thrown },
    });
    expect(seen.map((s) => s.event)).toEqual(["task-prerun", "task-failure", "task-postrun"]);
    expect(seen[1]?.payload).toMatchObject({ exception: thrown, traceback: "tb", args: [2, 3] });
  });

  it("Reject(requeue=false): postrun REJECTED, then task_failure (Request.on_failure in the parent)", async () => {
    const reject = new Reject("no", false);
    const seen = await fired({
      kind: "failure",
      exception: reject,
      traceback: "",
      afterPostrun: true,
      postrun: { state: "REJECTED", retval: reject },
    });
    expect(seen.map((s) => s.event)).toEqual(["task-prerun", "task-postrun", "task-failure"]);
  });

  it("retry: task_retry(reason = the Retry) then postrun RETRY", async () => {
    const retry = new Retry({}, 0);
    const seen = await fired({
      kind: "retry",
      reason: retry,
      traceback: "",
      postrun: { state: "RETRY", retval: retry },
    });
    expect(seen.map((s) => s.event)).toEqual(["task-prerun", "task-retry", "task-postrun"]);
    expect(seen[1]?.payload.reason).toBe(retry);
  });

  it("terminated and hard time limit: no postrun (the pool process is gone)", async () => {
    const terminated = await fired({ kind: "terminated", signum: 9, postrun: null });
    expect(terminated.map((s) => s.event)).toEqual(["task-prerun", "task-revoked"]);
    expect(terminated[1]?.payload).toMatchObject({ terminated: true, signum: 9, expired: false });
    const timeout = await fired({
      kind: "failure",
      exception: new Error("limit"),
      traceback: "",
      afterPostrun: false,
      postrun: null,
    });
    expect(timeout.map((s) => s.event)).toEqual(["task-prerun", "task-failure"]);
  });

  it("ignored: postrun IGNORED only", async () => {
    const seen = await fired({ kind: "none", postrun: { state: "IGNORED", retval: null } });
    expect(seen.map((s) => s.event)).toEqual(["task-prerun", "task-postrun"]);
  });
});
