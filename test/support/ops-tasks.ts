/**
 * The TS side of the operations suites (test/interop/worker-ops/): the tasks every TS worker
 * there registers, what they record, extra workers for mingle/duplicate-name cases, and a bounded
 * poll. One copy for both brokers.
 */
import { Celery, type CeleryOptions } from "../../src/index.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";

export class OpsTasks {
  /** Ids of every run, in order. */
  readonly ran: string[] = [];
  /** Why each blocked task's signal aborted (remote terminate, shutdown). */
  readonly abortReasons = new Map<string, unknown>();
  private readonly started = new Map<string, () => void>();
  private readonly extra: { app: Celery; worker: Worker }[] = [];

  /** Resolves once task `id` (a `ts.block`) is running. */
  whenStarted(id: string): Promise<void> {
    return new Promise((resolve) => this.started.set(id, resolve));
  }

  /** `ts.add`, `ts.fail` (a Python ValueError) and `ts.block` (runs until its signal aborts). */
  register(target: Celery): void {
    target.task("ts.add", (ctx, a: number, b: number) => {
      this.ran.push(ctx.id);
      return a + b;
    });
    target.task("ts.fail", (ctx) => {
      this.ran.push(ctx.id);
      throw new PythonError("ValueError", ["bad input"]);
    });
    target.task("ts.block", (ctx) => {
      this.ran.push(ctx.id);
      this.started.get(ctx.id)?.();
      return new Promise((_, reject) => {
        ctx.signal.addEventListener("abort", () => {
          this.abortReasons.set(ctx.id, ctx.signal.reason);
          reject(ctx.signal.reason);
        });
      });
    });
  }

  /** Another app + TS worker with these tasks, closed by {@link closeExtra}. */
  async startExtraWorker(
    appOptions: CeleryOptions,
    name: string,
    options: { withoutMingle: boolean; queue: string },
  ): Promise<Worker> {
    const extraApp = new Celery(appOptions);
    this.register(extraApp);
    const w = extraApp.worker({
      queues: [options.queue],
      hostname: name,
      withoutMingle: options.withoutMingle,
    });
    this.extra.push({ app: extraApp, worker: w });
    await w.start();
    return w;
  }

  async closeExtra(): Promise<void> {
    for (const e of this.extra) await e.worker.close({ timeoutMs: 2000 });
    for (const e of this.extra) await e.app.close();
  }
}

/** Polls `probe` every 100 ms until it gives a truthy value; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
