/**
 * Task handlers for the process pool tests (test/interop/worker-processes.test.ts).
 * Registered with `processTask(new URL("./process-tasks.ts", import.meta.url), "<export>")`,
 * so each pool child imports this module itself. Every handler that succeeds
 * reports the pid of the process it ran in.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Blocks the process (no event loop turn) for `ms`. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes this process's pid to `path` atomically (a temp file renamed into place): a test that
 * polls for the file and reads it must never see it created but still empty, which reads as pid
 * 0, and `process.kill(0, ...)` signals the test's whole process group.
 */
function writePid(path: string): void {
  writeFileSync(`${path}.${process.pid}.tmp`, String(process.pid));
  renameSync(`${path}.${process.pid}.tmp`, path);
}

/** Where it ran, and the value it was given back. */
export function whoami(_ctx: unknown, n: number) {
  return { pid: process.pid, n };
}

/**
 * A synchronous barrier between `parties` tasks: each writes a file named
 * after its pid into `dir` and spins until `parties` files exist, so all
 * can only succeed if they ran at the same time in distinct processes.
 */
export function barrier(_ctx: unknown, dir: string, parties: number, giveUpMs: number) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, String(process.pid)), "");
  const deadline = Date.now() + giveUpMs;
  while (readdirSync(dir).length < parties) {
    if (Date.now() > deadline)
      throw new Error(`barrier: only ${readdirSync(dir).length} of ${parties} arrived`);
    blockFor(5);
  }
  return { pid: process.pid };
}

/** Never returns, never yields: only killing the process stops it. Writes its pid to `pidFile` first. */
export function spinForever(_ctx: unknown, pidFile: string): never {
  writePid(pidFile);
  let x = 0;
  for (;;) x = (x + 1) % 1_000_003;
}

/** SIGKILLs its own process mid-task (the child is lost). */
export function die(_ctx: unknown): void {
  process.kill(process.pid, "SIGKILL");
}

/** `process.exit(code)` in a handler. */
export function exitWith(_ctx: unknown, code: number): void {
  process.exit(code);
}

/** Dies the first time (marker file absent), succeeds when run again: a requeued task. */
export function dieOnce(_ctx: unknown, marker: string) {
  if (existsSync(marker)) return { pid: process.pid, secondRun: true };
  writePid(marker);
  process.kill(process.pid, "SIGKILL");
  return { pid: process.pid, secondRun: false };
}

/** Spins past its hard time limit the first time, returns at once when run again. */
export function slowOnce(_ctx: unknown, marker: string) {
  if (existsSync(marker)) return { pid: process.pid, secondRun: true };
  writePid(marker);
  return spinForever(_ctx, `${marker}.pid`);
}

/** Touches `mb` MiB (peak RSS rises by about that much), then frees it. */
export function hog(_ctx: unknown, mb: number) {
  const block = Buffer.alloc(mb * 1024 * 1024, 1);
  return { pid: process.pid, bytes: block.length };
}

// Ordinary shapes users write; the same functions run inline in the tests for comparison.

/** A synchronous handler. */
export function addSync(_ctx: unknown, a: number, b: number): number {
  return a + b;
}

/** An async handler that returns nothing. */
export async function returnsNothing(_ctx: unknown): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Throws a string, not an Error. */
export function throwString(_ctx: unknown, text: string): never {
  throw text;
}

/** Throws a TypeError. */
export function throwTypeError(_ctx: unknown, text: string): never {
  throw new TypeError(text);
}

/** Echoes its argument (a Python int above 2^53 arrives as a BigInt and must go back as an int). */
export function echo(_ctx: unknown, value: unknown): unknown {
  return value;
}

/** Waits for `ctx.signal` (the soft time limit) and answers as interop.time_limited does when it fires. */
export async function softLimited(ctx: { signal: AbortSignal }): Promise<string> {
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
  return "soft-time-limit";
}

/** Writes its pid to `pidFile`, then returns after `ms` without blocking the event loop. */
export async function napAfterPid(_ctx: unknown, pidFile: string, ms: number) {
  writePid(pidFile);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { pid: process.pid };
}

/** `ctx.updateState` from a pool child: writes PROGRESS for `otherId` (test/interop/task-request-redis.test.ts). */
export async function progressOther(
  ctx: { updateState(state: string, meta: unknown, options?: { taskId?: string }): Promise<void> },
  otherId: string,
) {
  await ctx.updateState("PROGRESS", { for: otherId }, { taskId: otherId });
  return "ok";
}
