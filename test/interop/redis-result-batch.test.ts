/**
 * The Redis result backend writes the results of one event-loop turn together (issue 17 item 1):
 * one script call checks the whole batch for a stored SUCCESS and carries every SETEX+PUBLISH
 * pair, seen with Redis MONITOR (which also lists the commands a script runs, from source "lua"). Celery's semantics are compared with what Python's own
 * `backend.store_result` does in the same run: a stored SUCCESS is never overwritten (stored by
 * Python, or earlier in the same batch), and Python reads every batched result.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { ResultBackend, ResultMetaRecord } from "../../src/backends/backend.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb } from "../support/services.js";

let backendUrl: string;
let app: Celery;
let backend: ResultBackend;
let redis: Redis;
let monitor: Redis;
/** Commands MONITOR saw: their arguments and whether a script ran them. */
const seen: Array<{ args: string[]; lua: boolean }> = [];

function meta(taskId: string, status: string, result: unknown): ResultMetaRecord {
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: "2026-01-01T00:00:00.000000+00:00",
    task_id: taskId,
  };
}

function id(label: string): string {
  return `batch-${label}-${Math.random().toString(36).slice(2)}`;
}

/** The commands MONITOR saw up to (excluding) a marker sent after `action` settled. */
async function commandsDuring(action: () => Promise<void>): Promise<Array<{ args: string[]; lua: boolean }>> {
  seen.length = 0;
  await action();
  const marker = id("marker");
  await redis.echo(marker);
  await waitUntil("MONITOR to see the marker", async () => seen.some((c) => c.args[1] === marker), {
    timeoutMs: 10_000,
  });
  return seen.slice(
    0,
    seen.findIndex((c) => c.args[1] === marker),
  );
}

beforeAll(async () => {
  const allocated = await allocateRedisDb();
  backendUrl = allocated.url;
  app = new Celery({ broker: backendUrl, backend: backendUrl });
  const b = app.backend;
  if (!b) throw new Error("the app has no backend");
  backend = b;
  redis = new Redis(backendUrl);
  monitor = await new Redis(backendUrl).monitor();
  monitor.on("monitor", (_time: string, args: string[], source: string, database: string) => {
    if (Number(database) === allocated.db) seen.push({ args, lua: source === "lua" });
  });
  // The first store of a server that has not cached the script yet loads it (EVALSHA refused,
  // then EVAL): done here, so the counts below are those of every later flush.
  // MONITOR lags behind: wait for it to pass the warm-up before any test starts counting.
  await commandsDuring(() =>
    backend.storeResult(meta(id("warm-up"), "SUCCESS", 0), { replyTo: null, correlationId: null }),
  );
});

afterAll(async () => {
  monitor?.disconnect();
  redis?.disconnect();
  await app?.close();
});

