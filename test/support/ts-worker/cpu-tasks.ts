/**
 * CPU-bound task handlers for the `worker_threads` pool tests
 * (test/interop/worker-threads.test.ts). Registered with
 * `threadedTask(new URL("./cpu-tasks.ts", import.meta.url), "<export>")`,
 * so each pool thread imports this module itself (with `--import tsx`).
 *
 * Every handler reports where it ran: `threadId` (worker_threads id, 0 on
 * the main thread) and `osThreadId` (the Linux task id from
 * /proc/thread-self), which a test can look for under /proc/<pid>/task.
 */
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isMainThread, threadId } from "node:worker_threads";
import { PythonError } from "../../../src/worker/errors.js";

/** The kernel task id of the calling thread (`/proc/thread-self` -> `<pid>/task/<tid>`). */
function osThreadId(): number {
  return Number(readlinkSync("/proc/thread-self").split("/").pop());
}

function where() {
  return { threadId, isMainThread, osThreadId: osThreadId() };
}

/** Blocks the thread (no event loop turn) for `ms`: a sleep that a CPU-bound handler can use. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function fibonacci(n: number): number {
  return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
}

/** Naive recursive Fibonacci: pure CPU work, synchronous from start to end. */
export function fib(_ctx: unknown, n: number) {
  return { value: fibonacci(n), ...where() };
}

/**
 * A synchronous barrier between `parties` concurrent tasks: each one writes
 * a file named after its thread into `dir`, then spins (never yielding to an
 * event loop) until `parties` files exist. It can only complete when all
 * parties run at the same time on different threads; if they ran one after
 * the other the first would give up after `giveUpMs` and throw.
 */
export function barrier(_ctx: unknown, dir: string, parties: number, giveUpMs: number) {
  mkdirSync(dir, { recursive: true });
  const me = where();
  writeFileSync(join(dir, `thread-${me.threadId}`), String(me.osThreadId));
  const deadline = Date.now() + giveUpMs;
  let seen = readdirSync(dir).length;
  while (seen < parties) {
    if (Date.now() > deadline) throw new Error(`barrier: only ${seen} of ${parties} parties arrived`);
    blockFor(5);
    seen = readdirSync(dir).length;
  }
  return { ...me, seen, fib20: fibonacci(20) };
}

/**
 * Never returns and never yields: only terminating the thread stops it.
 * Writes its OS thread id to `tidFile` first, so a test can check that
 * the thread is gone after the hard time limit.
 */
export function spinForever(_ctx: unknown, tidFile: string): never {
  writeFileSync(tidFile, String(osThreadId()));
  let x = 0;
  for (;;) {
    x = (x + 1) % 1_000_003;
  }
}

/** Throws a plain TS error: stored as the matching Python builtin (`TypeError`). */
export function throwTypeError(_ctx: unknown, message: string): never {
  throw new TypeError(message);
}

/** Throws a declared Python exception: Python rebuilds `ValueError(*args)`. */
export function throwValueError(_ctx: unknown, ...args: unknown[]): never {
  throw new PythonError("ValueError", args);
}

/** Ends its pool thread mid-task (`process.exit` in a worker thread ends the thread only). */
export function exitThread(_ctx: unknown, code: number) {
  process.exit(code);
}

/** `ctx.updateState` from a pool thread: writes PROGRESS for `otherId` (test/interop/task-request-redis.test.ts). */
export async function progressOther(
  ctx: { updateState(state: string, meta: unknown, options?: { taskId?: string }): Promise<void> },
  otherId: string,
) {
  await ctx.updateState("PROGRESS", { for: otherId }, { taskId: otherId });
  return "ok";
}
