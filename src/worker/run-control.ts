/**
 * The two abort handles of one run, without an `AbortController` (an EventTarget, its signal
 * and a listener map) per task when nothing ever aborts it: thousands of tasks a second would
 * otherwise build, listen on and drop two controllers each.
 */

/** What aborts a run's handler: `ctx.signal`'s owner (executor.ts fires the time limits through it). */
export interface AbortHandle {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

/**
 * `ctx.signal`'s controller, created the first time the signal is read or aborted: a handler
 * that never looks at `ctx.signal` and is never aborted costs no controller.
 */
export class LazyAbortController implements AbortHandle {
  private controller: AbortController | null = null;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason?: unknown): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }
}

/**
 * The run's own stop switch, held by the worker while the run is in progress: a cold shutdown
 * aborts every run in progress; remote `revoke(terminate=True)` aborts one with `Terminated`
 * (Celery's pool kills the process). The runner listens while the handler runs (one listener
 * at a time: the run has one handler in progress).
 */
export class RunControl {
  private abortReason: unknown = undefined;
  private isAborted = false;
  private listener: ((reason: unknown) => void) | null = null;

  get aborted(): boolean {
    return this.isAborted;
  }

  /** Why it was aborted (undefined while it is not). */
  get reason(): unknown {
    return this.abortReason;
  }

  /** Aborts once: later calls change nothing, as `AbortController.abort`. */
  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    const listener = this.listener;
    this.listener = null;
    listener?.(reason);
  }

  /** Calls `listener` when the run is aborted (not if it already is); returns the way to stop listening. */
  listen(listener: (reason: unknown) => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }
}

/** Whether every run in `runs` ends within `timeoutMs` (a warm shutdown's wait); the timer is cleared. */
export async function runsFinishedWithin(runs: Iterable<Promise<void>>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    Promise.all([...runs]).then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return finished;
}
