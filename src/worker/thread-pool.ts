import { Worker as Thread } from "node:worker_threads";
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
 * A `worker_threads` pool for CPU-bound handlers (the TS counterpart of
 * Celery's prefork/threads pools). Each thread imports the task modules on
 * demand (see `thread-entry.ts`); a soft time limit is forwarded as an abort
 * of the thread-side `ctx.signal`; a hard time limit terminates the thread
 * (even one stuck in a synchronous loop) and a fresh one replaces it, as
 * billiard replaces a prefork child killed by `time_limit`.
 *
 * Loaders (`.ts` task modules): a worker thread does not inherit a loader
 * registered programmatically in the main thread (vitest's module runner,
 * tsx's `register()`), and Node 20 ignores `--import`/`--loader` hooks given
 * in a Worker's `execArgv` (nodejs/node#47747, fixed in 22.2). So the pool
 * takes every `--import X` out of the thread's execArgv and imports X inside
 * the thread, before the thread body, through a small bootstrap. tsx needs
 * one more step there: its `--import` entry registers hooks in the main
 * thread only, so `tsx` is preloaded as `tsx/esm/api`'s `register()`.
 * Net effect: `threadExecArgv: ["--import", "tsx"]` runs `.ts` task modules
 * on Node 20+ (needed under vitest); a process started as
 * `node --import tsx app.ts` passes the same through its default execArgv;
 * compiled `.js` modules need nothing.
 */
/** A job for a pool thread (module-job.ts). */
export type ThreadJob = ModuleJob;

interface Slot {
  thread: Thread;
  busy: boolean;
}

interface Pending {
  job: ThreadJob;
  hooks: ModuleJobHooks;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  slot?: Slot;
  token: ThreadRun;
}

export interface ThreadRun {
  abort(): void;
  terminate(): void;
}

export type ThreadReply = ModuleReply;

/**
 * The thread body next to this file: `thread-entry.js` in the build, but
 * `thread-entry.ts` when this module itself runs from source (tsx, vitest),
 * where no `.js` file exists and a thread's loader does not rewrite the
 * entry point's extension (only imports made from a `.ts` file).
 */
const THREAD_ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./thread-entry.ts" : "./thread-entry.js",
  import.meta.url,
);

/** One module a thread imports before its body; `call` names an export to invoke after import. */
export interface ThreadPreload {
  specifier: string;
  call?: string;
}

interface BootstrapData {
  preloads: ThreadPreload[];
  entry: string;
}

/**
 * The thread's first code (a CommonJS eval script, so it needs no file of
 * its own and no loader): preloads, then the thread body. A failure there
 * is rethrown uncaught, which the pool sees as the thread's `error` event.
 * Bare preload specifiers resolve from the working directory, as `--import`'s do.
 */
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
(async () => {
  for (const preload of workerData.preloads) {
    const mod = await import(preload.specifier);
    if (preload.call) await mod[preload.call]();
  }
  await import(workerData.entry);
})().catch((err) => process.nextTick(() => { throw err; }));
`;

/** tsx's `--import` entry: bare, or the resolved `.../tsx/dist/loader.mjs` seen in a tsx-started process's execArgv. */
const TSX_LOADER = /^(.*[\\/]tsx[\\/]dist[\\/])loader\.mjs$/;

/**
 * Splits a thread's execArgv into the flags Node applies itself and the
 * `--import` preloads the bootstrap must perform (see the class comment).
 */
export function splitThreadArgv(argv: readonly string[]): { execArgv: string[]; preloads: ThreadPreload[] } {
  const execArgv: string[] = [];
  const preloads: ThreadPreload[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let specifier: string | undefined;
    if (arg === "--import" && i + 1 < argv.length) specifier = argv[++i];
    else if (arg.startsWith("--import=")) specifier = arg.slice("--import=".length);
    if (specifier === undefined) {
      execArgv.push(arg);
      continue;
    }
    const tsxDist = TSX_LOADER.exec(specifier)?.[1];
    if (specifier === "tsx") preloads.push({ specifier: "tsx/esm/api", call: "register" });
    else if (tsxDist) preloads.push({ specifier: `${tsxDist}esm/api/index.mjs`, call: "register" });
    else preloads.push({ specifier });
  }
  return { execArgv, preloads };
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly execArgv: string[] = process.execArgv,
  ) {}

  run(job: ThreadJob, hooks: ModuleJobHooks = {}): { result: Promise<unknown>; control: ThreadRun } {
    let pending!: Pending;
    const control: ThreadRun = {
      abort: () => pending.slot?.thread.postMessage({ type: "abort" }),
      terminate: () => {
        const slot = pending.slot;
        if (!slot) {
          const at = this.queue.indexOf(pending);
          if (at !== -1) this.queue.splice(at, 1);
          return;
        }
        this.replace(slot);
      },
    };
    const result = new Promise<unknown>((resolve, reject) => {
      pending = { job, hooks, resolve, reject, token: control };
    });
    this.queue.push(pending);
    this.pump();
    return { result, control };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
    this.slots.length = 0;
  }

  private spawn(): Slot {
    const { execArgv, preloads } = splitThreadArgv(this.execArgv);
    const thread = new Thread(BOOTSTRAP, {
      eval: true,
      execArgv,
      workerData: { preloads, entry: THREAD_ENTRY.href } satisfies BootstrapData,
    });
    thread.unref();
    const slot: Slot = { thread, busy: false };
    this.slots.push(slot);
    return slot;
  }

  private replace(slot: Slot): void {
    const at = this.slots.indexOf(slot);
    if (at !== -1) this.slots.splice(at, 1);
    slot.thread.removeAllListeners();
    void slot.thread.terminate();
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const pending = this.queue.shift() as Pending;
      this.dispatch(slot, pending);
    }
  }

  private dispatch(slot: Slot, pending: Pending): void {
    slot.busy = true;
    pending.slot = slot;
    const cleanup = () => {
      slot.thread.off("message", onMessage);
      slot.thread.off("error", onError);
      slot.thread.off("exit", onExit);
      slot.busy = false;
      this.pump();
    };
    const onMessage = (reply: ThreadReply | StateMessage) => {
      if (isStateMessage(reply)) {
        answerStateMessage(reply, pending.hooks.updateState, (ack) => slot.thread.postMessage(ack));
        return;
      }
      cleanup();
      const settled = settleReply(reply);
      if (settled.ok) pending.resolve(settled.value);
      else pending.reject(settled.error);
    };
    const onError = (err: Error) => {
      cleanup();
      this.replace(slot);
      pending.reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      this.replace(slot);
      // A thread that ends mid-task (process.exit in the handler) is billiard's lost worker
      // (billiard/pool.py Pool.mark_as_worker_lost), so rejectOnWorkerLost applies to threads too.
      pending.reject(new WorkerLostError(`Worker exited prematurely: exitcode ${code}.`));
    };
    slot.thread.on("message", onMessage);
    slot.thread.on("error", onError);
    slot.thread.on("exit", onExit);
    slot.thread.postMessage({ type: "run", job: pending.job });
  }
}
