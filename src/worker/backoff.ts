import type { CompatProfile } from "../compat.js";
import type { RetryOptions } from "./errors.js";
import { matchesError, type TaskDefinition } from "./task-registry.js";

/**
 * Countdown for an automatic retry, as `celery/utils/time.py
 * get_exponential_backoff_interval` computes it:
 * `min(maximum, factor * 2 ** retries)`, then with full jitter a uniform
 * integer in `[0, countdown]` (Python's `random.randrange(countdown + 1)`).
 *
 * The factor comes from the task's `retryBackoff` the way
 * `celery/app/autoretry.py add_autoretry_behaviour` converts it:
 * 5.4+ `int(max(1.0, float(retry_backoff)))` (so `true` means 1), 5.2/5.3 `int(retry_backoff)`.
 */
export function backoffFactor(retryBackoff: boolean | number, compat?: Pick<CompatProfile, "minor">): number {
  const asNumber = typeof retryBackoff === "boolean" ? (retryBackoff ? 1 : 0) : retryBackoff;
  const legacy = compat !== undefined && (compat.minor === "5.2" || compat.minor === "5.3");
  return legacy ? Math.trunc(asNumber) : Math.trunc(Math.max(1, asNumber));
}

export function exponentialBackoff(
  factor: number,
  retries: number,
  maximum: number,
  fullJitter: boolean,
  random: () => number = Math.random,
): number {
  let countdown = Math.min(maximum, factor * 2 ** retries);
  if (fullJitter) countdown = Math.floor(random() * (Math.floor(countdown) + 1));
  return Math.max(0, countdown);
}

/**
 * celery/app/autoretry.py `add_autoretry_behaviour`: an error matching the
 * task's `autoretryFor` (and not `dontAutoretryFor`) becomes
 * `task.retry(exc=err, countdown=<backoff>, **retry_kwargs)`. Returns the
 * retry options, or null when the error is not retried automatically.
 */
export function autoretryOptions(
  error: unknown,
  task: TaskDefinition,
  retries: number,
  compat: Pick<CompatProfile, "minor">,
): RetryOptions | null {
  const o = task.options;
  if (
    o.autoretryFor.length === 0 ||
    !matchesError(error, o.autoretryFor) ||
    matchesError(error, o.dontAutoretryFor)
  )
    return null;
  const options: RetryOptions = { ...o.retryKwargs, exc: error };
  if (o.retryBackoff) {
    const factor = backoffFactor(o.retryBackoff, compat);
    options.countdown = exponentialBackoff(factor, retries, o.retryBackoffMax, o.retryJitter);
  }
  return options;
}
