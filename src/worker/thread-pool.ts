import { Worker as Thread } from "node:worker_threads";
import { PythonError, Retry, type RetryOptions } from "./errors.js";

/**
 * A `worker_threads` pool for CPU-bound handlers (the TS counterpart of
 * Celery's prefork/threads pools). Each thread imports the task modules on
 * demand (see `thread-entry.ts`); a soft time limit is forwarded as an abort
 * of the thread-side `ctx.signal`; a hard time limit terminates the thread
 * and a fresh one replaces it.
 */
export interface ThreadJob {
  module: string;
  exportName: string;
  args: unknown[];
  /** Plain-data view of the context (no functions cross the thread boundary). */
  context: Record<string, unknown>;
}

interface Slot {
  thread: Thread;
  busy: boolean;
}

interface Pending {
  job: ThreadJob;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  slot?: Slot;
  token: ThreadRun;
}

export interface ThreadRun {
  abort(): void;
  terminate(): void;
}

export interface ThreadReply {
  kind: "ok" | "error" | "retry";
  value?: unknown;
  error?: {
    name: string;
    message: string;
    stack?: string;
    excType?: string;
    excModule?: string;
    excArgs?: unknown[];
  };
  retry?: RetryOptions;
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly execArgv: string[] = process.execArgv,
  ) {}

  run(job: ThreadJob): { result: Promise<unknown>; control: ThreadRun } {
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
      pending = { job, resolve, reject, token: control };
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
    const thread = new Thread(new URL("./thread-entry.js", import.meta.url), { execArgv: this.execArgv });
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
    const onMessage = (reply: ThreadReply) => {
      cleanup();
      if (reply.kind === "ok") pending.resolve(reply.value);
      else if (reply.kind === "retry")
        pending.reject(new Retry(reply.retry ?? {}, reply.retry?.countdown ?? 0));
      else pending.reject(rebuildError(reply.error));
    };
    const onError = (err: Error) => {
      cleanup();
      this.replace(slot);
      pending.reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      this.replace(slot);
      pending.reject(new Error(`worker thread exited with code ${code}`));
    };
    slot.thread.on("message", onMessage);
    slot.thread.on("error", onError);
    slot.thread.on("exit", onExit);
    slot.thread.postMessage({ type: "run", job: pending.job });
  }
}

function rebuildError(e: ThreadReply["error"]): unknown {
  if (!e) return new Error("worker thread failed without an error");
  if (e.excType && e.excModule && e.excArgs) {
    const err = new PythonError(e.excType, e.excArgs, e.excModule);
    if (e.stack) err.stack = e.stack;
    return err;
  }
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}
