import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import { backoffFactor, exponentialBackoff } from "../../../src/worker/backoff.js";

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
