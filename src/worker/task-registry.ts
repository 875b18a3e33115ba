import { ConfigError } from "../errors.js";
import type { TaskContext } from "./context.js";
import type { RetryOptions } from "./errors.js";
import { parseRateLimit, type RateLimit } from "./rate-limit.js";
import { checkTaskOptions, TASK_OPTION_KEYS } from "./task-option-checks.js";

/**
 * Task registration, the TS side of Celery's `@app.task` and class-based
 * `Task` bases.
 *
 * A handler is `(ctx, ...args) => result | Promise<result>`: positional
 * args are spread, keyword args are in `ctx.kwargs` (Python callers send
 * both). The return value must be serializable by the result serializer.
 */
export type TaskHandler<A extends unknown[] = unknown[], R = unknown> = (
  ctx: TaskContext,
  ...args: A
) => R | Promise<R>;

/** Which errors trigger an automatic retry: an Error class, a Python exception name (`"ValueError"`), or a predicate. */
export type ErrorMatcher =
  | (abstract new (
      ...args: never[]
    ) => unknown)
  | string
  | ((err: unknown) => boolean);

/** A handler that runs in the `worker_threads` pool: the module is imported inside each thread. */
export interface ThreadedHandler {
  readonly kind: "threaded";
  /** Absolute path or file: URL of an ES module. */
  readonly module: string;
  /** Named export holding the handler `(ctx, ...args)`; ctx in a thread has no `retry()` (throw `Retry`-free errors instead). */
  readonly exportName: string;
}

/** Mark a task to run in the worker's thread pool (CPU-bound handlers). */
export function threadedTask(module: string | URL, exportName: string): ThreadedHandler {
  return { kind: "threaded", module: module.toString(), exportName };
}

/** A handler that runs in a child process of the worker's process pool (process-pool.ts). */
export interface ProcessHandler {
  readonly kind: "process";
  /** Absolute path or file: URL of an ES module, imported by each child. */
  readonly module: string;
  /** Named export holding the handler `(ctx, ...args)`. */
  readonly exportName: string;
}

/**
 * Mark a task to run in a child process, Celery's prefork model: a hard time
 * limit kills the child, `workerMaxTasksPerChild` / `workerMaxMemoryPerChild`
 * recycle it, and a child that dies mid-task fails it with `WorkerLostError`.
 */
export function processTask(module: string | URL, exportName: string): ProcessHandler {
  return { kind: "process", module: module.toString(), exportName };
}

/** A handler named by module + export, which a pool thread or child process imports itself. */
export type ModuleHandler = ThreadedHandler | ProcessHandler;

