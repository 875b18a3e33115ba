import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { parseRateLimit, RateLimitedQueue, TokenBucket } from "../../../src/worker/rate-limit.js";

describe("parseRateLimit (celery/utils/time.py rate)", () => {
  it("converts per-second, per-minute and per-hour strings", () => {
    expect(parseRateLimit("100/s")).toBe(100);
    expect(parseRateLimit("10/m")).toBeCloseTo(10 / 60, 12);
    expect(parseRateLimit("5/h")).toBeCloseTo(5 / 3600, 12);
    expect(parseRateLimit("7")).toBe(7);
    expect(parseRateLimit("0.5/s")).toBe(0.5);
    expect(parseRateLimit(3)).toBe(3);
  });
  it("treats empty as unlimited", () => {
    expect(parseRateLimit(null)).toBe(0);
    expect(parseRateLimit(undefined)).toBe(0);
    expect(parseRateLimit("")).toBe(0);
  });
  it("rejects nonsense with a ConfigError naming the option", () => {
    expect(() => parseRateLimit("10/d")).toThrow(ConfigError);
    expect(() => parseRateLimit("abc/s")).toThrow(/rateLimit/);
  });
});

describe("TokenBucket (kombu/utils/limits.py)", () => {
  it("starts full, then refills at fill rate up to capacity", () => {
    let t = 0;
    const bucket = new TokenBucket(2, 1, () => t);
    expect(bucket.canConsume()).toBe(true);
    expect(bucket.canConsume()).toBe(false);
    expect(bucket.expectedTime()).toBeCloseTo(0.5, 9);
    t = 0.25;
    expect(bucket.canConsume()).toBe(false);
    expect(bucket.expectedTime()).toBeCloseTo(0.25, 9);
    t = 0.5;
    expect(bucket.canConsume()).toBe(true);
    t = 100;
    expect(bucket.canConsume()).toBe(true);
    expect(bucket.canConsume()).toBe(false);
  });
});

describe("RateLimitedQueue", () => {
  it("releases in FIFO order, spaced by the bucket", async () => {
    let t = 0;
    const bucket = new TokenBucket(1000, 1, () => t);
    const released: number[] = [];
    const queue = new RateLimitedQueue<number>(bucket, (n) => released.push(n));
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(released).toEqual([1]);
    t = 0.001;
    await new Promise((r) => setTimeout(r, 20));
    t = 0.002;
    await new Promise((r) => setTimeout(r, 20));
    expect(released).toEqual([1, 2, 3]);
  });
  it("hands back what is still waiting", () => {
    const queue = new RateLimitedQueue<string>(new TokenBucket(0.001, 1, () => 0), () => undefined);
    queue.push("a");
    queue.push("b");
    queue.push("c");
    expect(queue.takeAll()).toEqual(["b", "c"]);
    expect(queue.size).toBe(0);
  });
});
