import type { SignatureLike } from "../canvas/options.js";
import type { Signature } from "../canvas/signature.js";
import type { AnyResult } from "../client/result.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { DeliveryInfo } from "../transports/transport.js";
import type { RetryOptions } from "./errors.js";

/** Options of `ctx.updateState()`: Celery's `Task.update_state(task_id=...)`. */
export interface UpdateStateOptions {
  /** Whose state to write; default this task's id. The request's other fields still describe this task, as in Celery. */
  taskId?: string;
}

/**
 * What a handler receives as its first argument: the request (Celery's
 * `self.request` of a bound task) plus the two things a TS handler needs to
 * cooperate with the worker: an `AbortSignal` and `retry()`.
 *
 * ```ts
 * app.task("ts.resize", async (ctx, path: string, width: number) => {
 *   const dpi = ctx.kwargs.dpi ?? 72;                 // keyword args
 *   await resize(path, width, dpi, { signal: ctx.signal });
 *   if (busy) ctx.retry({ countdown: 5 });           // throws: nothing after it runs
 * });
 * ```
 */
export interface TaskContext {
  /** Task id (`headers.id`); the same across retries. */
  readonly id: string;
  /** Registered task name (`headers.task`). */
  readonly name: string;
  /** Positional args as received. */
  readonly args: readonly unknown[];
  /** Keyword args as received (Python callers pass them; TS handlers read them here). */
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** How many times this task was retried before this run (`headers.retries`). */
  readonly retries: number;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly groupId: string | null;
  readonly groupIndex: number | null;
  readonly eta: Date | null;
  readonly expires: Date | null;
  /** `[hard, soft]` seconds in force for this run (message header, else the task's options). */
  readonly timeLimit: readonly [number | null, number | null];
  /** Sender node name (`headers.origin`). */
  readonly origin: string | null;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
  /** Non-Celery message headers (Celery `request.headers` / `Context._get_custom_headers`). */
  readonly headers: Readonly<Record<string, unknown>>;
  /**
   * Where the message came from (exchange, routing key, priority, queue) and
   * `redelivered`: true when the broker delivers it again (AMQP redelivery;
   * on Redis a message restored by `Reject(requeue)`, a visibility timeout or
   * a warm shutdown, as kombu marks it).
   */
  readonly deliveryInfo: Readonly<DeliveryInfo>;
  /** Message properties as received, including any a producer added (`app_id`, ...): Celery's `request.properties`. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The chord this task is a header member of (its body signature), else null: `request.chord`. */
  readonly chord: Readonly<SignatureDict> | null;
  /** How many `replace()` calls led to this task (`replaced_task_nesting`). */
  readonly replacedTaskNesting: number;
  /**
   * Names of the stamps this task carries (`request.stamped_headers`, [] when none): set by
   * stamping its workflow (`sig.stamp(visitor)` in TS or Python).
   */
  readonly stampedHeaders: readonly string[];
  /** Each stamp's value by name (celery/worker/request.py `Request.stamps`). */
  readonly stamps: Readonly<Record<string, unknown>>;
  /** Celery's `request.is_eager`: false in a worker, true when run by `handle.apply()` / `taskAlwaysEager`. */
  readonly isEager: boolean;
  /** This worker's node name (`celery@host`); the host name when run eagerly. */
  readonly hostname: string;
  /**
   * Aborts when the soft time limit fires (reason: `SoftTimeLimitExceeded`),
   * when the hard limit abandons the task (reason: `TimeLimitExceeded`) or
   * at a cold shutdown. Pass it to fetch/streams, or check `signal.aborted`.
   */
  readonly signal: AbortSignal;
  /**
   * Celery's `Task.retry()`: re-sends this task (same id, `retries + 1`, eta
   * = now + countdown, parent id = this id) and throws `Retry`, so the worker
   * stores RETRY meta. When retries are exhausted it throws `options.exc`
   * (or `MaxRetriesExceededError`) instead, and the task fails. Always throws.
   */
  retry(options?: RetryOptions): never;
  /**
   * Celery's `Task.replace(sig)`: this task turns into `sig`, which takes over
   * its id (a chain's last step gets it), its group and chord membership, its
   * callbacks, errbacks and the rest of its chain, with
   * `replaced_task_nesting + 1`. A group is chained to `celery.accumulate`,
   * so this task's result is the group's list. The worker sends `sig` and
   * stores nothing for this task (Celery's `Ignore`). Always throws: write
   * `return ctx.replace(sig)`. A signature already part of a chord, or an
   * empty chain, throws `ImproperlyConfigured` (catchable) instead.
   */
  replace(sig: SignatureLike): never;
  /**
   * Celery's `Task.add_to_chord(sig, lazy)` (Redis backend): `sig` joins the
   * chord this task is a header member of, so the chord body waits for it
   * too. Sends `sig` and resolves to its result, or with `lazy` resolves to
   * the frozen signature for you to send. Rejects with `ValueError` when this
   * task is not part of a chord.
   */
  addToChord(sig: SignatureLike, lazy?: false): Promise<AnyResult>;
  addToChord(sig: SignatureLike, lazy: true): Promise<Signature>;
  /**
   * Celery's `Task.update_state(state=..., meta=...)`: stores a custom state
   * (`"PROGRESS"` with `{current, total}`) that Python's `AsyncResult.state` /
   * `.info` and TS `result.state()` / `result.info()` read while the task runs.
   * Needs a result backend; written even when the task ignores its result.
   *
   * ```ts
   * await ctx.updateState("PROGRESS", { current: i, total: n });
   * ```
   */
  updateState(state: string, meta?: unknown, options?: UpdateStateOptions): Promise<void>;
}
