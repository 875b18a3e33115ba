import type { Signature } from "../canvas/signature.js";
import { CeleryError } from "../errors.js";
import { saferepr } from "../protocol/saferepr.js";

/**
 * Throwables a task handler uses for control flow, and the time-limit errors
 * the worker raises, each carrying the Python identity (`exc_type`,
 * `exc_module`, `exc_message` args) Celery stores for it, so a Python
 * `AsyncResult.get()` re-raises the same class.
 *
 * Identities checked against the Python sources:
 * - `celery.exceptions.Retry`, `Reject`, `Ignore`, `MaxRetriesExceededError`
 * - `SoftTimeLimitExceeded` / `TimeLimitExceeded` are billiard's
 *   (`celery/exceptions.py` re-exports `billiard.exceptions`), so their
 *   `__module__` — what Celery stores — is `billiard.exceptions`.
 */
export interface PythonIdentity {
  readonly excType: string;
  readonly excModule: string;
  /** Python `exc.args`, stored as `exc_message`. */
  readonly excArgs: unknown[];
}

/**
 * Throw this from a handler to fail with an arbitrary Python exception class:
 * `throw new PythonError("ValueError", ["bad value", 7])` is stored as
 * `{"exc_type": "ValueError", "exc_message": ["bad value", 7], "exc_module": "builtins"}`.
 */
export class PythonError extends CeleryError implements PythonIdentity {
  readonly excType: string;
  readonly excModule: string;
  readonly excArgs: unknown[];

  constructor(excType: string, excArgs: unknown[] = [], excModule = "builtins") {
    super("ERR_TASK_FAILED", `${excType}(${excArgs.map((a) => saferepr(a, { maxlen: 1024 })).join(", ")})`);
    this.excType = excType;
    this.excModule = excModule;
    this.excArgs = excArgs;
  }
}

/** Options of `ctx.retry()`, the subset of Celery's `Task.retry()` keywords that make sense across the bridge. */
export interface RetryOptions {
  /** The error that caused the retry; stored as the RETRY result and re-thrown when retries run out. */
  exc?: unknown;
  /** Seconds before the retry runs; default the task's `defaultRetryDelay` (180). */
  countdown?: number;
  /** Absolute time of the retry (wins over countdown). */
  eta?: Date;
  /** Overrides the task's `maxRetries` for this call (`null` = unlimited). */
  maxRetries?: number | null;
  /** Positional args of the retried task (default: the same). */
  args?: unknown[];
  /** Keyword args of the retried task (default: the same). */
  kwargs?: Record<string, unknown>;
  queue?: string;
  priority?: number;
  /** `expires` of the retried message: seconds from now or a time; `null` = none. Default the request's own. */
  expires?: number | Date | null;
  /** Hard time limit (seconds) of the retried run; `null` = the task's own. Default the request's. */
  timeLimit?: number | null;
  /** Soft time limit (seconds) of the retried run; `null` = the task's own. Default the request's. */
  softTimeLimit?: number | null;
  /** Custom headers of the retried message, in place of the received ones (Celery's `headers=`). */
  headers?: Record<string, unknown>;
}

/**
 * `celery.exceptions.Retry`: the handler asked to be retried. The worker
 * publishes the retry message (same id, `retries + 1`) and stores RETRY meta.
 */
export class Retry extends CeleryError implements PythonIdentity {
  readonly excType = "Retry";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[];
  readonly exc: unknown;
  /** Seconds (countdown) or absolute eta. */
  readonly when: number | Date;
  readonly options: RetryOptions;

  constructor(options: RetryOptions, when: number | Date) {
    const shown = when instanceof Date ? when.toISOString() : `${when}s`;
    super("ERR_RETRY", `Retry in ${shown}`);
    this.exc = options.exc;
    this.when = when;
    this.options = options;
    this.excArgs = [this.message];
  }
}

