import { parseRateLimit, type RateLimit } from "./rate-limit.js";
import type { TaskDefinition } from "./task-registry.js";

/**
 * Task options changed at run time by remote control. Celery's
 * `rate_limit` and `time_limit` commands (celery/worker/control.py) assign
 * `task.rate_limit` / `task.time_limit` / `task.soft_time_limit` on the
 * registered task in place; registered definitions here are frozen, so the
 * worker applies these overrides to each request it accepts instead.
 */
export class TaskOverrides {
  /** Tasks per second (0 = none) and the value as given, which `inspect registered` prints. */
  private readonly rates = new Map<string, { perSecond: number; given: RateLimit | null }>();
  private readonly limits = new Map<string, { soft: number | null; hard: number | null }>();

  /** Throws ConfigError for a rate Celery's `rate()` would refuse. */
  setRateLimit(name: string, rate: RateLimit | null): void {
    this.rates.set(name, { perSecond: parseRateLimit(rate), given: rate || null });
  }

  /** Celery's `time_limit(task_name, hard=None, soft=None)`: both replaced, None clears. */
  setTimeLimit(name: string, soft: number | null, hard: number | null): void {
    this.limits.set(name, { soft, hard });
  }

  /** The definition with this worker's overrides (the same object when there are none). */
  apply(task: TaskDefinition): TaskDefinition {
    const rate = this.rates.get(task.name);
    const limits = this.limits.get(task.name);
    if (!rate && !limits) return task;
    const options = { ...task.options };
    if (rate) options.rateLimit = rate.perSecond;
    if (limits) {
      options.softTimeLimit = limits.soft;
      options.timeLimit = limits.hard;
    }
    return { ...task, options };
  }

  /** `getattr(task, item)` for the items `inspect registered` may ask for (unset = null, not printed). */
  attributes(task: TaskDefinition): Record<string, unknown> {
    const applied = this.apply(task).options;
    const rate = this.rates.get(task.name);
    return {
      exchange: null,
      routing_key: null,
      rate_limit: rate ? rate.given : applied.rateLimit > 0 ? applied.rateLimit : null,
      time_limit: applied.timeLimit,
      soft_time_limit: applied.softTimeLimit,
      acks_late: applied.acksLate,
      ignore_result: applied.ignoreResult,
      track_started: applied.trackStarted,
      max_retries: applied.maxRetries,
      default_retry_delay: applied.defaultRetryDelay,
    };
  }
}
