/**
 * The broker reconnect policy both transports share (and the failover code
 * builds on): Celery's three `broker_connection_*` settings plus a jittered
 * exponential backoff.
 *
 * Celery's consumer (celery/worker/consumer/consumer.py `Consumer.start` and
 * `ensure_connected`, 5.7.0):
 * - the first connection retries only when `broker_connection_retry_on_startup`
 *   is true; a connection lost after it was up retries only when
 *   `broker_connection_retry` is true; otherwise the worker shuts down (exit 1);
 * - `broker_connection_max_retries` bounds the retries of one outage
 *   (kombu/utils/functional.py `retry_over_time`: the attempt after the n-th
 *   retry re-raises; 0 means no retry at all), then the error escapes as an
 *   "Unrecoverable error" and the worker exits with status 1 (EX_FAILURE).
 *
 * kombu sleeps 2, 4, 6, ... 30 s between attempts (`ensure_connection`
 * defaults). We keep the bound (same 30 s ceiling, same retry count) but
 * start small and double with full jitter ("decorrelated" AWS backoff), so a
 * blip heals in a fraction of a second and a fleet of workers does not
 * reconnect in lock step after a broker restart.
 */
import { ConnectionLostError } from "../errors.js";

export interface BackoffOptions {
  /** First delay in ms (default 100). */
  initialMs?: number;
  /** Ceiling in ms (default 30 000, kombu `interval_max`). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

export interface ReconnectPolicy {
  /** Retries per outage before giving up; null = forever (default 100, `broker_connection_max_retries`). */
  maxRetries: number | null;
  /** Retry a first connection that fails (`broker_connection_retry_on_startup`). */
  retryOnStartup: boolean;
  /** Retry a connection that was up and was lost (`broker_connection_retry`). */
  retryAfterLoss: boolean;
  backoff: Required<BackoffOptions>;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 100, maxMs: 30_000, factor: 2 };

/** Celery's settings, as `config.ts` names them. */
export interface BrokerRetrySettings {
  brokerConnectionRetry?: boolean;
  brokerConnectionRetryOnStartup?: boolean | null;
  brokerConnectionMaxRetries?: number | null;
}

/** The policy for Celery's `broker_connection_*` settings (missing ones take Celery's defaults). */
export function brokerReconnectPolicy(
  settings: BrokerRetrySettings,
  backoff: BackoffOptions = {},
): ReconnectPolicy {
  const retryAfterLoss = settings.brokerConnectionRetry ?? true;
  return {
    // Celery 5.7: retry_on_startup=None falls back to broker_connection_retry.
    retryOnStartup: settings.brokerConnectionRetryOnStartup ?? retryAfterLoss,
    retryAfterLoss,
    maxRetries: settings.brokerConnectionMaxRetries === undefined ? 100 : settings.brokerConnectionMaxRetries,
    backoff: { ...DEFAULT_BACKOFF, ...backoff },
  };
}

/**
 * The delay before retry number `retry` (1-based): uniform in
 * [base/2, base] where base = initial × factor^(retry-1), capped.
 */
export function backoffDelay(
  backoff: Required<BackoffOptions>,
  retry: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, retry - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * One outage's retry bookkeeping: `next()` gives the delay before the next
 * attempt, or null when the policy says stop; `reset()` after a success.
 */
export class RetrySchedule {
  private retries = 0;
  private everConnected = false;

  constructor(private readonly policy: ReconnectPolicy) {}

  /** Retries made in the current outage. */
  get attempts(): number {
    return this.retries;
  }

  get maxRetries(): number | null {
    return this.policy.maxRetries;
  }

  /** True once a connection worked (later losses follow `retryAfterLoss`). */
  get connectedBefore(): boolean {
    return this.everConnected;
  }

  /** A connection or command succeeded: the next failure starts a new outage. */
  succeeded(): void {
    this.everConnected = true;
    this.retries = 0;
  }

  /** Start counting retries again without marking a success (a new caller after a failed outage). */
  resetAttempts(): void {
    this.retries = 0;
  }

  /** The delay in ms before retrying after a failure, or null when retrying is over. */
  next(): number | null {
    const allowed = this.everConnected ? this.policy.retryAfterLoss : this.policy.retryOnStartup;
    if (!allowed) return null;
    if (this.policy.maxRetries !== null && this.retries >= this.policy.maxRetries) return null;
    this.retries += 1;
    return backoffDelay(this.policy.backoff, this.retries);
  }

  /** Why `next()` said stop, for the one line the worker prints before it exits. */
  describeStop(): string {
    const allowed = this.everConnected ? this.policy.retryAfterLoss : this.policy.retryOnStartup;
    if (!allowed) {
      return this.everConnected
        ? "reconnecting after a connection loss is disabled (broker_connection_retry=False)"
        : "retrying the first connection is disabled (broker_connection_retry_on_startup=False)";
    }
    return `gave up after ${this.retries} retries (broker_connection_max_retries=${this.policy.maxRetries})`;
  }
}

/** The error a consumer hands to `onFatal` when its broker is gone for good. */
export function brokerGoneError(
  broker: string,
  schedule: RetrySchedule,
  cause: unknown,
): ConnectionLostError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ConnectionLostError(`Cannot connect to ${broker}: ${reason}; ${schedule.describeStop()}`, {
    cause,
  });
}

/** A sleep that keeps the process alive (a reconnecting worker must not exit for lack of handles). */
export function sleepRef(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Rejects with `expired()` when `work` has not settled within `ms` (the
 * timer keeps the process alive: someone is waiting for the answer).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
