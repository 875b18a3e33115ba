import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  brokerReconnectPolicy,
  DEFAULT_BACKOFF,
  RetrySchedule,
} from "../../../src/transports/retry-policy.js";

describe("broker reconnect policy (Celery broker_connection_* semantics)", () => {
  it("takes Celery's defaults: 100 retries, retry on startup and after a loss", () => {
    const policy = brokerReconnectPolicy({});
    expect(policy).toMatchObject({ maxRetries: 100, retryOnStartup: true, retryAfterLoss: true });
  });

  it("retry_on_startup unset follows broker_connection_retry (Celery 5.7 ensure_connected)", () => {
    expect(brokerReconnectPolicy({ brokerConnectionRetry: false }).retryOnStartup).toBe(false);
    expect(
      brokerReconnectPolicy({ brokerConnectionRetry: false, brokerConnectionRetryOnStartup: true })
        .retryOnStartup,
    ).toBe(true);
  });

  it("gives up after exactly maxRetries retries of one outage; a success starts a new outage", () => {
    const schedule = new RetrySchedule(brokerReconnectPolicy({ brokerConnectionMaxRetries: 3 }));
    schedule.succeeded();
    expect([schedule.next(), schedule.next(), schedule.next()].every((d) => d !== null)).toBe(true);
    expect(schedule.next()).toBeNull();
    expect(schedule.describeStop()).toBe("gave up after 3 retries (broker_connection_max_retries=3)");
    schedule.succeeded();
    expect(schedule.next()).not.toBeNull();
  });

  it("0 retries means none (kombu retry_over_time), null means forever", () => {
    expect(new RetrySchedule(brokerReconnectPolicy({ brokerConnectionMaxRetries: 0 })).next()).toBeNull();
    const forever = new RetrySchedule(brokerReconnectPolicy({ brokerConnectionMaxRetries: null }));
    for (let i = 0; i < 1000; i++) expect(forever.next()).not.toBeNull();
  });

  it("startup failures follow retry_on_startup, losses after a success follow broker_connection_retry", () => {
    const noStartup = new RetrySchedule(brokerReconnectPolicy({ brokerConnectionRetryOnStartup: false }));
    expect(noStartup.next()).toBeNull();
    expect(noStartup.describeStop()).toMatch(/broker_connection_retry_on_startup=False/);
    noStartup.succeeded();
    expect(noStartup.next()).not.toBeNull();
    const noLoss = new RetrySchedule(
      brokerReconnectPolicy({ brokerConnectionRetry: false, brokerConnectionRetryOnStartup: true }),
    );
    expect(noLoss.next()).not.toBeNull();
    noLoss.succeeded();
    expect(noLoss.next()).toBeNull();
    expect(noLoss.describeStop()).toMatch(/broker_connection_retry=False/);
  });

  it("delays are jittered within [base/2, base], doubling from 100 ms up to the 30 s ceiling", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (retry, r) => {
          const base = Math.min(30_000, 100 * 2 ** (retry - 1));
          const delay = backoffDelay(DEFAULT_BACKOFF, retry, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base / 2));
          expect(delay).toBeLessThanOrEqual(base);
        },
      ),
    );
  });
});
