import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { autoretryOptions, backoffFactor, exponentialBackoff } from "../../../src/worker/backoff.js";
import { TaskRegistry } from "../../../src/worker/task-registry.js";

describe("autoretry backoff (celery/utils/time.py get_exponential_backoff_interval)", () => {
  it("doubles per retry and caps at the maximum", () => {
    expect([0, 1, 2, 3, 4].map((r) => exponentialBackoff(3, r, 600, false))).toEqual([3, 6, 12, 24, 48]);
    expect(exponentialBackoff(1, 20, 600, false)).toBe(600);
  });
  it("full jitter draws an integer in [0, countdown]", () => {
    expect(exponentialBackoff(1, 3, 600, true, () => 0)).toBe(0);
    expect(exponentialBackoff(1, 3, 600, true, () => 0.999999)).toBe(8);
    expect(exponentialBackoff(1, 3, 600, true, () => 0.5)).toBe(4);
  });
  it("derives the factor from retryBackoff as 5.4+ does, and as 5.2/5.3 did", () => {
    expect(backoffFactor(true)).toBe(1);
    expect(backoffFactor(5)).toBe(5);
    expect(backoffFactor(0.5)).toBe(1);
    expect(backoffFactor(0.5, compatProfile("5.3"))).toBe(0);
    expect(backoffFactor(true, compatProfile("5.2"))).toBe(1);
  });
});

describe("autoretryOptions (celery/app/autoretry.py add_autoretry_behaviour)", () => {
  const registry = new TaskRegistry({});
  const task = registry.register("ts.flaky", () => 1, {
    autoretryFor: [TypeError, RangeError],
    dontAutoretryFor: [RangeError],
    retryKwargs: { maxRetries: 5 },
    retryBackoff: 2,
    retryJitter: false,
  });
  const compat = compatProfile("5.7");

  it("turns a matching error into retry options with the backoff countdown and retryKwargs", () => {
    const err = new TypeError("flaky");
    expect(autoretryOptions(err, task, 3, compat)).toEqual({ maxRetries: 5, exc: err, countdown: 16 });
  });
  it("leaves other errors alone, and dontAutoretryFor wins", () => {
    expect(autoretryOptions(new Error("other"), task, 0, compat)).toBeNull();
    expect(autoretryOptions(new RangeError("excluded"), task, 0, compat)).toBeNull();
    const plain = registry.register("ts.plain", () => 1);
    expect(autoretryOptions(new TypeError("x"), plain, 0, compat)).toBeNull();
  });
});
