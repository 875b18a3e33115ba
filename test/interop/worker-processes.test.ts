/**
 * The TS worker's process pool (`pool: "process"`, `processTask`), Celery's
 * prefork semantics, driven by a real Python Celery 5.7 producer over Redis:
 * tasks run in child processes, in parallel; a hard time limit kills the
 * child and the pool replaces it; `maxTasksPerChild` and `maxMemoryPerChild`
 * recycle children; a child that dies mid-task stores `WorkerLostError`, or
 * is requeued with `rejectOnWorkerLost`. Where Python has an answer (the meta
 * stored for a hard time limit and for a lost child), it comes from a real
 * Python prefork worker in the same run; the ordinary handler shapes are
 * compared with the same handlers run inline (the default pool).
 *
 * The task module is `.ts`: children get tsx because this test runs the pool
 * from source (process-pool.ts adds it for its own `.ts` entry).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processTask, threadedTask } from "../../src/worker/task-registry.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import {
  addSync,
  echo,
  returnsNothing,
  throwString,
  throwTypeError,
} from "../support/ts-worker/process-tasks.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

const TASKS = new URL("../support/ts-worker/process-tasks.ts", import.meta.url);
const CHILDREN = 3;
const MAX_MEMORY_KIB = 250_000;

let broker: string;
let backend: string;
let procStack: TsStack;
let inlineStack: TsStack;
let worker: Worker;
let recycler: Worker;
let inline: Worker;
let python: CeleryWorker;
let scratch: string;
const queue = uniqueQueue("tsproc");
const recycleQueue = uniqueQueue("tsproc-recycle");
const inlineQueue = uniqueQueue("tsproc-inline");
const pyQueue = uniqueQueue("tsproc-py");
const logs: string[] = [];

/** Task name -> [export name, the same function], run in a child and inline. */
const SHAPES: Record<string, [string, (ctx: unknown, ...args: never[]) => unknown]> = {
  "ts.shape.add_sync": ["addSync", addSync],
  "ts.shape.nothing": ["returnsNothing", returnsNothing],
  "ts.shape.throw_string": ["throwString", throwString],
  "ts.shape.type_error": ["throwTypeError", throwTypeError],
  "ts.shape.echo": ["echo", echo],
};

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  scratch = mkdtempSync(join(tmpdir(), "celeriac-procs-"));
  python = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQueue],
    pool: "prefork",
    concurrency: 1,
    // billiard waits worker_lost_wait (10 s) for a late result before WorkerLostError.
    config: { worker_lost_wait: 1 },
  });

  // The memory limit comes from the setting (worker_max_memory_per_child), maxTasksPerChild below from the option.
  procStack = createTsStack(
    { broker, backend, resultExtended: true, workerMaxMemoryPerChild: MAX_MEMORY_KIB },
    { lines: logs },
  );
  const task = (name: string, exportName: string, options = {}) =>
    procStack.task(name, processTask(TASKS, exportName), options);
  task("ts.proc.whoami", "whoami");
  task("ts.proc.barrier", "barrier");
  task("ts.proc.spin", "spinForever");
  task("ts.proc.hog", "hog");
  task("ts.proc.soft", "softLimited");
  procStack.task("ts.proc.threaded_whoami", threadedTask(TASKS, "whoami"));
  task("ts.proc.die", "die", { acksLate: true });
  task("ts.proc.exit", "exitWith");
  task("ts.proc.die_once", "dieOnce", { acksLate: true, rejectOnWorkerLost: true });
  task("ts.proc.slow_once", "slowOnce", { acksLate: true, acksOnFailureOrTimeout: false, timeLimit: 1 });
  for (const [name, [exportName]] of Object.entries(SHAPES)) task(name, exportName);
  worker = procStack.worker({
    queues: [queue],
    pool: "process",
    concurrency: CHILDREN,
    hostname: "tsproc@localhost",
  });
  recycler = procStack.worker({
    queues: [recycleQueue],
    pool: "process",
    concurrency: 1,
    maxTasksPerChild: 2,
    hostname: "tsproc-recycle@localhost",
  });

  inlineStack = createTsStack({ broker, backend, resultExtended: true });
  for (const [name, [, handler]] of Object.entries(SHAPES)) {
    inlineStack.task(name, (ctx, ...args: unknown[]) => handler(ctx, ...(args as never[])));
  }
  inline = inlineStack.worker({ queues: [inlineQueue], hostname: "tsproc-inline@localhost" });
  await Promise.all([worker.start(), recycler.start(), inline.start()]);
});

