/**
 * Real Python Celery 5.7 producers → the TS worker over real Redis. Each test
 * sends with `app.send_task(...)` from Python and checks what Python's
 * `AsyncResult` reads back (values, exception classes, states).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PythonError, Reject } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let stack: TsStack;
let worker: Worker;
const queue = uniqueQueue("tsw");
const logs: string[] = [];
const attempts = new Map<string, number>();

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  stack = createTsStack({ broker, backend, resultExtended: true }, { lines: logs });
  stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
  stack.task("ts.echo", (_ctx, value: unknown) => value);
  stack.task("ts.kwargs", (ctx) => ({ kwargs: ctx.kwargs, retries: ctx.retries, id: ctx.id }));
  stack.task("ts.fail_value", () => {
    throw new PythonError("ValueError", ["bad value", 7]);
  });
  stack.task("ts.fail_type", () => {
    throw new TypeError("wrong type");
  });
  stack.task("ts.fail_custom", () => {
    class ValidationError extends Error {
      override name = "ValidationError";
    }
    throw new ValidationError("nope");
  });
  stack.task("ts.throw_string", () => {
    throw "just a string";
  });
  stack.task("ts.reject", () => {
    throw new Reject("no thanks", false);
  });
  stack.task("ts.retry_once", (ctx, value: string) => {
    const seen = (attempts.get(ctx.id) ?? 0) + 1;
    attempts.set(ctx.id, seen);
    if (ctx.retries < 1) ctx.retry({ countdown: 0.2, exc: new PythonError("KeyError", ["transient"]) });
    return `${value}:${ctx.retries}`;
  });
  worker = stack.worker({ queues: [queue], concurrency: 8, hostname: "tsw@localhost" });
  await worker.start();
});

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await stack?.close();
});

const py = <T>(code: string) =>
  pythonJson<T>(
    `
from interop_app import app, emit
from celery.result import AsyncResult
Q = ${JSON.stringify(queue)}
${code}
`,
    { brokerUrl: broker, backendUrl: backend },
  );

describe("Python producer → TS worker (Redis)", () => {
  it("returns results Python reads with AsyncResult.get()", async () => {
    const out = await py<{ value: number; state: string; meta: Record<string, unknown> }>(`
r = app.send_task("ts.add", (2, 3), queue=Q)
v = r.get(timeout=20)
meta = app.backend.get_task_meta(r.id)
emit({"value": v, "state": r.state, "meta": {k: meta.get(k) for k in ("name", "args", "kwargs", "worker", "retries", "queue")}})
`);
    expect(out.value).toBe(5);
    expect(out.state).toBe("SUCCESS");
    expect(out.meta).toEqual({
      name: "ts.add",
      args: [2, 3],
      kwargs: {},
      worker: "tsw@localhost",
      retries: 0,
      queue,
    });
  });

  it("round-trips every JSON type", async () => {
    const out = await py<{ same: boolean; types: string[] }>(`
value = {"s": "héllo ✓", "i": 2**53 - 1, "neg": -7, "f": 1.5, "t": True, "f2": False, "n": None, "l": [1, "a", None], "d": {"x": {"y": []}}}
got = app.send_task("ts.echo", (value,), queue=Q).get(timeout=20)
emit({"same": got == value, "types": sorted(type(v).__name__ for v in got.values())})
`);
    expect(out.same).toBe(true);
    expect(out.types).toEqual(["NoneType", "bool", "bool", "dict", "float", "int", "int", "list", "str"]);
  });

  it("decodes kombu type markers and big ints from Python and sends them back the same way", async () => {
    const out = await py<{ same: boolean; types: string[] }>(`
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID
value = [datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc), 2**70, UUID("12345678-1234-5678-1234-567812345678"), Decimal("1.10")]
got = app.send_task("ts.echo", (value,), queue=Q).get(timeout=20)
emit({"same": got == value, "types": [type(v).__name__ for v in got]})
`);
    expect(out.types).toEqual(["datetime", "int", "UUID", "Decimal"]);
    expect(out.same).toBe(true);
  });

  it("passes kwargs and the request to the handler", async () => {
    const out = await py<{ kwargs: Record<string, unknown>; retries: number; same_id: boolean }>(`
r = app.send_task("ts.kwargs", (), {"a": 1, "b": [2]}, queue=Q)
v = r.get(timeout=20)
emit({"kwargs": v["kwargs"], "retries": v["retries"], "same_id": v["id"] == r.id})
`);
    expect(out).toEqual({ kwargs: { a: 1, b: [2] }, retries: 0, same_id: true });
  });

  it("makes Python raise the right exception classes with their args", async () => {
    const out = await py<Record<string, [string, string, unknown[]]>>(`
out = {}
for name in ("ts.fail_value", "ts.fail_type", "ts.fail_custom", "ts.throw_string"):
    try:
        app.send_task(name, (), queue=Q).get(timeout=20)
        out[name] = ["no error", "", []]
    except Exception as e:
        out[name] = [type(e).__module__, type(e).__name__, list(e.args)]
emit(out)
`);
    expect(out["ts.fail_value"]).toEqual(["builtins", "ValueError", ["bad value", 7]]);
    expect(out["ts.fail_type"]).toEqual(["builtins", "TypeError", ["wrong type"]]);
    expect(out["ts.fail_custom"]).toEqual(["celery.exceptions", "ValidationError", ["nope"]]);
    expect(out["ts.throw_string"]).toEqual(["builtins", "Exception", ["just a string"]]);
  });

  it("stores FAILURE NotRegistered for an unknown task, as Python's worker does", async () => {
    const out = await py<{ error: [string, string, unknown[]]; state: string }>(`
r = app.send_task("ts.no_such_task", (1,), queue=Q)
try:
    r.get(timeout=20)
    err = ["none", "", []]
except Exception as e:
    err = [type(e).__module__, type(e).__name__, list(e.args)]
emit({"error": err, "state": r.state})
`);
    expect(out.state).toBe("FAILURE");
    expect(out.error).toEqual(["celery.exceptions", "NotRegistered", ["ts.no_such_task"]]);
  });

  it("retries: Python sees RETRY, then SUCCESS with the retry count", async () => {
    const out = await py<{ states: string[]; value: string; retry_meta: Record<string, unknown> | null }>(`
import json, time
r = app.send_task("ts.retry_once", ("v",), queue=Q)
states, retry_meta = [], None
deadline = time.time() + 20
while time.time() < deadline:
    raw = app.backend.get(app.backend.get_key_for_task(r.id))
    meta = json.loads(raw) if raw else {"status": "PENDING"}
    if meta["status"] not in states:
        states.append(meta["status"])
    if meta["status"] == "RETRY" and retry_meta is None:
        retry_meta = {"children": meta.get("children"), "result": meta.get("result"), "retries": meta.get("retries")}
    if meta["status"] == "SUCCESS":
        break
    time.sleep(0.02)
emit({"states": states, "value": r.get(timeout=20), "retry_meta": retry_meta})
`);
    expect(out.states).toContain("RETRY");
    expect(out.states[out.states.length - 1]).toBe("SUCCESS");
    expect(out.value).toBe("v:1");
    expect(out.retry_meta?.result).toEqual({
      exc_type: "KeyError",
      exc_message: ["transient"],
      exc_module: "builtins",
    });
    expect(out.retry_meta?.retries).toBe(0);
    const children = out.retry_meta?.children as unknown[][];
    expect(children).toHaveLength(1);
  });
});
