import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { PythonError } from "../../../src/worker/errors.js";
import {
  defineTaskBase,
  matchesError,
  resolveTaskOptions,
  TaskRegistry,
} from "../../../src/worker/task-registry.js";

describe("task options", () => {
  it("has Celery's defaults", () => {
    const o = resolveTaskOptions();
    expect(o.maxRetries).toBe(3);
    expect(o.defaultRetryDelay).toBe(180);
    expect(o.retryBackoffMax).toBe(600);
    expect(o.retryJitter).toBe(true);
    expect(o.acksLate).toBe(false);
    expect(o.acksOnFailureOrTimeout).toBe(true);
    expect(o.rejectOnWorkerLost).toBe(false);
    expect(o.rateLimit).toBe(0);
  });
  it("takes acksOnFailureOrTimeout / rejectOnWorkerLost from the app settings unless the task sets them", () => {
    const app = { taskAcksOnFailureOrTimeout: false, taskRejectOnWorkerLost: true };
    expect(resolveTaskOptions({}, app)).toMatchObject({
      acksOnFailureOrTimeout: false,
      rejectOnWorkerLost: true,
    });
    expect(
      resolveTaskOptions({ acksOnFailureOrTimeout: true, rejectOnWorkerLost: false }, app),
    ).toMatchObject({
      acksOnFailureOrTimeout: true,
      rejectOnWorkerLost: false,
    });
  });
  it("layers app settings < base < base.extend < task options", () => {
    const base = defineTaskBase({ acksLate: true, maxRetries: 5, rateLimit: "10/m" });
    const child = base.extend({ maxRetries: 7, trackStarted: true });
    const o = resolveTaskOptions(
      { base: child, rateLimit: "2/s" },
      { taskAcksLate: false, taskTimeLimit: 30 },
    );
    expect(o.acksLate).toBe(true);
    expect(o.maxRetries).toBe(7);
    expect(o.trackStarted).toBe(true);
    expect(o.rateLimit).toBe(2);
    expect(o.timeLimit).toBe(30);
    expect(base.options.maxRetries).toBe(5);
  });
  it("keeps an explicit null maxRetries (retry forever)", () => {
    expect(resolveTaskOptions({ maxRetries: null }).maxRetries).toBeNull();
    expect(() => resolveTaskOptions({ maxRetries: -1 })).toThrow(ConfigError);
  });
  it("params: distinct identifiers, null when unset; anything else names the option", () => {
    expect(resolveTaskOptions().params).toBeNull();
    expect(resolveTaskOptions({ params: ["x", "y"] }).params).toEqual(["x", "y"]);
    for (const bad of [["x", "x"], ["1x"], "x", [3]]) {
      expect(() => resolveTaskOptions({ params: bad as string[] })).toThrow(
        /params must be an array of distinct/,
      );
    }
  });
});

describe("autoretryFor matching", () => {
  class Transient extends Error {}
  it("matches classes, Python names and predicates", () => {
    expect(matchesError(new Transient("x"), [Transient])).toBe(true);
    expect(matchesError(new Error("x"), [Transient])).toBe(false);
    expect(matchesError(new PythonError("KeyError", ["k"]), ["KeyError"])).toBe(true);
    expect(matchesError(new TypeError("t"), ["TypeError"])).toBe(true);
    expect(matchesError(new TypeError("t"), ["Exception"])).toBe(true);
    expect(matchesError("plain string", [(e) => typeof e === "string"])).toBe(true);
  });
});

describe("TaskRegistry", () => {
  it("registers and resolves by exact name", () => {
    const registry = new TaskRegistry({ taskTrackStarted: true });
    registry.register("ts.add", (_ctx, a: number, b: number) => a + b, { maxRetries: 1 });
    expect(registry.has("ts.add")).toBe(true);
    expect(registry.get("ts.add")?.options.trackStarted).toBe(true);
    expect(registry.get("ts.add")?.options.maxRetries).toBe(1);
    expect(registry.get("ts.Add")).toBeUndefined();
    expect(registry.names()).toEqual(["ts.add"]);
  });
});
