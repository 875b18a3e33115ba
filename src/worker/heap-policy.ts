import { setFlagsFromString } from "node:v8";

/**
 * The V8 heap setting a worker process takes at `worker.start()` (WorkerOptions.heapPolicy).
 *
 * V8 lets the old generation grow to about 4x what is live before its next full collection when
 * the machine has gigabytes of memory (its heap-growing factor). A worker draining a queue keeps
 * promoting short-lived per-task objects, so its RSS climbs to that bound and stays there: a worker
 * with ~12 MB live peaked at 131 MB. With the growth capped at 100 % (2x live) it peaked at
 * 104-110 MB, at the same CPU per task and GC pause total within noise (bench/RESULTS.md, "Worker
 * memory"). The flag is read at every full collection, so it takes effect when set after start.
 *
 * Node has no API for heap sizes after start; `v8.setFlagsFromString` changes a process-wide
 * setting, which is why it is the worker's (a worker process is dedicated to it, as a Celery
 * worker process is) and can be turned off. Not applied either when the process was started with
 * its own old-generation flags (in `execArgv` or NODE_OPTIONS): those win. The young generation
 * cannot be sized after start; `node --max-semi-space-size=2` (or NODE_OPTIONS) with this policy
 * measured 80 MB.
 */
export const WORKER_HEAP_FLAGS: readonly string[] = ["--heap-growing-percent=100"];

/**
 * Flags that size the old generation: when the user passed one, the worker leaves it alone. The
 * young generation's flags (`--max-semi-space-size`) are independent of it and combine with it.
 */
const USER_HEAP_FLAG = /--(max-old-space-size|max-heap-size|heap-growing-percent)\b/;

/** True when the flags were set; false when the process already carries old-generation flags. */
export function applyWorkerHeapPolicy(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): boolean {
  if (USER_HEAP_FLAG.test(nodeOptions) || execArgv.some((arg) => USER_HEAP_FLAG.test(arg))) return false;
  for (const flag of WORKER_HEAP_FLAGS) setFlagsFromString(flag);
  return true;
}
