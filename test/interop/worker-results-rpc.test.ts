/**
 * Results as Celery stores them on the rpc:// backend over RabbitMQ (issue 11 item 2): a TS
 * worker (Celery facade, amqp broker, rpc:// backend) answers a Python producer whose
 * `AsyncResult.get()` reads the reply from its own reply queue:
 * - a handler that returns nothing replies `result: null` (Python's None);
 * - a BigInt crosses both ways as a Python int;
 * - an unencodable result replies FAILURE EncodeError, as a Python worker's reply does;
 * - `ctx.updateState("PROGRESS", ...)` reaches the caller's reply queue as `update_state` does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { Ignore } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { amqpUrl, uniqueQueue } from "../support/services.js";

let broker: string;
let app: Celery;
let worker: Worker;
let pyWorker: CeleryWorker;
const tsQueue = uniqueQueue("rpc-results-ts");
const pyQueue = uniqueQueue("rpc-results-py");

beforeAll(async () => {
  broker = await amqpUrl();
  app = new Celery({ broker, backend: "rpc://", taskAcksLate: true });
  app.task("ts.send_email", async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  app.task("ts.echo", (_ctx, value: unknown) => value);
  // The TS twin of request_tasks.progress: PROGRESS through Task.update_state, then Ignore.
  app.task("req.progress", async (ctx, total: number) => {
    await ctx.updateState("PROGRESS", { current: 1, total });
    throw new Ignore();
  });
  app.task("ts.big", () => 2n ** 70n + 1n);
  app.task("ts.circular", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    return loop;
  });
  worker = app.worker({ queues: [tsQueue], concurrency: 4, handleSignals: false });
  [pyWorker] = await Promise.all([
    startCeleryWorker({
      brokerUrl: broker,
      backendUrl: "rpc://",
      queues: [pyQueue],
      config: { imports: ["request_tasks"] },
    }),
    worker.start(),
  ]);
}, 120_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await app?.close();
  await pyWorker?.stop();
});

describe("TS worker replies on rpc:// read by Python AsyncResult.get()", () => {
  it("nothing returned is None, BigInt is an int both ways, unencodable is FAILURE EncodeError like Python's", async () => {
    const out = await pythonJson<{
      nothing: unknown[];
      pyNothing: unknown[];
      echoed: string;
      big: [string, string];
      circular: unknown[];
      pyCircular: unknown[];
    }>(
      `
from interop_app import app, emit

def outcome(r):
    try:
        value = r.get(timeout=30)
        return ["ok", r.status, value]
    except Exception as exc:
        return ["error", r.status, type(exc).__module__, type(exc).__name__, len(exc.args), str(exc.args[0])[:11]]

TS, PY = ${JSON.stringify(tsQueue)}, ${JSON.stringify(pyQueue)}
n = 2**70 + 1
echoed = app.send_task("ts.echo", (n,), queue=TS).get(timeout=30)
assert echoed == n, echoed
big = app.send_task("ts.big", (), queue=TS).get(timeout=30)
emit({
    "nothing": outcome(app.send_task("ts.send_email", ("a@example.com",), queue=TS)),
    "pyNothing": outcome(app.send_task("interop.unencodable", ("none",), queue=PY)),
    "echoed": str(echoed),
    "big": [type(big).__name__, str(big)],
    "circular": outcome(app.send_task("ts.circular", (), queue=TS)),
    "pyCircular": outcome(app.send_task("interop.unencodable", ("circular",), queue=PY)),
})
`,
      { brokerUrl: broker, backendUrl: "rpc://" },
    );
    expect(out.pyNothing).toEqual(["ok", "SUCCESS", null]);
    expect(out.nothing).toEqual(out.pyNothing);
    expect(out.echoed).toBe(String(2n ** 70n + 1n));
    expect(out.big).toEqual(["int", String(2n ** 70n + 1n)]);
    expect(out.pyCircular).toEqual(["error", "FAILURE", "kombu.exceptions", "EncodeError", 1, "ValueError("]);
    expect(out.circular).toEqual(out.pyCircular);
  });

  it("ctx.updateState publishes PROGRESS to the caller's reply queue: Python reads state and info as from a Python worker", async () => {
    const out = await pythonJson<Record<string, { state: string; info: unknown }>>(
      `
import time
from interop_app import app, emit
out = {}
for side, queue in (("py", ${JSON.stringify(pyQueue)}), ("ts", ${JSON.stringify(tsQueue)})):
    r = app.send_task("req.progress", (4,), queue=queue)
    deadline = time.monotonic() + 20
    while r.state == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.05)
    out[side] = {"state": r.state, "info": r.info}
emit(out)
`,
      { brokerUrl: broker, backendUrl: "rpc://" },
    );
    expect(out.py).toEqual({ state: "PROGRESS", info: { current: 1, total: 4 } });
    expect(out.ts).toEqual(out.py);
  });
});
