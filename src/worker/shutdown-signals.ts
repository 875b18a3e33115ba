import { flushLogLines, type Logger } from "../logging.js";

/** What the signal handlers drive: a warm shutdown, and the cold one a second signal asks for. */
export interface Drainable {
  readonly hostname: string;
  close(): Promise<void>;
  /** Abort running tasks now (their `ctx.signal` aborts); the process is about to exit. */
  abandon(): void;
}

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * SIGTERM and SIGINT as Celery's worker treats them (celery/apps/worker.py
 * `install_worker_term_handler` / `install_worker_int_handler`): the first
 * one is a warm shutdown (stop consuming, let running tasks finish, put the
 * prefetched messages back), a second one during it is a cold shutdown.
 * Once the worker is closed the signal is raised again with our handlers
 * removed, so the process ends the way Node ends on that signal, unless the
 * application listens for it too (then the application decides). Returns
 * the function that removes the handlers (the worker calls it on close).
 */
export function handleShutdownSignals(worker: Drainable, logger: Logger): () => void {
  let received: NodeJS.Signals | null = null;
  const remove = () => {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  const reraise = (signal: NodeJS.Signals) => {
    remove();
    if (process.listenerCount(signal) === 0) {
      // Death by signal emits no `exit` event: the lines of this turn (the shutdown's) go out now.
      flushLogLines();
      process.kill(process.pid, signal);
    }
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (received !== null) {
      logger.warn(`${worker.hostname}: Cold shutdown (${signal})`);
      worker.abandon();
      reraise(signal);
      return;
    }
    received = signal;
    logger.warn(`${worker.hostname}: Warm shutdown (${signal})`);
    worker.close().then(
      () => reraise(signal),
      (err: unknown) => {
        logger.error({ err }, `${worker.hostname}: warm shutdown failed: ${String(err)}`);
        reraise(signal);
      },
    );
  }
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return remove;
}