describe("Redis backend: the results of one turn are written together", () => {
  it("40 results asked for in one turn: one script call runs 40 GET + SETEX + PUBLISH; Python reads them", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => id(String(i)));
    const commands = await commandsDuring(async () => {
      await Promise.all(
        ids.map((taskId, i) =>
          backend.storeResult(meta(taskId, "SUCCESS", i), { replyTo: null, correlationId: null }),
        ),
      );
    });
    const sent = commands.filter((c) => !c.lua).map((c) => c.args[0]?.toLowerCase());
    expect(sent).toEqual(["evalsha"]);
    const call = commands.find((c) => !c.lua)?.args ?? [];
    expect(call[2]).toBe("40");
    expect(call.slice(3, 43)).toEqual(ids.map((taskId) => `celery-task-meta-${taskId}`));
    const scripted = commands.filter((c) => c.lua).map((c) => [c.args[0]?.toLowerCase(), c.args[1]]);
    expect(scripted).toEqual(
      ids.flatMap((taskId) => {
        const key = `celery-task-meta-${taskId}`;
        return [
          ["get", key],
          ["setex", key],
          ["publish", key],
        ];
      }),
    );

    const read = await pythonJson<unknown[]>(
      `
from interop_app import app, emit
emit([app.AsyncResult(i).get(timeout=10) for i in ${JSON.stringify(ids)}])
`,
      { brokerUrl: backendUrl, backendUrl },
    );
    expect(read).toEqual(ids.map((_, i) => i));
  });

  it("a SUCCESS stored by Python, or earlier in the same batch, is never overwritten: as Python's store_result", async () => {
    const pyStored = id("py-stored");
    const pySeq = id("py-seq");
    const tsStored = id("ts-stored");
    const tsSeq = id("ts-seq");
    // Python: SUCCESS then FAILURE on one id; STARTED, SUCCESS, FAILURE on another; and the
    // SUCCESS the TS batch below must not overwrite.
    const python = await pythonJson<Record<string, string>>(
      `
from interop_app import app, emit
b = app.backend
b.store_result(${JSON.stringify(pyStored)}, 1, "SUCCESS")
b.store_result(${JSON.stringify(pyStored)}, ValueError("late"), "FAILURE")
b.store_result(${JSON.stringify(pySeq)}, None, "STARTED")
b.store_result(${JSON.stringify(pySeq)}, 2, "SUCCESS")
b.store_result(${JSON.stringify(pySeq)}, ValueError("late"), "FAILURE")
b.store_result(${JSON.stringify(tsStored)}, 1, "SUCCESS")
emit({"stored": b.get_task_meta(${JSON.stringify(pyStored)})["status"], "seq": b.get_task_meta(${JSON.stringify(pySeq)})["status"], "seq_result": b.get_task_meta(${JSON.stringify(pySeq)})["result"]})
`,
      { brokerUrl: backendUrl, backendUrl },
    );

    const failure = { exc_type: "ValueError", exc_message: ["late"], exc_module: "builtins" };
    const commands = await commandsDuring(async () => {
      const dest = { replyTo: null, correlationId: null };
      // All in one turn: one batch.
      await Promise.all([
        backend.storeResult(meta(tsStored, "FAILURE", failure), dest),
        backend.storeResult(meta(tsSeq, "STARTED", null), dest),
        backend.storeResult(meta(tsSeq, "SUCCESS", 2), dest),
        backend.storeResult(meta(tsSeq, "FAILURE", failure), dest),
      ]);
    });
    const ts = await pythonJson<Record<string, unknown>>(
      `
from interop_app import app, emit
b = app.backend
emit({"stored": b.get_task_meta(${JSON.stringify(tsStored)})["status"], "seq": b.get_task_meta(${JSON.stringify(tsSeq)})["status"], "seq_result": b.get_task_meta(${JSON.stringify(tsSeq)})["result"]})
`,
      { brokerUrl: backendUrl, backendUrl },
    );
    expect(ts).toEqual(python);
    expect(python).toEqual({ stored: "SUCCESS", seq: "SUCCESS", seq_result: 2 });
    // Only the STARTED and the SUCCESS of the sequence were written (and published), in order.
    const writes = commands.filter((c) => c.args[0]?.toLowerCase() === "setex").map((c) => c.args[1]);
    expect(writes).toEqual([`celery-task-meta-${tsSeq}`, `celery-task-meta-${tsSeq}`]);
  });

  it("a key already holding another state (STARTED stored by Python) is decoded, then written in a second call, in order", async () => {
    const started = id("py-started");
    const fresh = id("fresh");
    const python = await pythonJson<Record<string, unknown>>(
      `
from interop_app import app, emit
b = app.backend
b.store_result(${JSON.stringify(started)}, None, "STARTED")
b.store_result(${JSON.stringify(started)}, 3, "SUCCESS")
b.store_result(${JSON.stringify(started)}, ValueError("late"), "FAILURE")
m = b.get_task_meta(${JSON.stringify(started)})
b.forget(${JSON.stringify(started)})
b.store_result(${JSON.stringify(started)}, None, "STARTED")
emit({"status": m["status"], "result": m["result"]})
`,
      { brokerUrl: backendUrl, backendUrl },
    );
    const failure = { exc_type: "ValueError", exc_message: ["late"], exc_module: "builtins" };
    const commands = await commandsDuring(async () => {
      const dest = { replyTo: null, correlationId: null };
      await Promise.all([
        backend.storeResult(meta(started, "SUCCESS", 3), dest),
        backend.storeResult(meta(fresh, "SUCCESS", 4), dest),
        backend.storeResult(meta(started, "FAILURE", failure), dest),
      ]);
    });
    const ts = await pythonJson<Record<string, unknown>>(
      `
from interop_app import app, emit
b = app.backend
m = b.get_task_meta(${JSON.stringify(started)})
emit({"status": m["status"], "result": m["result"], "fresh": b.get_task_meta(${JSON.stringify(fresh)})["result"]})
`,
      { brokerUrl: backendUrl, backendUrl },
    );
    expect(ts).toEqual({ ...python, fresh: 4 });
    expect(python).toEqual({ status: "SUCCESS", result: 3 });
    const sent = commands.filter((c) => !c.lua).map((c) => c.args[0]?.toLowerCase());
    expect(sent).toEqual(["evalsha", "evalsha"]);
    const writes = commands.filter((c) => c.args[0]?.toLowerCase() === "setex").map((c) => c.args[1]);
    expect(writes).toEqual([`celery-task-meta-${fresh}`, `celery-task-meta-${started}`]);
  });
});
