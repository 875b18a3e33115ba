import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  planWorkerHeapPolicy,
  YOUNG_GENERATION_CAP_BYTES,
  youngGenerationGrowthFlag,
} from "../../../src/worker/heap-policy.js";
import { checkWorkerOptions } from "../../../src/worker/worker-options.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/**
 * Runs a fresh Node process (V8 flags are process-wide, so never in the test runner's own) that
 * optionally applies the worker's heap policy, then allocates short-lived objects while keeping a
 * few MB live, in many event-loop turns, as a draining worker does; returns new_space's size
 * before and after.
 */
function newSpaceAfterChurn(
  applyPolicy: boolean,
  nodeArgs: readonly string[] = [],
): { before: number; after: number } {
  const script = `
import { getHeapSpaceStatistics } from "node:v8";
import { applyWorkerHeapPolicy } from ${JSON.stringify(join(ROOT, "src", "worker", "heap-policy.ts"))};
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
const before = newSpace();
if (${applyPolicy}) applyWorkerHeapPolicy();
// In many short turns, as a worker's event loop runs its batches (the policy checks the new
// space after collections, between turns).
let live = [];
for (let i = 0; i < 3_000_000; i++) {
  live.push({ n: i, s: "task-" + i });
  if (live.length > 20_000) live = [];
  if (i % 5_000 === 0) await new Promise((resolve) => setImmediate(resolve));
}
process.stdout.write(JSON.stringify({ before, after: newSpace() }));
`;
  const out = execFileSync(
    process.execPath,
    [...nodeArgs, "--import", "tsx", "--input-type=module", "-e", script],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  return JSON.parse(out) as { before: number; after: number };
}

describe("worker heap policy", () => {
  it("leaves each generation alone when the process was started with flags of its own for it", () => {
    expect(planWorkerHeapPolicy(["--max-old-space-size=512"], "")).toEqual({
      oldGeneration: false,
      youngGeneration: true,
    });
    expect(planWorkerHeapPolicy([], "--enable-source-maps --max-old-space-size=2048").oldGeneration).toBe(
      false,
    );
    expect(planWorkerHeapPolicy(["--heap-growing-percent=30"], "").oldGeneration).toBe(false);
    expect(planWorkerHeapPolicy(["--max-semi-space-size=2"], "")).toEqual({
      oldGeneration: true,
      youngGeneration: false,
    });
    expect(planWorkerHeapPolicy([], "--max_semi_space_size=2").youngGeneration).toBe(false);
    expect(planWorkerHeapPolicy(["--semi-space-growth-factor=4"], "").youngGeneration).toBe(false);
    // --max-heap-size sizes both generations.
    expect(planWorkerHeapPolicy([], "--max-heap-size=256")).toEqual({
      oldGeneration: false,
      youngGeneration: false,
    });
  });

  it("sets both otherwise", () => {
    expect(planWorkerHeapPolicy(["--enable-source-maps"], "--no-warnings")).toEqual({
      oldGeneration: true,
      youngGeneration: true,
    });
  });

  it("freezes the young generation's growth at the cap and gives V8's factor back below it", () => {
    const MB = 1024 * 1024;
    // Growing toward the cap: V8's factor stays.
    expect(youngGenerationGrowthFlag(2 * MB, false)).toBeNull();
    // At or past the cap (already grown before start): frozen.
    expect(youngGenerationGrowthFlag(YOUNG_GENERATION_CAP_BYTES, false)).toBe("--semi-space-growth-factor=1");
    expect(youngGenerationGrowthFlag(4 * YOUNG_GENERATION_CAP_BYTES, false)).toBe(
      "--semi-space-growth-factor=1",
    );
    expect(youngGenerationGrowthFlag(YOUNG_GENERATION_CAP_BYTES, true)).toBeNull();
    // V8 shrank it while the worker was at rest: it may grow back to the cap.
    expect(youngGenerationGrowthFlag(2 * MB, true)).toBe("--semi-space-growth-factor=2");
  });

  it("heapPolicy is a boolean worker option", () => {
    expect(checkWorkerOptions({ heapPolicy: false })).toEqual({ heapPolicy: false });
    expect(() => checkWorkerOptions({ heapPolicy: "no" })).toThrow(/heapPolicy/);
  });

  it("keeps the young generation at its cap while a process churns, where V8 alone grows it past", () => {
    const withPolicy = newSpaceAfterChurn(true);
    const without = newSpaceAfterChurn(false);
    // Same start (a fresh process below the cap), so the difference is the policy's.
    expect(withPolicy.before).toBeLessThan(YOUNG_GENERATION_CAP_BYTES);
    expect(without.before).toBe(withPolicy.before);
    expect(without.after).toBeGreaterThan(YOUNG_GENERATION_CAP_BYTES);
    // Grown to the cap (not frozen at the start size, which costs CPU per task) and no further.
    expect(withPolicy.after).toBe(YOUNG_GENERATION_CAP_BYTES);
  }, 30_000);

  it("leaves the young generation to the process's own --max-semi-space-size", () => {
    // 16 MB semi-spaces: above the cap, reached only if the policy stays out of the way.
    const own = newSpaceAfterChurn(true, ["--max-semi-space-size=16"]);
    expect(own.after).toBeGreaterThan(YOUNG_GENERATION_CAP_BYTES);
  }, 30_000);
});