/** Celery's task options, camelCased; unset ones fall back to the base, then to the app settings, then Celery's defaults. */
export interface TaskOptions {
  /** `max_retries`, default 3; `null` retries forever. */
  maxRetries?: number | null;
  /** `default_retry_delay` in seconds, default 180. */
  defaultRetryDelay?: number;
  /** `rate_limit`: `"100/s"`, `"10/m"`, `"5/h"` or tasks per second. */
  rateLimit?: RateLimit | null;
  /** `ignore_result`: store no result (the message header can override it, Celery 5.6.3+ rules). */
  ignoreResult?: boolean;
  /** Hard time limit in seconds: the task is abandoned and fails with TimeLimitExceeded. */
  timeLimit?: number | null;
  /** Soft time limit in seconds: `ctx.signal` aborts with SoftTimeLimitExceeded. */
  softTimeLimit?: number | null;
  /** Ack after the handler finished instead of before it starts. */
  acksLate?: boolean;
  /**
   * `acks_on_failure_or_timeout` (acksLate only): ack a failed or timed-out message (default
   * `taskAcksOnFailureOrTimeout`, true); false rejects a failure and requeues a time-out.
   */
  acksOnFailureOrTimeout?: boolean;
  /** `reject_on_worker_lost` (acksLate only): requeue instead of failing when the pool child dies. */
  rejectOnWorkerLost?: boolean;
  /** Store STARTED (`{pid, hostname}`) when the handler starts. */
  trackStarted?: boolean;
  /** Errors that trigger `ctx.retry({exc, countdown: backoff})` automatically. */
  autoretryFor?: ErrorMatcher[];
  /** Errors excluded from `autoretryFor`. */
  dontAutoretryFor?: ErrorMatcher[];
  /** Extra `retry()` options for autoretry (`maxRetries`, `countdown`). */
  retryKwargs?: Pick<RetryOptions, "maxRetries" | "countdown">;
  /** Exponential backoff for autoretry: `true` (factor 1) or a factor in seconds. */
  retryBackoff?: boolean | number;
  /** Cap of the backoff in seconds, default 600. */
  retryBackoffMax?: number;
  /** Full jitter on the backoff, default true. */
  retryJitter?: boolean;
  /** Result serializer for this task's results (`"json"`, `"msgpack"`, `"yaml"`). */
  serializer?: string;
  /**
   * The handler's parameter names after `ctx`, as Python's
   * `inspect.signature(task.run)` sees them (a JS function does not keep
   * them reliably). Declared, keyword args from a caller fill the parameters
   * they name (`got multiple values for argument` when a positional arg
   * already did, as in Python) and `ctx.retry({ args })` / `({ kwargs })`
   * rebind as Celery's `Task.retry` does. Unset: positional args as
   * received, keyword args only in `ctx.kwargs`, no rebinding.
   */
  params?: readonly string[];
  /**
   * How this task is called when it is an errback (`link_error`) of a task that fails in this
   * worker: `"request"` = in this process with `(request, exc, traceback, ...stored args)`,
   * Celery's new-style errback; `"id"` = sent as a task with the failed task's id. Unset: Celery's
   * arity rule on the handler's declared parameters (src/worker/errbacks.ts). A `threadedTask` /
   * `processTask` errback is always sent.
   */
  errbackArgs?: "request" | "id";
  /** Shared defaults, like a Celery `Task` base class. */
  base?: TaskBase;
}

// The checked keys are exactly TaskOptions' keys (compile-time checks both ways).
void (TASK_OPTION_KEYS satisfies readonly (keyof TaskOptions)[]);
void (true satisfies [Exclude<keyof TaskOptions, (typeof TASK_OPTION_KEYS)[number]>] extends [never]
  ? true
  : never);

/** Shared options for many tasks, chainable like Python's class-based bases. */
export interface TaskBase {
  readonly options: Readonly<Omit<TaskOptions, "base">>;
  extend(options: Omit<TaskOptions, "base">): TaskBase;
}

export function defineTaskBase(options: Omit<TaskOptions, "base">, parent?: TaskBase): TaskBase {
  checkTaskOptions(options);
  const merged = { ...(parent?.options ?? {}), ...dropUndefined(options) };
  const base: TaskBase = {
    options: Object.freeze(merged),
    extend: (more) => defineTaskBase(more, base),
  };
  return base;
}

/** App-wide task defaults (Celery settings `task_acks_late`, `task_track_started`, ...). */
export interface TaskDefaults {
  taskAcksLate?: boolean;
  taskAcksOnFailureOrTimeout?: boolean;
  taskRejectOnWorkerLost?: boolean;
  taskTrackStarted?: boolean;
  taskIgnoreResult?: boolean;
  taskTimeLimit?: number | null;
  taskSoftTimeLimit?: number | null;
  taskDefaultRateLimit?: RateLimit | null;
  resultSerializer?: string;
}

/** A task's options after applying base and app defaults; every field decided. */
export interface ResolvedTaskOptions {
  maxRetries: number | null;
  defaultRetryDelay: number;
  /** Tasks per second; 0 = unlimited. */
  rateLimit: number;
  ignoreResult: boolean;
  timeLimit: number | null;
  softTimeLimit: number | null;
  acksLate: boolean;
  acksOnFailureOrTimeout: boolean;
  rejectOnWorkerLost: boolean;
  trackStarted: boolean;
  autoretryFor: ErrorMatcher[];
  dontAutoretryFor: ErrorMatcher[];
  retryKwargs: Pick<RetryOptions, "maxRetries" | "countdown">;
  retryBackoff: boolean | number;
  retryBackoffMax: number;
  retryJitter: boolean;
  serializer: string | null;
  params: readonly string[] | null;
  errbackArgs: "request" | "id" | null;
}

export interface TaskDefinition {
  readonly name: string;
  readonly handler: TaskHandler | ModuleHandler;
  readonly options: ResolvedTaskOptions;
}

