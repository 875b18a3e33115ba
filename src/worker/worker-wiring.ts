import type { WorkerOps } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import { kombuBodyEncoder, kombuResultEncoder } from "./body-codec.js";
import { registerBuiltinTasks } from "./builtin-tasks.js";
import { workerCanvas } from "./canvas-host.js";
import { registerChordUnlock } from "./chord-unlock.js";
import { errbackCaller } from "./errbacks.js";
import { type OpsSurfaceParts, workerOpsSurface } from "./ops-surface.js";
import type { RunnerDeps } from "./runner-deps.js";
import { TaskRunner } from "./task-runner.js";
import { taskSignalHooks, type WorkerEvents } from "./worker-events.js";
import type { WorkerDeps } from "./worker-options.js";
import type { WorkerPools } from "./worker-pools.js";

/** What a new worker hands over to be wired. */
export interface WorkerWiringParts {
  deps: WorkerDeps;
  hostname: string;
  logger: Logger;
  events: WorkerEvents;
  pools: WorkerPools;
  /** Told how each run ended (the worker's task events and WorkerOps bookkeeping). */
  onOutcome: NonNullable<RunnerDeps["onOutcome"]>;
  /** The worker's own state and controls remote control reads and drives; the rest is from `deps`. */
  controls: Omit<
    OpsSurfaceParts,
    "hostname" | "settings" | "registry" | "backend" | "logger" | "processPool"
  >;
}

/** What the worker keeps from its wiring. */
export interface WorkerWiring {
  runner: TaskRunner;
  /** Events + remote control + mingle, or null when the deps bring none. */
  ops: WorkerOps | null;
}

/**
 * The parts a worker is built from: the canvas host (callbacks, chain, chord joins), the built-in
 * tasks (celery.chord_unlock, celery.map/starmap/chunks/accumulate, as celery/app/builtins.py
 * registers them, 5.7.0), the {@link TaskRunner}, the local errback caller, and the surface WorkerOps sees.
 */
export function wireWorker(p: WorkerWiringParts): WorkerWiring {
  const { deps, hostname, logger, pools } = p;
  const s = deps.settings;
  const canvas = workerCanvas({
    settings: s,
    backend: deps.backend,
    publish: deps.publish,
    nativeDelay: deps.transport.nativeDelay,
    hostname,
    logger,
  });
  registerChordUnlock(deps.registry, deps.backend, canvas, s.resultChordRetryInterval);
  registerBuiltinTasks(deps.registry, { canvas, modulePool: (handler) => pools.forHandler(handler) });
  const runner = new TaskRunner({
    backend: deps.backend,
    publish: deps.publish,
    ...(deps.routeRetry ? { routeRetry: deps.routeRetry } : {}),
    encodeBody: deps.encodeBody ?? kombuBodyEncoder(s.taskSerializer, s.compat),
    encodeResult: kombuResultEncoder(s.resultSerializer, s.compat),
    logger,
    hostname,
    compat: s.compat,
    resultExtended: s.resultExtended,
    storeErrorsEvenIfIgnored: s.taskStoreErrorsEvenIfIgnored,
    canvas,
    modulePool: (handler) => pools.forHandler(handler),
    onOutcome: p.onOutcome,
    hooks: taskSignalHooks(p.events),
  });
  canvas.deps.localErrback = (sig) =>
    errbackCaller(
      { task: (name) => deps.registry.get(name), directContext: (r, t) => runner.directContext(r, t) },
      sig,
    );
  const ops =
    deps.ops?.(
      workerOpsSurface({
        ...p.controls,
        hostname,
        settings: s,
        registry: deps.registry,
        backend: deps.backend,
        logger,
        processPool: () => pools.processPool,
      }),
    ) ?? null;
  return { runner, ops };
}
