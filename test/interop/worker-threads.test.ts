/**
 * The TS worker's `worker_threads` pool (threadedTask), driven by a real
 * Python Celery 5.7 producer over Redis: CPU-bound handlers run in pool
 * threads, in parallel, a hard time limit terminates the thread of a task
 * that never yields, and thread-side errors reach Python as the right class.
 *
 * The task module is a `.ts` file, so pool threads get `--import tsx`
 * (`threadExecArgv`): a thread does not inherit the loader vitest (or tsx)
 * installed in the main thread.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { threadedTask } from "../../src/worker/task-registry.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

const CPU_TASKS = new URL("../support/ts-worker/cpu-tasks.ts", import.meta.url);
const THREADS = 3;

let broker: string;
let backend: string;
let stack: TsStack;
let worker: Worker;
let scratch: string;
const queue = uniqueQueue("tsthreads");
const logs: string[] = [];

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  scratch = mkdtempSync(join(tmpdir(), "celeriac-threads-"));
  stack = createTsStack({ broker, backend }, { lines: logs });
  stack.task("ts.fib", threadedTask(CPU_TASKS, "fib"));
  stack.task("ts.barrier", threadedTask(CPU_TASKS, "barrier"));
  stack.task("ts.spin", threadedTask(CPU_TASKS, "spinForever"), { timeLimit: 1.5 });
  stack.task("ts.type_error", threadedTask(CPU_TASKS, "throwTypeError"));
  stack.task("ts.value_error", threadedTask(CPU_TASKS, "throwValueError"));
  stack.task("ts.missing_export", threadedTask(CPU_TASKS, "noSuchExport"));
  stack.task("ts.exit_thread", threadedTask(CPU_TASKS, "exitThread"));
  worker = stack.worker({
    queues: [queue],
    concurrency: 8,
    threads: THREADS,
    threadExecArgv: ["--import", "tsx"],
    hostname: "tsthreads@localhost",
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await stack?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const py = <T>(code: string) =>
  pythonJson<T>(
    `
from interop_app import app, emit
Q = ${JSON.stringify(queue)}
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

interface Where {
  threadId: number;
  isMainThread: boolean;
  osThreadId: number;
}

/** Plain recursive Fibonacci, computed here to check the thread's answer. */
function fibonacci(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

describe("worker_threads pool: Python producer → TS worker (Redis)", () => {
  it("runs a CPU-bound handler in a pool thread and Python reads its result", async () => {
    const out = await py<(Where & { value: number })[]>(`
emit([app.send_task("ts.fib", (n,), queue=Q).get(timeout=30) for n in (10, 25)])
`);
    expect(out.map((r) => r.value)).toEqual([fibonacci(10), fibonacci(25)]);
    for (const r of out) {
      expect(r.isMainThread).toBe(false);
      expect(r.threadId).toBeGreaterThan(0);
      expect(r.osThreadId).not.toBe(process.pid);
    }
  });

  it("runs CPU-bound tasks in parallel on distinct threads", async () => {
    // Each task blocks its thread until all THREADS tasks have arrived: they
    // can only all succeed if they ran at the same time on THREADS threads.
    const dir = join(scratch, "barrier");
    const out = await py<(Where & { seen: number; fib20: number })[]>(`
rs = [app.send_task("ts.barrier", (${JSON.stringify(dir)}, ${THREADS}, 10000), queue=Q) for _ in range(${THREADS})]
emit([r.get(timeout=40) for r in rs])
`);
    expect(out).toHaveLength(THREADS);
    expect(new Set(out.map((r) => r.threadId)).size).toBe(THREADS);
    expect(new Set(out.map((r) => r.osThreadId)).size).toBe(THREADS);
    for (const r of out) {
      expect(r.isMainThread).toBe(false);
      expect(r.seen).toBe(THREADS);
      expect(r.fib20).toBe(fibonacci(20));
    }
  });

  it("hard time limit terminates the thread of a task that never returns; the pool keeps serving", async () => {
    const tidFile = join(scratch, "spin.tid");
    const out = await py<{ spin: [string, string, unknown[]]; after: (Where & { value: number })[] }>(`
spin = error_of(app.send_task("ts.spin", (${JSON.stringify(tidFile)},), queue=Q))
after = [r.get(timeout=30) for r in [app.send_task("ts.fib", (n,), queue=Q) for n in range(15, 15 + ${THREADS + 1})]]
emit({"spin": spin, "after": after})
`);
    expect(out.spin).toEqual(["billiard.exceptions", "TimeLimitExceeded", [1.5]]);
    // The spinning OS thread is gone from this process (it cannot exit by itself).
    const spinTid = Number(readFileSync(tidFile, "utf8"));
    expect(spinTid).toBeGreaterThan(0);
    await waitUntil(
      `OS thread ${spinTid} of the spinning task to exit`,
      async () => !existsSync(`/proc/${process.pid}/task/${spinTid}`),
      { timeoutMs: 10_000 },
    );
    expect(out.after.map((r) => r.value)).toEqual([15, 16, 17, 18].map(fibonacci));
    expect(out.after.every((r) => r.osThreadId !== spinTid)).toBe(true);
  });

  it("an error thrown in a thread is a FAILURE with the right Python exception class", async () => {
    const out = await py<Record<string, [string, string, unknown[]]>>(`
emit({
    "type": error_of(app.send_task("ts.type_error", ("bad type in thread",), queue=Q)),
    "value": error_of(app.send_task("ts.value_error", ("bad value", 7), queue=Q)),
})
`);
    expect(out.type).toEqual(["builtins", "TypeError", ["bad type in thread"]]);
    expect(out.value).toEqual(["builtins", "ValueError", ["bad value", 7]]);
  });

  it("a threaded task naming a missing export fails instead of hanging the pool", async () => {
    const out = await py<{ missing: [string, string, unknown[]]; then: Where & { value: number } }>(`
missing = error_of(app.send_task("ts.missing_export", (), queue=Q))
emit({"missing": missing, "then": app.send_task("ts.fib", (12,), queue=Q).get(timeout=30)})
`);
    expect(out.missing[1]).toBe("ImportError");
    expect(out.then.value).toBe(fibonacci(12));
  });

  it("a thread that exits mid-task fails it with WorkerLostError, as a lost prefork child does", async () => {
    const out = await py<{ lost: [string, string, unknown[]]; then: Where & { value: number } }>(`
lost = error_of(app.send_task("ts.exit_thread", (3,), queue=Q))
emit({"lost": lost, "then": app.send_task("ts.fib", (12,), queue=Q).get(timeout=30)})
`);
    expect(out.lost).toEqual([
      "billiard.exceptions",
      "WorkerLostError",
      ["Worker exited prematurely: exitcode 3."],
    ]);
    expect(out.then.value).toBe(fibonacci(12));
  });
});
