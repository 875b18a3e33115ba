import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logging.js";
import { ProcessPool } from "./process-pool.js";
import type { ModuleHandler, TaskRegistry } from "./task-registry.js";
import { ThreadPool } from "./thread-pool.js";
import type { WorkerOptions } from "./worker-options.js";

type PoolOptions = Pick<
  WorkerOptions,
  | "pool"
  | "threads"
  | "threadExecArgv"
  | "processes"
  | "processExecArgv"
  | "maxTasksPerChild"
  | "maxMemoryPerChild"
>;

/**
 * The pools a worker runs module handlers in, started on first use: the
 * `worker_threads` pool for `threadedTask`, the process pool (Celery's
 * prefork) for `processTask`, and for every module handler under
 * `pool: "process"`.
 */
export class WorkerPools {
  private threads: ThreadPool | null = null;
  private processes: ProcessPool | null = null;

  constructor(
    private readonly options: PoolOptions,
    private readonly settings: Settings,
    /** Tasks run at once now: the thread pool's default size, and the process pool's size unless `processes`. */
    private readonly concurrency: () => number,
    private readonly logger: Logger,
  ) {}

  /** Where a module handler runs: threads for `threadedTask` (unless `pool: "process"`), else child processes. */
  forHandler(handler: ModuleHandler): ThreadPool | ProcessPool {
    const o = this.options;
    if (handler.kind === "threaded" && o.pool !== "process") {
      this.threads ??= new ThreadPool(o.threads ?? this.concurrency(), o.threadExecArgv);
      return this.threads;
    }
    const s = this.settings;
    this.processes ??= new ProcessPool({
      // Celery's pool_grow/pool_shrink resize the prefork pool: without `processes`, it follows concurrency.
      size: o.processes ?? this.concurrency,
      logger: this.logger,
      maxTasksPerChild: o.maxTasksPerChild === undefined ? s.workerMaxTasksPerChild : o.maxTasksPerChild,
      maxMemoryPerChild: o.maxMemoryPerChild === undefined ? s.workerMaxMemoryPerChild : o.maxMemoryPerChild,
      ...(o.processExecArgv ? { execArgv: o.processExecArgv } : {}),
    });
    return this.processes;
  }

  /** The process pool once started (inspect stats), else null. */
  get processPool(): ProcessPool | null {
    return this.processes;
  }

  async close(): Promise<void> {
    await Promise.all([this.threads?.close(), this.processes?.close()]);
  }
}

/**
 * `pool: "process"` runs every task in a child process, which imports the handler itself: a closure
 * registered with `app.task(name, fn)` cannot get there, so such a worker is refused at start.
 * Celeriac's own builtins (`celery.chord_unlock`) are worker machinery and stay on the event loop.
 */
export function checkProcessPoolTasks(options: Pick<WorkerOptions, "pool">, registry: TaskRegistry): void {
  if (options.pool !== "process") return;
  const inline = registry
    .names()
    .filter((name) => !name.startsWith("celery.") && typeof registry.get(name)?.handler === "function");
  if (inline.length > 0)
    throw new ConfigError(
      "pool",
      `pool "process" runs tasks in child processes, which import them: register ${inline.join(", ")} with processTask(moduleUrl, exportName)`,
    );
}
