import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";

/**
 * The V8 heap settings a worker process takes at `worker.start()` (WorkerOptions.heapPolicy).
 *
 * Old generation: V8 lets it grow to about 4x what is live before its next full collection when
 * the machine has gigabytes of memory (its heap-growing factor). A worker draining a queue keeps
 * promoting short-lived per-task objects, so its RSS climbs to that bound and stays there: a worker
 * with ~12 MB live peaked at 131 MB. With the growth capped at 100 % (2x live) it peaked at
 * 104-110 MB, at the same CPU per task. The flag is read at every full collection, so it takes
 * effect when set after start.
 *
 * Young generation: V8 doubles the new space (two semi-spaces) whenever most of it survives a
 * scavenge, up to 2 x 16 MB on Node 20 and 2 x 32 MB on Node 24, and never gives it back while the
 * process is busy. A draining worker reaches that maximum, which is most of what stays above the
 * old-generation bound. Its maximum (`--max-semi-space-size`) is read once when the heap is set up,
 * but the growth factor (`--semi-space-growth-factor`) is read at every growth step, so setting it
 * to 1 while the new space is at YOUNG_GENERATION_CAP_BYTES holds it there: peak 83-89 MB instead
 * of 106-115, CPU per task within noise (bench/RESULTS.md, "Memory"; 2 x 1 MB did cost about 5 %,
 * so a smaller new space keeps V8's factor and grows to the cap first).
 *
 * Node has no API for heap sizes after start; `v8.setFlagsFromString` changes process-wide
 * settings, which is why they are the worker's (a worker process is dedicated to it, as a Celery
 * worker process is) and can be turned off. Flags the process was started with (in `execArgv` or
 * NODE_OPTIONS) win, each generation separately.
 */
export const WORKER_HEAP_FLAGS: readonly string[] = ["--heap-growing-percent=100"];

/** Both semi-spaces together, as `v8.getHeapSpaceStatistics()` reports `new_space`'s size. */
export const YOUNG_GENERATION_CAP_BYTES = 8 * 1024 * 1024;
const FREEZE_YOUNG_GENERATION = "--semi-space-growth-factor=1";

/** Flags that size the old generation: when the user passed one, the worker leaves it alone. */
const USER_OLD_GENERATION_FLAG = /--(max-old-space-size|max-heap-size|heap-growing-percent)\b/;
/** Flags that size the young generation (`--max-heap-size` sizes both). */
const USER_YOUNG_GENERATION_FLAG =
  /--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor|max-heap-size)\b/;

export interface HeapPolicyPlan {
  /** Set WORKER_HEAP_FLAGS. */
  oldGeneration: boolean;
  /** Freeze the new space once it reaches YOUNG_GENERATION_CAP_BYTES. */
  youngGeneration: boolean;
}

/** What the policy may change, given the flags the process was started with. */
export function planWorkerHeapPolicy(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): HeapPolicyPlan {
  // V8 accepts `--max_semi_space_size` as well as `--max-semi-space-size`.
  const given = [nodeOptions, ...execArgv].join(" ").replaceAll("_", "-");
  return {
    oldGeneration: !USER_OLD_GENERATION_FLAG.test(given),
    youngGeneration: !USER_YOUNG_GENERATION_FLAG.test(given),
  };
}

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0;
}

/** V8's own growth factor (both Node 20 and 24); the policy runs only when the process set none. */
const DEFAULT_YOUNG_GENERATION_GROWTH = "--semi-space-growth-factor=2";

/**
 * The growth-factor flag to set for a new space of `bytes`, given whether growth is frozen now, or
 * null when nothing changes: frozen at or above the cap, V8's own factor below it. V8 also shrinks
 * the new space (to twice what survived, at a scavenge while the process allocates little, e.g. a
 * worker at rest), and a new space frozen that small measured +5-25 % CPU per task once the queue
 * fills again, so below the cap it must be able to grow back.
 */
export function youngGenerationGrowthFlag(bytes: number, frozen: boolean): string | null {
  const atCap = bytes >= YOUNG_GENERATION_CAP_BYTES;
  if (atCap === frozen) return null;
  return atCap ? FREEZE_YOUNG_GENERATION : DEFAULT_YOUNG_GENERATION_GROWTH;
}

let youngGenerationWatch: PerformanceObserver | null = null;
let youngGenerationFrozen = false;

/** Holds the new space at the cap from now on: checked now and after every garbage collection. */
function capYoungGeneration(): void {
  const check = (): void => {
    const flag = youngGenerationGrowthFlag(newSpaceBytes(), youngGenerationFrozen);
    if (flag === null) return;
    setFlagsFromString(flag);
    youngGenerationFrozen = flag === FREEZE_YOUNG_GENERATION;
  };
  check();
  if (youngGenerationWatch !== null) return;
  // One observer per process (the flags are process-wide); gc entries arrive after the collection,
  // a few hundred per 10 000 tasks. It holds no handle open, so it never keeps a process alive.
  youngGenerationWatch = new PerformanceObserver(check);
  youngGenerationWatch.observe({ entryTypes: ["gc"] });
}

/** Applies the policy; returns what it changed (nothing of what the process's own flags size). */
export function applyWorkerHeapPolicy(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): HeapPolicyPlan {
  const plan = planWorkerHeapPolicy(execArgv, nodeOptions);
  if (plan.oldGeneration) for (const flag of WORKER_HEAP_FLAGS) setFlagsFromString(flag);
  if (plan.youngGeneration) capYoungGeneration();
  return plan;
}
