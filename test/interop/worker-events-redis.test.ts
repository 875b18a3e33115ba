/**
 * The worker's typed event map (`worker.on("task-succeeded", ...)`, issue 12 item 4) on a real
 * Redis broker: each task's events in Celery's order, a revoked (expired) task only as revoked,
 * tasks sent by Python fire the same events, and an observer that throws changes nothing.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { Celery } from "../../src/app.js";
import { createLogger } from "../../src/logging.js";
import { createWorker } from "../../src/worker/app-hooks.js";
import type { Worker } from "../../src/worker/worker.js";
import type { WorkerEventMap, WorkerEventName } from "../../src/worker/worker-events.js";
import { pythonJson } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let worker: Worker;
const queue = uniqueQueue("tsevents");
const hostname = `tsevents-${process.pid}@localhost`;
const seen: { event: WorkerEventName; payload: unknown }[] = [];

const TASK_EVENTS: WorkerEventName[] = [
  "task-received",
  "task-started",
  "task-prerun",
  "task-success",
  "task-failure",
  "task-retry",
  "task-succeeded",
  "task-failed",
  "task-retried",
  "task-revoked",
  "task-postrun",
];

/** The last event of a run: the task event sent once the message is settled, or task-revoked. */
const LAST_EVENTS: WorkerEventName[] = ["task-succeeded", "task-failed", "task-retried", "task-revoked"];

/** The events recorded for one task id, in order. */
function eventsOf(id: string): WorkerEventName[] {
  return seen.filter((e) => (e.payload as { id?: string }).id === id).map((e) => e.event);
}

/** The payload of `event` for task `id`; fails the test when there is none. */
function payloadOf<K extends WorkerEventName>(event: K, id: string): WorkerEventMap[K][0] {
  const found = seen.find((e) => e.event === event && (e.payload as { id?: string }).id === id);
  if (found === undefined) throw new Error(`no ${event} for ${id}`);
  return found.payload as WorkerEventMap[K][0];
}

/** The events of `id` once its last one came, polled with a bound. */
async function settled(id: string): Promise<WorkerEventName[]> {
  for (let i = 0; i < 200 && !eventsOf(id).some((e) => LAST_EVENTS.includes(e)); i++)
    await new Promise((r) => setTimeout(r, 25));
  return eventsOf(id);
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  app = new Celery({ broker, backend, taskDefaultQueue: queue });
  app.task("ts.events.ok", () => undefined);
  app.task("ts.events.fail", () => {
    throw "plain string";
  });
  app.task("ts.add", (_ctx, a: number, b: number) => a + b);
  worker = app.worker({
    queues: [queue],
    hostname,
    concurrency: 2,
    withoutMingle: true,
    remoteControl: false,
  });
  for (const event of ["worker-ready", "worker-shutdown", ...TASK_EVENTS] as WorkerEventName[]) {
    worker.on(event, (payload: unknown) => seen.push({ event, payload }));
  }
  await worker.start();
}, 60_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 5_000 });
  await app?.close();
});

