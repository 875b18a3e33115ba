import { SoftTimeLimitExceeded, Terminated, TimeLimitExceeded } from "./errors.js";
import type { AbortHandle, RunControl } from "./run-control.js";

/**
 * Runs one handler invocation under Celery's two time limits
 * (celery/worker/request.py `Request.on_timeout`, billiard's pool timers):
 *
 * - soft: the run's `AbortSignal` aborts with `SoftTimeLimitExceeded`;
 *   the handler may clean up. If it then fails with the abort reason or an
 *   `AbortError`, the failure is recorded as `SoftTimeLimitExceeded`, as the
 *   exception a Python task sees.
 * - hard: the outcome is `timeout`, stored as `TimeLimitExceeded(<seconds>)`.
 *   A run that can be killed (a thread-pool run: `onHardTimeout` terminates
 *   it) is gone at once. A plain async handler cannot be killed (a Promise has
 *   no owner to stop): `settled` resolves only when its promise finally
 *   settles, and the worker keeps the run's concurrency slot until then, so
 *   the concurrency limit holds even for handlers that ignore `ctx.signal`
 *   (billiard likewise frees a prefork slot only once the child is gone).
 */
export type Outcome =
  | { kind: "ok"; value: unknown }
  | { kind: "error"; error: unknown }
  | { kind: "timeout"; seconds: number; killed: boolean; settled: Promise<void> };

/** An {@link Outcome}, or the run ended by a remote `revoke(terminate=True)`. */
export type RunEnd = Outcome | { kind: "terminated"; reason: Terminated };

export interface LimitOptions {
  soft: number | null;
  hard: number | null;
  /** `ctx.signal`'s owner: an `AbortController` or a lazy one (run-control.ts). */
  controller: AbortHandle;
  /**
   * The run's own stop switch: its abort aborts `controller` too, and an abort with
   * {@link Terminated} ends the run as terminated at once (Celery's pool kills the process).
   */
  stop: Pick<RunControl, "aborted" | "reason" | "listen">;
  onSoftTimeout?: (seconds: number) => void;
  /** Kills the run at the hard limit (thread pool: terminate the thread); absent = cannot be killed. */
  onHardTimeout?: (seconds: number) => void;
}

export function runWithLimits(run: () => unknown, options: LimitOptions): Promise<RunEnd> {
  const { controller, stop } = options;
  let softFired = false;
  return new Promise<RunEnd>((resolve) => {
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    let stopListening: (() => void) | null = null;
    const finish = (outcome: RunEnd) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      stopListening?.();
      // A handler that settled on the abort itself still counts as terminated.
      const reason: unknown = stop.reason;
      resolve(reason instanceof Terminated ? { kind: "terminated", reason } : outcome);
    };
    // One listener on the run's stop switch forwards its abort to ctx.signal and notices a
    // remote terminate; the handler still starts when the switch was already thrown, as before.
    if (stop.aborted) {
      if (stop.reason instanceof Terminated) finish({ kind: "terminated", reason: stop.reason });
    } else {
      stopListening = stop.listen((reason) => {
        controller.abort(reason);
        if (reason instanceof Terminated) finish({ kind: "terminated", reason });
      });
    }
    if (options.soft !== null && (options.hard === null || options.soft < options.hard)) {
      const soft = options.soft;
      timers.push(
        setTimeout(() => {
          softFired = true;
          options.onSoftTimeout?.(soft);
          controller.abort(new SoftTimeLimitExceeded(soft));
        }, soft * 1000),
      );
    }
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(run());
    } catch (error) {
      result = Promise.reject(error);
    }
    if (options.hard !== null) {
      const hard = options.hard;
      timers.push(
        setTimeout(() => {
          if (done) return;
          if (!controller.signal.aborted) controller.abort(new TimeLimitExceeded(hard));
          const kill = options.onHardTimeout;
          kill?.(hard);
          const settled = kill
            ? Promise.resolve()
            : result.then(
                () => undefined,
                () => undefined,
              );
          finish({ kind: "timeout", seconds: hard, killed: kill !== undefined, settled });
        }, hard * 1000),
      );
    }
    result.then(
      (value) => finish({ kind: "ok", value }),
      (error: unknown) => {
        const isAbort =
          error === controller.signal.reason ||
          (typeof error === "object" &&
            error !== null &&
            (error as { name?: unknown }).name === "AbortError");
        if (softFired && isAbort && !(error instanceof SoftTimeLimitExceeded)) {
          finish({ kind: "error", error: controller.signal.reason });
        } else {
          finish({ kind: "error", error });
        }
      },
    );
  });
}
