/**
 * Results and exceptions exactly as Celery stores them (issue 11 items 1 and 2), read by a
 * Python `AsyncResult.get()`, and compared with what a real Python worker stored for the same
 * case in the same run:
 * - a handler that returns nothing (async and sync) stores `"result": null`, as Python's None;
 * - a BigInt crosses both ways as a Python int (JSON, and msgpack on its own stack);
 * - a result the serializer cannot encode (circular, a function, a symbol) stores FAILURE
 *   EncodeError in the shape Celery's tracer stores, and the message is settled;
 * - an exception whose args cannot be encoded is stored with their reprs (ensure_serializable);
 * - after all of it, with acksLate, nothing is left in `unacked` and the worker still runs tasks.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let stack: TsStack;
let msgpackStack: TsStack;
let worker: Worker;
let msgpackWorker: Worker;
let pyWorker: CeleryWorker;
let redis: Redis;
const lines: string[] = [];
const tsQueue = uniqueQueue("results-ts");
const tsMsgpackQueue = uniqueQueue("results-ts-msgpack");
const pyQueue = uniqueQueue("results-py");

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { name: "loop" };
  value.self = value;
  return value;
}

function registerTasks(s: TsStack): void {
  s.task("ts.send_email", async (_ctx, _to: string) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  s.task("ts.sync_nothing", () => undefined);
  s.task("ts.echo", (_ctx, value: unknown) => value);
  s.task("ts.big", () => 2n ** 70n + 1n);
  s.task("ts.circular", () => circular());
  s.task("ts.function", () => ({ callback: () => 1 }));
  s.task("ts.symbol", () => Symbol("nope"));
  s.task("ts.bad_exc_args", () => {
    throw new PythonError("ValueError", ["bad", circular()]);
  });
  s.task("ts.throws_string", () => {
    throw "plain string";
  });
}

/** Python: send `name(args)` to `queue`, get() it; emits {ok, value} or {ok: false, type, module, args}. */
function pythonGet(name: string, args: unknown[], queue: string, serializer: "json" | "msgpack" = "json") {
  return pythonJson<{
    ok: boolean;
    value?: unknown;
    type?: string;
    module?: string;
    args?: unknown[];
    status: string;
    keys: string[];
  }>(
    `
import json
from interop_app import app, emit
args = json.loads(${JSON.stringify(JSON.stringify(args))})
r = app.send_task(${JSON.stringify(name)}, args, queue=${JSON.stringify(queue)}, serializer=${JSON.stringify(serializer)})
try:
    value = r.get(timeout=30)
    out = {"ok": True, "value": value}
except Exception as exc:
    out = {"ok": False, "type": type(exc).__name__, "module": type(exc).__module__,
           "args": [a if isinstance(a, (str, int, float)) else repr(a) for a in exc.args]}
out["status"] = r.status
out["keys"] = sorted(app.backend.decode(app.backend.client.get(app.backend.get_key_for_task(r.id))).keys())
emit(out)
`,
    { brokerUrl: broker, backendUrl: backend, serializer },
  );
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  redis = new Redis(broker);
  stack = createTsStack({ broker, backend, taskAcksLate: true, resultExtended: true }, { lines });
  registerTasks(stack);
  worker = stack.worker({ queues: [tsQueue], concurrency: 4, prefetchMultiplier: 1 });
  msgpackStack = createTsStack(
    {
      broker,
      backend,
      taskAcksLate: true,
      resultExtended: true,
      resultSerializer: "msgpack",
      acceptContent: ["json", "msgpack"],
    },
    { lines },
  );
  registerTasks(msgpackStack);
  msgpackWorker = msgpackStack.worker({ queues: [tsMsgpackQueue], concurrency: 2 });
  [pyWorker] = await Promise.all([
    startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [pyQueue] }),
    worker.start(),
    msgpackWorker.start(),
  ]);
}, 120_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await msgpackWorker?.close({ timeoutMs: 5000 });
  await stack?.close();
  await msgpackStack?.close();
  await pyWorker?.stop();
  redis?.disconnect();
});

describe("a handler that returns nothing", () => {
  it("stores result null like a Python task returning None; get() returns None", async () => {
    const [asyncTs, syncTs, python] = await Promise.all([
      pythonGet("ts.send_email", ["a@example.com"], tsQueue),
      pythonGet("ts.sync_nothing", [], tsQueue),
      pythonGet("interop.unencodable", ["none"], pyQueue),
    ]);
    expect(python).toMatchObject({ ok: true, value: null, status: "SUCCESS" });
    expect(asyncTs).toEqual(python);
    expect(syncTs).toEqual(python);
    expect(asyncTs.keys).toContain("result");
  });
});

