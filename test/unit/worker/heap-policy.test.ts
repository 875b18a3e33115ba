import { describe, expect, it } from "vitest";
import { applyWorkerHeapPolicy } from "../../../src/worker/heap-policy.js";
import { checkWorkerOptions } from "../../../src/worker/worker-options.js";

describe("worker heap policy", () => {
  it("leaves the heap alone when the process was started with heap flags of its own", () => {
    expect(applyWorkerHeapPolicy(["--max-old-space-size=512"], "")).toBe(false);
    expect(applyWorkerHeapPolicy([], "--enable-source-maps --max-old-space-size=2048")).toBe(false);
    expect(applyWorkerHeapPolicy(["--heap-growing-percent=30"], "")).toBe(false);
  });

  it("sets its flags otherwise", () => {
    expect(applyWorkerHeapPolicy(["--enable-source-maps"], "--no-warnings")).toBe(true);
    // The young generation's size combines with the policy.
    expect(applyWorkerHeapPolicy(["--max-semi-space-size=2"], "")).toBe(true);
  });

  it("heapPolicy is a boolean worker option", () => {
    expect(checkWorkerOptions({ heapPolicy: false })).toEqual({ heapPolicy: false });
    expect(() => checkWorkerOptions({ heapPolicy: "no" })).toThrow(/heapPolicy/);
  });
});