describe("worker.on: the typed worker event map", () => {
  it("types each event's payload", () => {
    worker.on("task-succeeded", (e) => {
      expectTypeOf(e.runtime).toEqualTypeOf<number>();
      expectTypeOf(e.resultRepr).toEqualTypeOf<string>();
    });
    worker.on("task-revoked", (e) => expectTypeOf(e.expired).toEqualTypeOf<boolean>());
    worker.on("consumer-error", (err) => expectTypeOf(err).toEqualTypeOf<Error>());
    expectTypeOf<WorkerEventMap["task-failed"][0]["traceback"]>().toEqualTypeOf<string>();
  });

  it("worker-ready came once, before any task event", () => {
    expect(seen[0]).toEqual({ event: "worker-ready", payload: { hostname, queues: [queue] } });
  });

  it("a task that returns undefined: received, started, prerun, success, postrun, succeeded", async () => {
    const r = await app.sendTask("ts.events.ok");
    expect(await r.get({ timeout: 10_000 })).toBeNull();
    expect(await settled(r.id)).toEqual([
      "task-received",
      "task-started",
      "task-prerun",
      "task-success",
      "task-postrun",
      "task-succeeded",
    ]);
    expect(payloadOf("task-success", r.id)).toMatchObject({ id: r.id, result: undefined });
    expect(payloadOf("task-postrun", r.id)).toMatchObject({ state: "SUCCESS", args: [], kwargs: {} });
    const succeeded = payloadOf("task-succeeded", r.id);
    expect(succeeded).toMatchObject({ id: r.id, name: "ts.events.ok", resultRepr: "None" });
    expect(succeeded.runtime).toBeGreaterThanOrEqual(0);
  });

  it("a thrown string: task-failed with its repr and a runtime", async () => {
    const r = await app.sendTask("ts.events.fail");
    await expect(r.get({ timeout: 10_000 })).rejects.toThrow();
    expect(await settled(r.id)).toEqual([
      "task-received",
      "task-started",
      "task-prerun",
      "task-failure",
      "task-postrun",
      "task-failed",
    ]);
    // task_failure gets what was thrown, as is; postrun's retval too.
    expect(payloadOf("task-failure", r.id).exception).toBe("plain string");
    expect(payloadOf("task-postrun", r.id)).toMatchObject({ state: "FAILURE", retval: "plain string" });
    const failed = payloadOf("task-failed", r.id);
    expect(failed.exceptionRepr).toContain("plain string");
    expect(failed.runtime).toBeGreaterThanOrEqual(0);
  });

  it("an expired task is only revoked (expired), as strategy.py drops it before task-received", async () => {
    const r = await app.sendTask("ts.events.ok", [], {}, { expires: new Date(Date.now() - 60_000) });
    expect(await settled(r.id)).toEqual(["task-revoked"]);
    expect(payloadOf("task-revoked", r.id)).toMatchObject({
      id: r.id,
      name: "ts.events.ok",
      expired: true,
      terminated: false,
      signum: null,
      request: { id: r.id, name: "ts.events.ok", args: [], kwargs: {} },
    });
  });

  it("a task sent by Python fires the same events", async () => {
    const sent = (await pythonJson(
      `
from interop_app import app, emit
r = app.send_task("ts.add", (2, 3), queue=${JSON.stringify(queue)})
emit({"id": r.id, "result": r.get(timeout=20)})
`,
      { brokerUrl: broker, backendUrl: backend },
    )) as { id: string; result: number };
    expect(sent.result).toBe(5);
    expect(await settled(sent.id)).toEqual([
      "task-received",
      "task-started",
      "task-prerun",
      "task-success",
      "task-postrun",
      "task-succeeded",
    ]);
    expect(payloadOf("task-prerun", sent.id)).toMatchObject({ args: [2, 3], kwargs: {} });
    expect(payloadOf("task-success", sent.id).result).toBe(5);
  });

  it("an observer that throws is logged and the task still runs", async () => {
    const lines: string[] = [];
    const quiet = new Celery({ broker, backend, taskDefaultQueue: `${queue}-throw` });
    quiet.task("ts.events.ok", () => 7);
    const logger = createLogger({
      level: "error",
      destination: { write: (line: string) => lines.push(line) },
    });
    const w = createWorker(
      {
        settings: quiet.settings,
        registry: quiet.registry,
        transport: quiet.transport,
        backend: quiet.backend,
        logger,
      },
      {
        queues: [`${queue}-throw`],
        hostname: `throw-${hostname}`,
        withoutMingle: true,
        remoteControl: false,
      },
    );
    w.on("task-received", () => {
      throw new Error("observer broke");
    });
    await w.start();
    try {
      const r = await quiet.sendTask("ts.events.ok");
      expect(await r.get({ timeout: 10_000 })).toBe(7);
      expect(lines.join("\n")).toContain("worker event listener for task-received raised");
    } finally {
      await w.close({ timeoutMs: 5_000 });
      await quiet.close();
    }
  });

  it("worker-shutdown comes after close", async () => {
    const w = app.worker({ queues: [`${queue}-idle`], hostname: `idle-${hostname}`, withoutMingle: true });
    const order: string[] = [];
    w.on("worker-ready", () => order.push("ready"));
    w.on("worker-shutdown", (e) => order.push(`shutdown ${e.hostname}`));
    await w.start();
    await w.close({ timeoutMs: 1_000 });
    expect(order).toEqual(["ready", `shutdown idle-${hostname}`]);
  });
});
