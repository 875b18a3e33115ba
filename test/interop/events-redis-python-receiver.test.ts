/**
 * TS events read by Python's own `EventReceiver` + `State` (Celery 5.7) on
 * real Redis: a TS dispatcher with the worker's Heart and task events
 * (batched as task.multi), and task-sent from the TS producer. Python's State
 * must see the TS worker online with its heartbeat fields, then offline, and
 * the task with its final state and fields.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { compatProfile } from "../../src/compat.js";
import { EventDispatcher } from "../../src/events/dispatcher.js";
import { Heart } from "../../src/events/heartbeat.js";
import { brokerEventSink } from "../../src/events/sink.js";
import { taskEventFields } from "../../src/events/task-events.js";
import { runPython } from "../support/celery.js";
import { redisBrokerOf } from "../support/redis-broker.js";
import { allocateRedisDb } from "../support/services.js";

let broker: string;
let app: Celery;
const hostname = `tsev-${process.pid}@localhost`;

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  app = new Celery({ broker, taskSendSentEvent: true });
});

afterAll(async () => {
  await app?.close();
});

/** Python: capture events into State until the task is SUCCESS and the worker went offline; print JSON. */
const CAPTURE = `
import json, sys, time
from interop_app import app
from celery.events.state import State
state = State()
seen = []
done = {"v": False}
def on_event(event):
    seen.append(event["type"])
    state.event(event)
    w = state.workers.get(HOST)
    t = state.tasks.get(TASK)
    if w is not None and event["type"] == "worker-online":
        snap["online"] = {"alive": w.alive, "sw_ident": w.sw_ident, "sw_ver": w.sw_ver, "sw_sys": w.sw_sys, "freq": w.freq, "active": w.active, "processed": w.processed, "loadavg": list(w.loadavg or []), "utcoffset_type": type(event["utcoffset"]).__name__}
    if event["type"] == "worker-offline":
        snap["offline_alive"] = state.workers.get(HOST).alive if state.workers.get(HOST) else False
        done["v"] = True
    if t is not None and t.state == "SUCCESS":
        snap["task"] = {"state": t.state, "name": t.name, "args": t.args, "kwargs": t.kwargs, "result": t.result, "runtime": t.runtime, "worker": t.worker.hostname if t.worker else None, "client": t.client, "received": t.received is not None, "started": t.started is not None}
snap = {}
print("READY", flush=True)
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    deadline = time.time() + 30
    for _ in recv.itercapture(limit=None, timeout=30, wakeup=False):
        if done["v"] or time.time() > deadline:
            break
snap["types"] = seen
print(json.dumps(snap), flush=True)
`;

describe("Python EventReceiver + State <- TS events (Redis)", () => {
  it("tracks the TS worker (online, heartbeats, offline) and its task", async () => {
    const sink = brokerEventSink(app.transport, app.settings);
    const d = new EventDispatcher({ hostname, sink, compat: compatProfile("5.7"), bufferGroups: ["task"] });
    let processed = 0;
    const heart = new Heart(d, { active: () => 0, processed: () => processed }, 0.5);
    const taskId = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    const py = runPython(`HOST = ${JSON.stringify(hostname)}\nTASK = ${JSON.stringify(taskId)}\n${CAPTURE}`, {
      brokerUrl: broker,
    });
    // Wait for the Python receiver to subscribe (its PSUBSCRIBE shows in PUBSUB NUMPAT).
    for (let i = 0; i < 200 && Number(await redisBrokerOf(app).client.pubsub("NUMPAT")) < 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    heart.start();
    const source = {
      id: taskId,
      name: "ts.add",
      argsrepr: "(2, 3)",
      kwargsrepr: "{}",
      rootId: taskId,
      parentId: null,
      retries: 0,
      headers: {},
    };
    // task-sent from the TS producer (taskSendSentEvent), as a Python client would send it.
    await app.sendTask("ts.add", [2, 3], {}, { taskId, queue: "events-nobody" });
    d.send("task-received", taskEventFields.received(source));
    d.send("task-started", taskEventFields.started(source));
    d.send("task-succeeded", taskEventFields.succeeded(source, "5", 0.25));
    processed = 1;
    await new Promise((r) => setTimeout(r, 1200));
    heart.close();
    await d.drain();
    const run = await py;
    const last = run.stdout.trim().split("\n").at(-1) ?? "{}";
    const snap = JSON.parse(last) as {
      online: Record<string, unknown>;
      offline_alive: boolean;
      task: Record<string, unknown>;
      types: string[];
    };
    expect(snap.online).toMatchObject({
      alive: true,
      sw_ident: "celeriac",
      sw_sys: "Linux",
      freq: 0.5,
      active: 0,
      processed: 0,
      utcoffset_type: "float",
    });
    expect(snap.online.loadavg).toHaveLength(3);
    expect(snap.task).toEqual({
      state: "SUCCESS",
      name: "ts.add",
      args: "(2, 3)",
      kwargs: "{}",
      result: "5",
      runtime: 0.25,
      worker: hostname,
      client: app.origin,
      received: true,
      started: true,
    });
    expect(snap.types).toContain("worker-heartbeat");
    expect(snap.types.at(-1)).toBe("worker-offline");
    expect(snap.offline_alive).toBe(false);
  }, 60_000);
});
