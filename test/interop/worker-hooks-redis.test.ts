/**
 * The worker's typed hooks (Celery's task signals, issue 13 item 9) against a real Celery 5.7
 * worker on real Redis. Python sends the same tasks to a Python worker and to a TS worker; at
 * each signal both record the state the result backend holds and whether the message is still
 * unacknowledged (acks_late), with the signal's arguments (python-interop/app/interop_app.py
 * `_hook_record`), and the TS records must equal Python's: prerun before STARTED/the result,
 * success/failure/retry after the result is stored, postrun after that, all before the late ack;
 * task_revoked after REVOKED is stored and before the ack (Celery defers it with call_soon).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { PythonError } from "../../src/worker/errors.js";
import { excRepr } from "../../src/worker/exc-info.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { until } from "../support/ops-tasks.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let app: Celery;
let tsWorker: Worker;
let pyWorker: CeleryWorker;
let brokerRedis: Redis;
let backendRedis: Redis;
const pyQueue = uniqueQueue("hooks-py");
const tsQueue = uniqueQueue("hooks-ts");

type HookRecord = Record<string, unknown> & { signal: string; status: string; unacked: boolean };

/** What `_hook_record` records in Python, from the TS side: same keys, same sources. */
async function record(signal: string, id: string, fields: Record<string, unknown>): Promise<void> {
  const raw = await backendRedis.get(`celery-task-meta-${id}`);
  const status = raw ? (JSON.parse(raw) as { status: string }).status : "PENDING";
  const unacked = (await brokerRedis.hvals("unacked")).some((v) => v.includes(id));
  await backendRedis.rpush(`hooks:${id}`, JSON.stringify({ signal, status, unacked, ...fields }));
}

/** Python's `type(x).__name__` for what a TS task threw (Celery's identity of the error). */
const typeName = (value: unknown) => (value as { excType?: string }).excType ?? typeof value;

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  brokerRedis = new Redis(broker);
  backendRedis = new Redis(backend);
  pyWorker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [pyQueue] });
  app = new Celery({ broker, backend, workerPrefetchMultiplier: 1 });
  app.task("interop.hooks.add", (_ctx, x: number, y: number) => x + y, { acksLate: true });
  app.task(
    "interop.hooks.fail",
    (_ctx, message: string) => {
      throw new PythonError("ValueError", [message]);
    },
    { acksLate: true },
  );
  app.task(
    "interop.hooks.retry",
    (ctx, tag: string) => (ctx.retries === 0 ? ctx.retry({ countdown: 0, maxRetries: 1 }) : tag),
    { acksLate: true },
  );
  tsWorker = app.worker({ queues: [tsQueue], concurrency: 1, withoutMingle: true, remoteControl: false });
  // The same fields as interop_app.py's receivers; async listeners hold the worker, as Celery's do.
  tsWorker.on("task-prerun", (e) => record("task_prerun", e.id, { args: e.args, kwargs: e.kwargs }));
  tsWorker.on("task-success", (e) => record("task_success", e.id, { result: e.result }));
  tsWorker.on("task-failure", (e) =>
    record("task_failure", e.id, {
      exception: excRepr(e.exception),
      args: e.args,
      kwargs: e.kwargs,
    }),
  );
  tsWorker.on("task-retry", (e) =>
    record("task_retry", e.id, { reason: typeName(e.reason), retries: e.request.retries }),
  );
  tsWorker.on("task-postrun", (e) =>
    record("task_postrun", e.id, {
      args: e.args,
      kwargs: e.kwargs,
      retval: e.state === "SUCCESS" ? e.retval : typeName(e.retval),
      state: e.state,
    }),
  );
  tsWorker.on("task-revoked", (e) =>
    record("task_revoked", e.id, { terminated: e.terminated, signum: e.signum, expired: e.expired }),
  );
  await tsWorker.start();
}, 90_000);

afterAll(async () => {
  await tsWorker?.close({ timeoutMs: 5_000 });
  await pyWorker?.stop();
  await app?.close();
  brokerRedis?.disconnect();
  backendRedis?.disconnect();
});

/** Python sends `name(args)` to both workers' queues; returns both ids (the result waited for). */
async function sendToBoth(name: string, args: unknown[], options = ""): Promise<{ py: string; ts: string }> {
  return pythonJson<{ py: string; ts: string }>(
    `
from datetime import datetime, timedelta, timezone
from interop_app import app, emit
ids = {}
for side, queue in (("py", ${JSON.stringify(pyQueue)}), ("ts", ${JSON.stringify(tsQueue)})):
    r = app.send_task(${JSON.stringify(name)}, ${JSON.stringify(args)}, queue=queue${options})
    try:
        r.get(timeout=20, propagate=False)
    finally:
        ids[side] = r.id
emit(ids)
`,
    { brokerUrl: broker, backendUrl: backend },
  );
}

/** Both sides' records once each holds `count` (the postrun comes after the result Python waited for). */
async function recordsOf(ids: { py: string; ts: string }, count: number) {
  const read = async (id: string) =>
    (await backendRedis.lrange(`hooks:${id}`, 0, -1)).map((line) => JSON.parse(line) as HookRecord);
  return until(`${count} hook records on both sides`, async () => {
    const py = await read(ids.py);
    const ts = await read(ids.ts);
    return py.length >= count && ts.length >= count ? { py, ts } : null;
  });
}

describe("typed hooks fire as Celery's signals do, relative to the stored result and the late ack", () => {
  it("success: prerun (PENDING, unacked), success (SUCCESS, unacked), postrun (SUCCESS, unacked)", async () => {
    const ids = await sendToBoth("interop.hooks.add", [20, 22]);
    const { py, ts } = await recordsOf(ids, 3);
    expect(py.map((r) => [r.signal, r.status, r.unacked])).toEqual([
      ["task_prerun", "PENDING", true],
      ["task_success", "SUCCESS", true],
      ["task_postrun", "SUCCESS", true],
    ]);
    expect(ts).toEqual(py);
  });

  it("failure: task_failure after FAILURE is stored, then postrun with state FAILURE", async () => {
    const ids = await sendToBoth("interop.hooks.fail", ["boom"]);
    const { py, ts } = await recordsOf(ids, 3);
    expect(py.map((r) => r.signal)).toEqual(["task_prerun", "task_failure", "task_postrun"]);
    expect(ts).toEqual(py);
  });

  it("retry: task_retry after RETRY is stored, postrun RETRY, then the second run", async () => {
    const ids = await sendToBoth("interop.hooks.retry", ["again"]);
    const { py, ts } = await recordsOf(ids, 6);
    expect(py.map((r) => [r.signal, r.status])).toEqual([
      ["task_prerun", "PENDING"],
      ["task_retry", "RETRY"],
      ["task_postrun", "RETRY"],
      ["task_prerun", "RETRY"],
      ["task_success", "SUCCESS"],
      ["task_postrun", "SUCCESS"],
    ]);
    expect(ts).toEqual(py);
  });

  it("expired: task_revoked (expired) after REVOKED is stored, before the deferred ack", async () => {
    const ids = await sendToBoth(
      "interop.hooks.add",
      [1, 2],
      ", expires=datetime.now(timezone.utc) - timedelta(minutes=1)",
    );
    const { py, ts } = await recordsOf(ids, 1);
    expect(py).toEqual([
      {
        signal: "task_revoked",
        status: "REVOKED",
        unacked: true,
        terminated: false,
        signum: null,
        expired: true,
      },
    ]);
    expect(ts).toEqual(py);
  });
});
