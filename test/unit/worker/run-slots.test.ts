/**
 * The worker's concurrency slots (src/worker/run-slots.ts): at most `limit` handlers at once,
 * a slot given back when a handler returns while at most `limit` runs are still finishing
 * (storing their result, settling their message), and every run counted until it ends.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RunSlots } from "../../../src/worker/run-slots.js";

describe("RunSlots", () => {
  it("gives a slot back when the handler returns, up to `limit` finishing runs", () => {
    const slots = new RunSlots(() => 2);
    slots.take();
    slots.take();
    expect(slots.free).toBe(false);
    expect(slots.handlerReturned()).toBe(true);
    expect(slots.free).toBe(true);
    expect(slots.inProgress).toBe(2);
    slots.take();
    expect(slots.handlerReturned()).toBe(true);
    // Two runs are finishing (their results not stored yet): the third keeps its slot.
    slots.take();
    expect(slots.handlerReturned()).toBe(false);
    expect(slots.free).toBe(false);
    expect(slots.inProgress).toBe(4);
    slots.finished(false);
    expect(slots.free).toBe(true);
    slots.finished(true);
    slots.finished(true);
    expect(slots.inProgress).toBe(1);
    slots.finished(false);
    expect(slots.inProgress).toBe(0);
  });

  it("never runs more than `limit` handlers nor keeps more than `limit` finishing, whatever the order", () => {
    const op = fc.constantFrom("start", "return", "end");
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 200 }), (limit, ops) => {
        const slots = new RunSlots(() => limit);
        // Each run: "running" (handler not returned), or finishing early / holding its slot.
        const runs: ("running" | "early" | "held")[] = [];
        for (const o of ops) {
          if (o === "start" && slots.free) {
            slots.take();
            runs.push("running");
          } else if (o === "return") {
            const at = runs.indexOf("running");
            if (at !== -1) runs[at] = slots.handlerReturned() ? "early" : "held";
          } else if (o === "end" && runs.length > 0) {
            const run = runs.shift();
            slots.finished(run === "early");
          }
          const handlers = runs.filter((r) => r !== "early").length;
          const finishing = runs.filter((r) => r === "early").length;
          expect(handlers).toBeLessThanOrEqual(limit);
          expect(finishing).toBeLessThanOrEqual(limit);
          expect(slots.free).toBe(handlers < limit);
          expect(slots.inProgress).toBe(runs.length);
        }
      }),
    );
  });
});
