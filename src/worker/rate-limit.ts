import { ConfigError } from "../errors.js";

/**
 * Per-task rate limits, as Celery's worker applies them.
 *
 * A limit is a string `"<n>/<unit>"` with unit `s`, `m` or `h` (or a bare
 * number, per second), converted to tasks per second exactly like
 * `celery/utils/time.py rate()`. The worker keeps one {@link TokenBucket} per
 * rate-limited task name with capacity 1 (`celery/worker/consumer/consumer.py
 * Consumer.bucket_for_task`), so bursts are not allowed: tasks are spaced
 * `1 / rate` seconds apart.
 */
export type RateLimit = string | number;

const UNIT_DIVISOR: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Tasks per second for a Celery rate-limit string; 0 means "no limit". Mirrors celery/utils/time.py rate. */
export function parseRateLimit(limit: RateLimit | null | undefined): number {
  if (limit === null || limit === undefined || limit === "" || limit === 0) return 0;
  if (typeof limit === "number") {
    if (!Number.isFinite(limit) || limit < 0)
      throw new ConfigError("rateLimit", `rateLimit must be >= 0 (got ${limit})`);
    return limit;
  }
  const slash = limit.indexOf("/");
  const count = slash === -1 ? limit : limit.slice(0, slash);
  const unit = slash === -1 ? "s" : limit.slice(slash + 1) || "s";
  const divisor = UNIT_DIVISOR[unit];
  const n = Number(count.trim());
  if (divisor === undefined || count.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new ConfigError(
      "rateLimit",
      `rateLimit must look like "100/s", "10/m" or "5/h" (got ${JSON.stringify(limit)})`,
    );
  }
  return n / divisor;
}

/**
 * A token bucket with the arithmetic of `kombu/utils/limits.py TokenBucket`:
 * tokens refill continuously at `fillRate` per second up to `capacity`;
 * the bucket starts full.
 */
export class TokenBucket {
  private tokens: number;
  private stamp: number;

  constructor(
    readonly fillRate: number,
    readonly capacity = 1,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {
    this.tokens = capacity;
    this.stamp = now();
  }

  /** Take `n` tokens if available (kombu `can_consume`). */
  canConsume(n = 1): boolean {
    if (n <= this.refill()) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Seconds until `n` tokens are available (kombu `expected_time`). */
  expectedTime(n = 1): number {
    const have = this.refill();
    const want = Math.max(n, have);
    return (want - have) / this.fillRate;
  }

  private refill(): number {
    if (this.tokens < this.capacity) {
      const now = this.now();
      this.tokens = Math.min(this.capacity, this.tokens + this.fillRate * (now - this.stamp));
      this.stamp = now;
    }
    return this.tokens;
  }
}

/**
 * Holds requests of one rate-limited task in FIFO order and releases them as
 * tokens become available, as `Consumer._schedule_bucket_request` does with
 * its timer: one timer at a time, sleeping `expectedTime()`.
 */
export class RateLimitedQueue<T> {
  private readonly waiting: T[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly bucket: TokenBucket,
    private readonly release: (item: T) => void,
  ) {}

  get size(): number {
    return this.waiting.length;
  }

  push(item: T): void {
    this.waiting.push(item);
    if (this.timer === null) this.drain();
  }

  /** Remove and return everything still waiting (used at shutdown to restore the messages). */
  takeAll(): T[] {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    return this.waiting.splice(0);
  }

  private drain(): void {
    this.timer = null;
    while (this.waiting.length > 0) {
      if (!this.bucket.canConsume(1)) {
        const waitMs = Math.max(1, Math.ceil(this.bucket.expectedTime(1) * 1000));
        this.timer = setTimeout(() => this.drain(), waitMs);
        return;
      }
      const next = this.waiting.shift() as T;
      this.release(next);
    }
  }
}

/**
 * One {@link RateLimitedQueue} per rate-limited task name, created on first use with the task's
 * `rateLimit` (tasks/s), as the consumer's `task_buckets` are (celery/worker/consumer/consumer.py
 * `Consumer.reset_rate_limits`, 5.7.0).
 */
export class TaskBuckets<T> {
  private readonly byName = new Map<string, RateLimitedQueue<T>>();

  constructor(private readonly release: (item: T) => void) {}

  /** Queues `item` behind the bucket of `name` at `rate` tasks/s. */
  push(name: string, rate: number, item: T): void {
    let bucket = this.byName.get(name);
    if (!bucket) {
      bucket = new RateLimitedQueue<T>(new TokenBucket(rate, 1), this.release);
      this.byName.set(name, bucket);
    }
    bucket.push(item);
  }

  /** Drops the bucket of `name` (its rate changed) and returns what was waiting in it. */
  reset(name: string): T[] {
    const bucket = this.byName.get(name);
    this.byName.delete(name);
    return bucket?.takeAll() ?? [];
  }

  /** Everything waiting in every bucket, taken out (shutdown restores it). */
  takeAll(): T[] {
    const all: T[] = [];
    for (const bucket of this.byName.values()) all.push(...bucket.takeAll());
    return all;
  }
}