afterAll(async () => {
  await Promise.all([worker?.close({ timeoutMs: 5000 }), recycler?.close({ timeoutMs: 5000 })]);
  await inline?.close({ timeoutMs: 5000 });
  await python?.stop();
  await procStack?.close();
  await inlineStack?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const py = <T>(code: string) =>
  pythonJson<T>(
    `
import json, time
from interop_app import app, emit
Q, RQ, IQ, PQ = ${JSON.stringify([queue, recycleQueue, inlineQueue, pyQueue])}
def raw_meta(r, timeout=30):
    """The meta exactly as stored (not rebuilt into an exception), once the task is ready."""
    try:
        r.get(timeout=timeout, propagate=False)
    except Exception:
        pass
    return json.loads(app.backend.get(app.backend.get_key_for_task(r.id)))
def error_of(r, timeout=30):
    try:
        r.get(timeout=timeout)
        return ["no error", "", []]
    except Exception as e:
        return [type(e).__module__, type(e).__name__, list(e.args)]
${code}
`,
    { brokerUrl: broker, backendUrl: backend },
  );

type Meta = Record<string, unknown>;

/** What a failure meta says, whoever stored it: billiard's job number is the pool's own count. */
function failureOf(meta: Meta): Meta {
  const text = JSON.stringify({
    status: meta.status,
    result: meta.result,
    traceback: meta.traceback,
    children: meta.children,
  });
  return JSON.parse(text.replace(/Job: \d+\./g, "Job: N.")) as Meta;
}

/** A meta without what differs between two workers running the same task (id, time, node, queue). */
function comparable(meta: Meta): Meta {
  const { task_id: _id, date_done: _date, worker: _worker, queue: _queue, ...rest } = meta;
  return rest;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('process pool (pool: "process"): Python producer → TS worker (Redis)', () => {
  it("runs tasks in child processes, in parallel on distinct pids", async () => {
    const dir = join(scratch, "barrier");
    const out = await py<{ pid: number }[]>(`
rs = [app.send_task("ts.proc.barrier", (${JSON.stringify(dir)}, ${CHILDREN}, 10000), queue=Q) for _ in range(${CHILDREN})]
emit([r.get(timeout=40) for r in rs])
`);
    const pids = out.map((r) => r.pid);
    expect(new Set(pids).size).toBe(CHILDREN);
    expect(pids).not.toContain(process.pid);
  });

  it("a child serves task after task below the limits (sequential tasks reuse one pid); threadedTask runs in a child too", async () => {
    const out = await py<{ seq: { pid: number; n: number }[]; threaded: { pid: number } }>(`
emit({
    "seq": [app.send_task("ts.proc.whoami", (n,), queue=Q).get(timeout=30) for n in range(4)],
    "threaded": app.send_task("ts.proc.threaded_whoami", (9,), queue=Q).get(timeout=30),
})
`);
    expect(out.seq.map((r) => r.n)).toEqual([0, 1, 2, 3]);
    expect(new Set(out.seq.map((r) => r.pid)).size).toBe(1);
    expect(out.threaded.pid).not.toBe(process.pid);
  });

  it("soft limit aborts ctx.signal in the child; hard limit kills the child and stores what a Python prefork worker stores; the pool recovers", async () => {
    const pidFile = join(scratch, "spin.pid");
    const out = await py<{
      softTs: string;
      softPy: string;
      ts: Meta;
      py: Meta;
      after: { pid: number; n: number }[];
    }>(`
soft_ts = app.send_task("ts.proc.soft", (), queue=Q, soft_time_limit=0.5)
soft_py = app.send_task("interop.time_limited", (30,), queue=PQ, soft_time_limit=0.5)
ts = app.send_task("ts.proc.spin", (${JSON.stringify(pidFile)},), queue=Q, time_limit=1)
pyr = app.send_task("interop.time_limited", (30,), queue=PQ, time_limit=1)
emit({
    "softTs": soft_ts.get(timeout=30),
    "softPy": soft_py.get(timeout=30),
    "ts": raw_meta(ts),
    "py": raw_meta(pyr),
    "after": [r.get(timeout=30) for r in [app.send_task("ts.proc.whoami", (n,), queue=Q) for n in range(${CHILDREN + 1})]],
})
`);
    expect(out.softTs).toBe(out.softPy);
    expect(out.softPy).toBe("soft-time-limit");
    expect(out.py.status).toBe("FAILURE");
    expect(failureOf(out.ts)).toEqual(failureOf(out.py));
    const spinPid = Number(readFileSync(pidFile, "utf8"));
    expect(spinPid).toBeGreaterThan(0);
    await waitUntil(`spinning child ${spinPid} to be gone`, async () => !alive(spinPid), {
      timeoutMs: 10_000,
    });
    expect(out.after.map((r) => r.n)).toEqual([0, 1, 2, 3]);
    expect(out.after.map((r) => r.pid)).not.toContain(spinPid);
    expect(logs.join("")).toMatch(/Hard time limit \(1s\) exceeded for ts\.proc\.spin/);
  });

  it("revoke(terminate=True) kills the child and stores what a Python prefork worker stores", async () => {
    const pidFile = join(scratch, "revoked.pid");
    const out = await py<{ ts: Meta; py: Meta }>(`
import os
ts = app.send_task("ts.proc.spin", (${JSON.stringify(pidFile)},), queue=Q)
pyr = app.send_task("interop.sleep", (30,), queue=PQ)
deadline = time.time() + 20
def py_active():
    replies = app.control.inspect(destination=[${JSON.stringify(python.hostname)}], timeout=0.5).active() or {}
    return any(t["id"] == pyr.id for t in replies.get(${JSON.stringify(python.hostname)}, []))
while not (os.path.exists(${JSON.stringify(pidFile)}) and py_active()) and time.time() < deadline:
    time.sleep(0.05)
# Each worker gets only its own revoke: a worker that does not hold the id marks a PENDING task
# REVOKED "revoked" (celery/worker/control.py _revoke), which would race the holder's "terminated".
app.control.revoke(ts.id, terminate=True, destination=["tsproc@localhost"])
app.control.revoke(pyr.id, terminate=True, destination=[${JSON.stringify(python.hostname)}])
emit({"ts": raw_meta(ts), "py": raw_meta(pyr)})
`);
    expect(out.py.status).toBe("REVOKED");
    expect(failureOf(out.ts)).toEqual(failureOf(out.py));
    const pid = Number(readFileSync(pidFile, "utf8"));
    await waitUntil(`revoked child ${pid} to be killed`, async () => !alive(pid), { timeoutMs: 10_000 });
  });

  it("a child lost mid-task stores WorkerLostError as a Python prefork worker does; with rejectOnWorkerLost (acksLate) the message is requeued and runs again", async () => {
    const marker = join(scratch, "die-once");
    const out = await py<{
      ts: Meta;
      py: Meta;
      exit: [string, string, unknown[]];
      requeued: { pid: number; secondRun: boolean };
    }>(`
ts = app.send_task("ts.proc.die", (), queue=Q)
pyr = app.send_task("interop.die", (), queue=PQ)
ex = app.send_task("ts.proc.exit", (3,), queue=Q)
again = app.send_task("ts.proc.die_once", (${JSON.stringify(marker)},), queue=Q)
emit({
    "ts": raw_meta(ts),
    "py": raw_meta(pyr),
    "exit": error_of(ex),
    "requeued": again.get(timeout=30),
})
`);
    expect(out.py.status).toBe("FAILURE");
    expect((out.py.result as Meta).exc_type).toBe("WorkerLostError");
    expect(failureOf(out.ts)).toEqual(failureOf(out.py));
    expect(out.exit[0]).toBe("billiard.exceptions");
    expect(out.exit[1]).toBe("WorkerLostError");
    expect(out.exit[2]).toEqual([
      expect.stringMatching(/^Worker exited prematurely: exitcode 3 Job: \d+\.$/),
    ]);
    expect(out.requeued.secondRun).toBe(true);
    const firstPid = Number(readFileSync(marker, "utf8"));
    expect(out.requeued.pid).not.toBe(firstPid);
    expect(alive(firstPid)).toBe(false);
  });

  it("acksOnFailureOrTimeout=false (acksLate): a timed-out message is requeued, as Celery 5.7 on_timeout does", async () => {
    const marker = join(scratch, "slow-once");
    const out = await py<{ states: string[]; final: Meta }>(`
r = app.send_task("ts.proc.slow_once", (${JSON.stringify(marker)},), queue=Q)
states, deadline = [], time.time() + 50
while time.time() < deadline:
    raw = app.backend.get(app.backend.get_key_for_task(r.id))
    meta = json.loads(raw) if raw else {"status": "PENDING"}
    if not states or states[-1] != meta["status"]:
        states.append(meta["status"])
    if meta["status"] == "SUCCESS":
        break
    time.sleep(0.05)
emit({"states": states, "final": meta})
`);
    expect(out.final.status).toBe("SUCCESS");
    expect(out.final.result).toMatchObject({ secondRun: true });
    // The first run's FAILURE(TimeLimitExceeded) was stored before the requeue.
    expect(out.states).toContain("FAILURE");
    expect(existsSync(`${marker}.pid`)).toBe(true);
    expect(alive(Number(readFileSync(`${marker}.pid`, "utf8")))).toBe(false);
  }, 90_000); // the requeued run needs a new child (Node + tsx start): tens of seconds on a loaded box

  it("maxTasksPerChild: each child is replaced after that many tasks", async () => {
    const out = await py<{ runs: { pid: number }[]; stats: Meta }>(`
runs = [app.send_task("ts.proc.whoami", (n,), queue=RQ).get(timeout=30) for n in range(5)]
stats = app.control.inspect(destination=["tsproc-recycle@localhost"], timeout=2).stats() or {}
runs.append(app.send_task("ts.proc.whoami", (5,), queue=RQ).get(timeout=30))
emit({"runs": runs, "stats": stats.get("tsproc-recycle@localhost", {}).get("pool")})
`);
    const pids = out.runs.map((r) => r.pid);
    // inspect stats (taken after 5 tasks) reports the pool as prefork's TaskPool._get_info does:
    // the live child's pid and the limit.
    expect(out.stats).toMatchObject({ implementation: "celeriac:process", "max-tasks-per-child": 2 });
    expect(out.stats.processes).toEqual([pids[4]]);
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).toBe(pids[3]);
    expect(pids[4]).toBe(pids[5]);
    expect(new Set(pids).size).toBe(3);
    for (const pid of [pids[0], pids[2]] as number[]) {
      await waitUntil(`recycled child ${pid} to exit`, async () => !alive(pid), { timeoutMs: 10_000 });
    }
  });

  it("maxMemoryPerChild: the child whose task pushed it over the limit is replaced after that task", async () => {
    const out = await py<{ hog: { pid: number; bytes: number }; after: { pid: number }[] }>(`
hog = app.send_task("ts.proc.hog", (${Math.ceil(MAX_MEMORY_KIB / 1024) + 16},), queue=Q).get(timeout=30)
emit({"hog": hog, "after": [app.send_task("ts.proc.whoami", (n,), queue=Q).get(timeout=30) for n in range(${CHILDREN + 1})]})
`);
    expect(out.hog.bytes).toBeGreaterThan(MAX_MEMORY_KIB * 1024);
    await waitUntil(`child ${out.hog.pid} over the memory limit to exit`, async () => !alive(out.hog.pid), {
      timeoutMs: 10_000,
    });
    expect(out.after.map((r) => r.pid)).not.toContain(out.hog.pid);
    expect(logs.join("")).toContain(`exceeding memory limit (`);
    expect(logs.join("")).toContain(`KiB / ${MAX_MEMORY_KIB}KiB)`);
  });

  it("ordinary shapes (sync, returning nothing, thrown string, TypeError, a big int) store what the inline pool stores", async () => {
    const out = await py<Record<string, { proc: Meta; inline: Meta; value: unknown }>>(`
calls = {
    "ts.shape.add_sync": (2, 3),
    "ts.shape.nothing": (),
    "ts.shape.throw_string": ("plain string thrown",),
    "ts.shape.type_error": ("bad type",),
    "ts.shape.echo": (2 ** 70,),
}
out = {}
for name, args in calls.items():
    p = app.send_task(name, args, queue=Q)
    i = app.send_task(name, args, queue=IQ)
    try:
        value = p.get(timeout=30)
    except Exception as e:
        value = [type(e).__name__, list(e.args)]
    out[name] = {"proc": raw_meta(p), "inline": raw_meta(i), "value": repr(value)}
emit(out)
`);
    for (const name of Object.keys(SHAPES)) {
      const { proc, inline: inl } = out[name] as { proc: Meta; inline: Meta };
      const { traceback: procTb, ...procRest } = comparable(proc);
      const { traceback: inlineTb, ...inlineRest } = comparable(inl);
      expect(procRest, name).toEqual(inlineRest);
      // A JS stack names the frames it ran through, which differ between a child and the worker itself.
      if (name === "ts.shape.type_error") expect(String(procTb)).toMatch(/^TypeError: bad type/);
      else expect(procTb, name).toEqual(inlineTb);
    }
    expect(out["ts.shape.add_sync"]?.value).toBe("5");
    expect(out["ts.shape.nothing"]?.value).toBe("None");
    expect(out["ts.shape.echo"]?.value).toBe(String(2n ** 70n));
    expect(out["ts.shape.throw_string"]?.value).toBe("['Exception', ['plain string thrown']]");
    expect(out["ts.shape.type_error"]?.value).toBe("['TypeError', ['bad type']]");
  });

  it('pool "process" refuses a worker whose tasks are closures a child cannot import', async () => {
    const stack = createTsStack({ broker, backend });
    stack.task("ts.inline.only", () => 1);
    const w = stack.worker({ queues: [uniqueQueue("refused")], pool: "process" });
    await expect(w.start()).rejects.toThrow(/processTask\(moduleUrl, exportName\)/);
    await stack.close();
  });
});
