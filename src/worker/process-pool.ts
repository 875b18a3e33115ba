import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { pathToFileURL } from "node:url";
import type { Logger } from "../logging.js";
import { WorkerLostError } from "./errors.js";
import {
  answerStateMessage,
  isStateMessage,
  type ModuleJob,
  type ModuleJobHooks,
  type ModuleReply,
  type StateMessage,
  settleReply,
} from "./module-job.js";

/**
 * A pool of child processes for `processTask` handlers and `pool: "process"`
 * workers: Celery's prefork pool (billiard) in Node terms.
 *
 * - Each child (`process-entry.ts`, started with `child_process.fork`) runs
 *   one job at a time; the pool starts children on demand up to `size`.
 * - Hard time limit / `revoke(terminate=True)`: {@link ProcessRun.terminate}
 *   sends SIGTERM and SIGKILL 0.1 s later if the child is still there
 *   (billiard/pool.py `Pool._trywaitkill`, 4.3); a new child takes its place.
 * - A child that exits while it holds a job (a crash, `process.exit()`,
 *   SIGKILL from outside) fails the job with billiard's `WorkerLostError`,
 *   worded as `Pool.mark_as_worker_lost` words it.
 * - `maxTasksPerChild` / `maxMemoryPerChild` (KiB, peak RSS): the child
 *   retires itself after the task that reached the limit (see process-entry.ts).
 *
 * Values cross the boundary with Node's `advanced` serialization (the
 * structured clone algorithm), so BigInt, Map, Date and typed arrays arrive
 * as they left, as they do for `worker_threads`.
 *
 * Loaders: a child process is an ordinary Node process, so `--import tsx`
 * in its execArgv works on Node 20+. When this module runs from source
 * (tsx, vitest) the child's own entry is a `.ts` file and tsx is added
 * for it; a compiled install needs nothing for `.js` task modules.
 */
export interface ProcessPoolOptions {
  /** Children at most; a function follows a size that changes (pool_grow / pool_shrink). */
  size: number | (() => number);
  /** execArgv of the children; default the worker process's own. */
  execArgv?: readonly string[];
  /** `worker_max_tasks_per_child`: a child retires after this many tasks (null = never). */
  maxTasksPerChild?: number | null;
  /** `worker_max_memory_per_child` in KiB: a child retires after a task that left its peak RSS above it. */
  maxMemoryPerChild?: number | null;
  logger: Logger;
}

/** What a child is told at start (process-entry.ts). */
export interface ChildLimits {
  maxTasks: number | null;
  maxMemoryKiB: number | null;
}

/** A child's reply: the job's outcome, and whether the child exits after it. */
export type ChildReply = ModuleReply & { recycle: boolean; recycleMessage?: string };

/** billiard/pool.py EX_RECYCLE: the exit code of a child that retires after its limit. */
export const EX_RECYCLE = 0x9b;

export interface ProcessRun {
  /** Aborts the job's `ctx.signal` in the child (soft time limit). */
  abort(): void;
  /** Kills the child running the job (or drops the job if it has not started). */
  terminate(): void;
}

interface Child {
  proc: ChildProcess;
  job: Pending | null;
  /** Takes no new job: it is retiring after a limit, or being killed. */
  retiring: boolean;
}

interface Pending {
  job: ModuleJob;
  hooks: ModuleJobHooks;
  /** billiard's job number (`Job: N` in WorkerLostError). */
  number: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  child?: Child;
  /** Settled, or abandoned by terminate(): a later exit of its child is not its concern. */
  done: boolean;
}

const PROCESS_ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./process-entry.ts" : "./process-entry.js",
  import.meta.url,
);

/** Is tsx already loaded by these flags (`--import tsx`, tsx's resolved loader)? */
function hasTsx(argv: readonly string[]): boolean {
  return argv.some((a, i) => {
    const spec = a.startsWith("--import=") ? a.slice(9) : argv[i - 1] === "--import" ? a : null;
    return spec !== null && (spec === "tsx" || /[\\/]tsx[\\/]/.test(spec));
  });
}

/** The children's execArgv: the given flags, plus tsx when the entry itself is TypeScript. */
export function childExecArgv(argv: readonly string[], entry: URL = PROCESS_ENTRY): string[] {
  if (!entry.pathname.endsWith(".ts") || hasTsx(argv)) return [...argv];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return [...argv, "--import", tsx];
}