describe("BigInt is a Python int both ways", () => {
  it("round-trips 2**70 + 1 exactly (JSON) and a TS BigInt result reads as a Python int", async () => {
    const exact = await pythonJson<{ echoed: string; big: string; bigType: string }>(
      `
from interop_app import app, emit
n = 2**70 + 1
echoed = app.send_task("ts.echo", (n,), queue=${JSON.stringify(tsQueue)}).get(timeout=30)
big = app.send_task("ts.big", (), queue=${JSON.stringify(tsQueue)}).get(timeout=30)
assert echoed == n, echoed
emit({"echoed": str(echoed), "big": str(big), "bigType": type(big).__name__})
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(exact).toEqual({ echoed: String(2n ** 70n + 1n), big: String(2n ** 70n + 1n), bigType: "int" });
  });

  it("round-trips 2**63 + 1 exactly with msgpack", async () => {
    const exact = await pythonJson<{ echoed: string; type: string }>(
      `
from interop_app import app, emit
n = 2**63 + 1
echoed = app.send_task("ts.echo", (n,), queue=${JSON.stringify(tsMsgpackQueue)}, serializer="msgpack").get(timeout=30)
assert echoed == n, echoed
emit({"echoed": str(echoed), "type": type(echoed).__name__})
`,
      { brokerUrl: broker, backendUrl: backend, serializer: "msgpack" },
    );
    expect(exact).toEqual({ echoed: String(2n ** 63n + 1n), type: "int" });
  });

  it("a BigInt beyond msgpack's 64 bits stores FAILURE EncodeError, as Python's msgpack refuses it", async () => {
    const [ts, python] = await Promise.all([
      pythonGet("ts.big", [], tsMsgpackQueue, "msgpack"),
      pythonJson<{ type: string; module: string }>(
        `
from interop_app import app, emit
try:
    app.backend.encode(2**70 + 1)
except Exception as exc:
    emit({"type": type(exc).__name__, "module": type(exc).__module__})
`,
        { brokerUrl: broker, backendUrl: backend, serializer: "msgpack" },
      ),
    ]);
    expect(ts).toMatchObject({ ok: false, status: "FAILURE", type: python.type, module: python.module });
  });
});

describe("a result that cannot be encoded", () => {
  it("stores FAILURE EncodeError in the shape a Python worker stores for its own", async () => {
    const [python, tsCircular, tsFunction, tsSymbol] = await Promise.all([
      pythonGet("interop.unencodable", ["circular"], pyQueue),
      pythonGet("ts.circular", [], tsQueue),
      pythonGet("ts.function", [], tsQueue),
      pythonGet("ts.symbol", [], tsQueue),
    ]);
    expect(python).toMatchObject({ ok: false, status: "FAILURE", type: "EncodeError" });
    for (const ts of [tsCircular, tsFunction, tsSymbol]) {
      expect(ts.ok).toBe(false);
      expect(ts.status).toBe(python.status);
      expect(ts.type).toBe(python.type);
      expect(ts.module).toBe(python.module);
      expect(ts.keys).toEqual(python.keys);
      expect(ts.args).toHaveLength(python.args?.length ?? -1);
      expect(typeof ts.args?.[0]).toBe("string");
    }
    // A cycle is json's ValueError on both sides; the other kinds are TypeErrors.
    expect(String(python.args?.[0])).toMatch(/^ValueError\('Circular reference detected'\)$/);
    expect(String(tsCircular.args?.[0])).toMatch(/^ValueError\('.*Circular reference detected'\)$/);
    expect(String(tsFunction.args?.[0])).toMatch(/^TypeError\(/);
  });
});

describe("an exception whose args cannot be encoded", () => {
  it("is stored with the arg's repr, as ensure_serializable does for a Python task", async () => {
    const [python, ts] = await Promise.all([
      pythonGet("interop.bad_exc_args", [], pyQueue),
      pythonGet("ts.bad_exc_args", [], tsQueue),
    ]);
    expect(python).toMatchObject({ ok: false, type: "ValueError", module: "builtins", status: "FAILURE" });
    expect(ts).toMatchObject({ ok: false, type: python.type, module: python.module, status: "FAILURE" });
    expect(ts.args?.[0]).toBe(python.args?.[0]);
    expect(typeof python.args?.[1]).toBe("string");
    // saferepr of the cycle (Python's repr would print `{...}` where saferepr names the recursion).
    expect(ts.args?.[1]).toMatch(/^\{'name': 'loop', 'self': .*\}$/);
  });

  it("a thrown string is stored as Exception('plain string')", async () => {
    const ts = await pythonGet("ts.throws_string", [], tsQueue);
    expect(ts).toMatchObject({ ok: false, type: "Exception", args: ["plain string"], status: "FAILURE" });
  });
});

describe("every message settled", () => {
  it("leaves nothing unacked (acksLate) and the worker keeps running tasks", async () => {
    const after = await pythonGet("ts.echo", [{ still: "alive" }], tsQueue);
    expect(after).toMatchObject({ ok: true, value: { still: "alive" } });
    // The ack of the last run is written right after its result; give the broker a moment.
    let unacked = -1;
    for (let i = 0; i < 50 && unacked !== 0; i++) {
      unacked = await redis.hlen("unacked");
      if (unacked !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(unacked).toBe(0);
    expect(lines.join("\n")).not.toMatch(/internal error|Unrecoverable/);
  });
});
