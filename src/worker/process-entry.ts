import { childJobHandler, errorReply, type ModuleReply } from "./module-job.js";
import { type ChildLimits, type ChildReply, EX_RECYCLE } from "./process-pool.js";

/**
 * Body of a pool child process (process-pool.ts): run one job at a time,
 * send back its outcome, and retire after it when a per-child limit is
 * reached, as billiard's `Worker.workloop` does (billiard/pool.py, 4.3):
 * `maxtasks` completed tasks, or a peak RSS (`mem_rss`, KiB: `ru_maxrss`
 * on Linux, here `process.resourceUsage().maxRSS`) above
 * `max_memory_per_child` measured after the task. A retiring child exits
 * with `EX_RECYCLE` once its reply is written; the pool starts another.
 */
const limits = JSON.parse(process.argv[2] ?? "{}") as ChildLimits;
let completed = 0;

/** The warning when this child's peak RSS is over the limit after a task, or null. */
function memoryExceeded(): string | null {
  if (limits.maxMemoryKiB === null) return null;
  const used = process.resourceUsage().maxRSS;
  if (used <= limits.maxMemoryKiB) return null;
  // billiard/pool.py MAXMEM_USED_FMT
  return `child process exiting after exceeding memory limit (${used}KiB / ${limits.maxMemoryKiB}KiB)`;
}

function send(reply: ChildReply, then?: () => void): void {
  try {
    process.send?.(reply, undefined, {}, () => then?.());
  } catch (err) {
    // The value cannot cross the process boundary (billiard wraps the same case in MaybeEncodingError).
    process.send?.({ ...errorReply(err), recycle: reply.recycle }, undefined, {}, () => then?.());
  }
}

function finish(reply: ModuleReply): void {
  completed++;
  const maxTasksReached = limits.maxTasks !== null && completed >= limits.maxTasks;
  const memory = memoryExceeded();
  const recycle = maxTasksReached || memory !== null;
  send({ ...reply, recycle, ...(memory === null ? {} : { recycleMessage: memory }) }, () => {
    if (recycle) process.exit(EX_RECYCLE);
  });
}

process.on(
  "message",
  childJobHandler((msg) => process.send?.(msg), finish),
);

// celery/concurrency/prefork.py process_initializer (5.7): children ignore SIGINT (WORKER_SIGIGNORE), so
// Ctrl-C on the terminal, which reaches the whole process group, leaves the worker's warm shutdown to
// finish the running tasks instead of killing them; SIGTERM keeps its default (the pool's kill()).
process.on("SIGINT", () => {});

// The worker is gone (its end of the IPC channel closed): nothing will read our replies.
process.on("disconnect", () => process.exit(0));