/** billiard/common.py `human_status`: "signal 9 (SIGKILL)" or "exitcode 1". */
export function humanStatus(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${constants.signals[signal]} (${signal})`;
  return `exitcode ${code ?? 0}`;
}

export class ProcessPool {
  private readonly children: Child[] = [];
  private readonly queue: Pending[] = [];
  private readonly execArgv: string[];
  private readonly limits: ChildLimits;
  private jobs = 0;
  private closed = false;

  constructor(private readonly options: ProcessPoolOptions) {
    this.execArgv = childExecArgv(options.execArgv ?? process.execArgv);
    this.limits = {
      maxTasks: options.maxTasksPerChild ?? null,
      maxMemoryKiB: options.maxMemoryPerChild ?? null,
    };
  }

  /** `worker_max_tasks_per_child` as the children apply it (stats). */
  get maxTasksPerChild(): number | null {
    return this.limits.maxTasks;
  }

  get size(): number {
    const { size } = this.options;
    return typeof size === "number" ? size : size();
  }

  /** Pids of the live children (for `inspect stats`-like reports and tests). */
  get pids(): number[] {
    return this.children.flatMap((c) => (c.proc.pid === undefined ? [] : [c.proc.pid]));
  }

  run(job: ModuleJob, hooks: ModuleJobHooks = {}): { result: Promise<unknown>; control: ProcessRun } {
    let pending!: Pending;
    const result = new Promise<unknown>((resolve, reject) => {
      pending = { job, hooks, number: this.jobs++, resolve, reject, done: false };
    });
    const control: ProcessRun = {
      abort: () => {
        if (!pending.done) pending.child?.proc.send({ type: "abort" });
      },
      terminate: () => this.terminate(pending),
    };
    this.queue.push(pending);
    this.pump();
    return { result, control };
  }

  /** Kills every child (SIGTERM, then SIGKILL) and waits for them to exit. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.children.map((c) => this.kill(c)));
  }

  private terminate(pending: Pending): void {
    if (pending.done) return;
    pending.done = true;
    const child = pending.child;
    if (!child) {
      const at = this.queue.indexOf(pending);
      if (at !== -1) this.queue.splice(at, 1);
      return;
    }
    void this.kill(child);
  }

  /** billiard/pool.py `_trywaitkill`: SIGTERM, then SIGKILL if it is still there 0.1 s later. */
  private kill(child: Child): Promise<void> {
    child.retiring = true;
    const { proc } = child;
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 100);
    return exited.finally(() => clearTimeout(timer));
  }

  private spawn(): Child {
    const proc = fork(PROCESS_ENTRY, [JSON.stringify(this.limits)], {
      execArgv: this.execArgv,
      serialization: "advanced",
    });
    const child: Child = { proc, job: null, retiring: false };
    this.children.push(child);
    proc.on("message", (reply: ChildReply | StateMessage) => {
      if (!isStateMessage(reply)) return this.onReply(child, reply);
      answerStateMessage(reply, child.job?.hooks.updateState, (ack) => {
        if (proc.connected) proc.send(ack);
      });
    });
    // "close" comes after the IPC channel is drained: a reply sent just before exiting is seen first.
    proc.on("close", (code, signal) => this.onExit(child, code, signal));
    proc.on("error", (err) => this.options.logger.error({ err }, `pool child ${proc.pid}: ${err.message}`));
    return child;
  }

  private onReply(child: Child, reply: ChildReply): void {
    const pending = child.job;
    child.job = null;
    if (reply.recycle) child.retiring = true;
    // After a pool_shrink, a child that falls idle above the size leaves (billiard's shrink stops idle ones).
    else if (this.children.filter((c) => !c.retiring).length > this.size) void this.kill(child);
    if (reply.recycleMessage) this.options.logger.warn(reply.recycleMessage);
    if (pending && !pending.done) {
      pending.done = true;
      const settled = settleReply(reply);
      if (settled.ok) pending.resolve(settled.value);
      else pending.reject(settled.error);
    }
    this.pump();
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    const at = this.children.indexOf(child);
    if (at !== -1) this.children.splice(at, 1);
    const pending = child.job;
    child.job = null;
    if (pending && !pending.done) {
      pending.done = true;
      // billiard/pool.py Pool.mark_as_worker_lost (4.3)
      pending.reject(
        new WorkerLostError(
          `Worker exited prematurely: ${humanStatus(code, signal)} Job: ${pending.number}.`,
        ),
      );
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0) {
      let child = this.children.find((c) => !c.retiring && c.job === null);
      if (!child && this.children.filter((c) => !c.retiring).length < this.size) child = this.spawn();
      if (!child) return;
      const pending = this.queue.shift() as Pending;
      child.job = pending;
      pending.child = child;
      child.proc.send({ type: "run", job: pending.job });
    }
  }
}