/** `celery.exceptions.Reject`: reject the message, requeued or not (Celery 5.7: stores FAILURE when not requeued). */
export class Reject extends CeleryError implements PythonIdentity {
  readonly excType = "Reject";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[];
  readonly requeue: boolean;

  constructor(reason?: unknown, requeue = false) {
    super("ERR_REJECT", `Reject: ${String(reason ?? "")}`);
    this.requeue = requeue;
    this.excArgs = [reason ?? null, requeue];
  }
}

/** `celery.exceptions.Ignore`: ack the message and store no result (the handler wrote its own state). */
export class Ignore extends CeleryError implements PythonIdentity {
  readonly excType = "Ignore";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[] = [];

  constructor(message = "Ignore") {
    super("ERR_IGNORE", message);
  }
}

/**
 * What `ctx.replace(sig)` throws (celery/app/task.py `Task.on_replace`, 5.7.0:
 * `sig.delay()` then `raise Ignore('Replaced by new task')`): the worker
 * sends `replacement` (already built: frozen with this task's id) and ends
 * the task as ignored, storing nothing of its own. A send that fails fails
 * the task with that error instead.
 */
export class Replace extends Ignore {
  readonly replacement: Signature;

  constructor(replacement: Signature) {
    super("Replaced by new task");
    this.replacement = replacement;
  }
}

/** billiard's SoftTimeLimitExceeded: what a handler sees (via `ctx.signal.reason`) when its soft limit fires. */
export class SoftTimeLimitExceeded extends CeleryError implements PythonIdentity {
  readonly excType = "SoftTimeLimitExceeded";
  readonly excModule = "billiard.exceptions";
  /** billiard raises it without arguments (`pool.py soft_timeout_sighandler`). */
  readonly excArgs: unknown[] = [];

  constructor(readonly seconds?: number) {
    super("ERR_SOFT_TIME_LIMIT", `SoftTimeLimitExceeded()`);
  }
}

/** billiard's TimeLimitExceeded(timeout): stored by `Request.on_timeout` when the hard limit kills a task. */
export class TimeLimitExceeded extends CeleryError implements PythonIdentity {
  readonly excType = "TimeLimitExceeded";
  readonly excModule = "billiard.exceptions";
  readonly excArgs: unknown[];

  constructor(readonly seconds: number) {
    super("ERR_TIME_LIMIT", `TimeLimitExceeded(${seconds})`);
    this.excArgs = [seconds];
  }
}

/**
 * billiard's WorkerLostError: the pool child running the task exited before
 * it replied (a crash, `process.exit()`, SIGKILL). Stored as FAILURE by
 * `Request.on_failure` unless `taskRejectOnWorkerLost` requeues it.
 */
export class WorkerLostError extends CeleryError implements PythonIdentity {
  readonly excType = "WorkerLostError";
  readonly excModule = "billiard.exceptions";
  readonly excArgs: unknown[];

  constructor(message: string) {
    super("ERR_WORKER_LOST", message);
    this.excArgs = [message];
  }
}

/** `celery.exceptions.MaxRetriesExceededError`, raised by `ctx.retry()` when no `exc` was given. */
export class MaxRetriesExceededError extends CeleryError implements PythonIdentity {
  readonly excType = "MaxRetriesExceededError";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[];

  constructor(message: string) {
    super("ERR_MAX_RETRIES", message);
    this.excArgs = [message];
  }
}

/**
 * `celery.exceptions.Terminated(signum)`: the run was ended by remote
 * control (`revoke(terminate=True)`). It is the abort reason of the task's
 * `ctx.signal`; the worker stores REVOKED ("terminated") and sends
 * `task-revoked` with `terminated: true` (celery/worker/request.py `on_failure`).
 */
export class Terminated extends CeleryError implements PythonIdentity {
  readonly excType = "Terminated";
  readonly excModule = "celery.exceptions";
  readonly excArgs: unknown[];

  constructor(readonly signum: number) {
    super("ERR_TERMINATED", `Terminated(${signum})`);
    this.excArgs = [signum];
  }
}