export function resolveTaskOptions(
  options: TaskOptions = {},
  defaults: TaskDefaults = {},
): ResolvedTaskOptions {
  checkTaskOptions(options);
  const o: Omit<TaskOptions, "base"> = { ...(options.base?.options ?? {}), ...dropUndefined(options) };
  const seconds = (name: string, v: number | null | undefined): number | null => {
    if (v === null || v === undefined) return null;
    if (!Number.isFinite(v) || v <= 0)
      throw new ConfigError(name, `${name} must be a positive number of seconds (got ${v})`);
    return v;
  };
  const maxRetries = o.maxRetries === undefined ? 3 : o.maxRetries;
  if (maxRetries !== null && (!Number.isInteger(maxRetries) || maxRetries < 0)) {
    throw new ConfigError(
      "maxRetries",
      `maxRetries must be a non-negative integer or null (got ${maxRetries})`,
    );
  }
  return {
    maxRetries,
    defaultRetryDelay: o.defaultRetryDelay ?? 180,
    rateLimit: parseRateLimit(o.rateLimit === undefined ? defaults.taskDefaultRateLimit : o.rateLimit),
    ignoreResult: o.ignoreResult ?? defaults.taskIgnoreResult ?? false,
    timeLimit: seconds("timeLimit", o.timeLimit === undefined ? defaults.taskTimeLimit : o.timeLimit),
    softTimeLimit: seconds(
      "softTimeLimit",
      o.softTimeLimit === undefined ? defaults.taskSoftTimeLimit : o.softTimeLimit,
    ),
    acksLate: o.acksLate ?? defaults.taskAcksLate ?? false,
    acksOnFailureOrTimeout: o.acksOnFailureOrTimeout ?? defaults.taskAcksOnFailureOrTimeout ?? true,
    rejectOnWorkerLost: o.rejectOnWorkerLost ?? defaults.taskRejectOnWorkerLost ?? false,
    trackStarted: o.trackStarted ?? defaults.taskTrackStarted ?? false,
    autoretryFor: o.autoretryFor ?? [],
    dontAutoretryFor: o.dontAutoretryFor ?? [],
    retryKwargs: o.retryKwargs ?? {},
    retryBackoff: o.retryBackoff ?? false,
    retryBackoffMax: o.retryBackoffMax ?? 600,
    retryJitter: o.retryJitter ?? true,
    serializer: o.serializer ?? defaults.resultSerializer ?? null,
    params: o.params ? Object.freeze([...o.params]) : null,
    errbackArgs: o.errbackArgs ?? null,
  };
}

/** Does `err` match one of the matchers (class, Python exception name, or predicate)? */
export function matchesError(err: unknown, matchers: ErrorMatcher[]): boolean {
  return matchers.some((m) => {
    if (typeof m === "string") {
      const pyType = (err as { excType?: unknown } | null)?.excType;
      const name = typeof pyType === "string" ? pyType : err instanceof Error ? err.name : undefined;
      return name === m || (m === "Exception" && err instanceof Error);
    }
    if (isConstructor(m)) return err instanceof (m as abstract new (...args: never[]) => unknown);
    return (m as (e: unknown) => boolean)(err);
  });
}

function isConstructor(m: unknown): boolean {
  return (
    typeof m === "function" && m.prototype !== undefined && (m === Error || m.prototype instanceof Error)
  );
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k !== "base") (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Name → definition. Task names are Celery's (`"ts.resize"`), matched exactly against the `task` header. */
export class TaskRegistry {
  private readonly tasks = new Map<string, TaskDefinition>();

  constructor(private readonly defaults: TaskDefaults = {}) {}

  register<A extends unknown[], R>(
    name: string,
    handler: TaskHandler<A, R> | ModuleHandler,
    options: TaskOptions = {},
  ): TaskDefinition {
    if (typeof name !== "string" || name === "")
      throw new ConfigError("task", "a task needs a non-empty name");
    const definition: TaskDefinition = {
      name,
      handler: handler as TaskHandler | ModuleHandler,
      options: resolveTaskOptions(options, this.defaults),
    };
    this.tasks.set(name, definition);
    return definition;
  }

  get(name: string): TaskDefinition | undefined {
    return this.tasks.get(name);
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  names(): string[] {
    return [...this.tasks.keys()].sort();
  }
}
