/**
 * The worker's pools (src/worker/worker-pools.ts): which pool a module handler lands in, with which
 * size and limits, and `pool: "process"` refusing closures a child cannot import (builtins excepted).
 * Bad option values are refused by checkWorkerOptions (worker-options.ts).
 */
import { describe, expect, it } from "vitest";
import { resolveSettings } from "../../../src/config-checks.js";
import { createLogger } from "../../../src/logging.js";
import { ProcessPool } from "../../../src/worker/process-pool.js";
import { processTask, TaskRegistry, threadedTask } from "../../../src/worker/task-registry.js";
import { ThreadPool } from "../../../src/worker/thread-pool.js";
import { checkProcessPoolTasks, WorkerPools } from "../../../src/worker/worker-pools.js";

const settings = resolveSettings({ broker: "redis://127.0.0.1:6379/0", workerMaxTasksPerChild: 7 });
const logger = createLogger({ level: "silent" });
const pools = (options: ConstructorParameters<typeof WorkerPools>[0]) =>
  new WorkerPools(options, settings, () => 4, logger);

describe("WorkerPools options", () => {
  it("threadedTask goes to threads, processTask to processes; under pool process both go to processes", async () => {
    const mixed = pools({});
    const viaThreads = mixed.forHandler(threadedTask("file:///t.js", "f"));
    const viaProcesses = mixed.forHandler(processTask("file:///t.js", "f"));
    expect(viaThreads).toBeInstanceOf(ThreadPool);
    expect(viaProcesses).toBeInstanceOf(ProcessPool);
    expect((viaProcesses as ProcessPool).maxTasksPerChild).toBe(7); // from workerMaxTasksPerChild
    expect((viaProcesses as ProcessPool).size).toBe(4); // follows concurrency
    const prefork = pools({ pool: "process", maxTasksPerChild: 2, processes: 3 });
    const both = prefork.forHandler(threadedTask("file:///t.js", "f"));
    expect(both).toBeInstanceOf(ProcessPool);
    expect((both as ProcessPool).maxTasksPerChild).toBe(2);
    expect((both as ProcessPool).size).toBe(3);
    await Promise.all([mixed.close(), prefork.close()]);
  });
});

describe("checkProcessPoolTasks", () => {
  it("refuses closures under pool process, naming them; builtins and module handlers pass", () => {
    const registry = new TaskRegistry();
    registry.register("ts.module", processTask("file:///t.js", "f"));
    registry.register("celery.chord_unlock", async () => undefined);
    expect(() => checkProcessPoolTasks({ pool: "process" }, registry)).not.toThrow();
    registry.register("ts.closure", () => 1);
    expect(() => checkProcessPoolTasks({ pool: "process" }, registry)).toThrow(
      /register ts\.closure with processTask\(moduleUrl, exportName\)/,
    );
    expect(() => checkProcessPoolTasks({}, registry)).not.toThrow();
  });
});
