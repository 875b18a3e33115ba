import type { CompatProfile } from "../compat.js";

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
