import type { ResultBackend } from "../backends/backend.js";
import type { Settings } from "../config.js";
import type { Logger } from "../logging.js";
import type { OutgoingMessage, Transport } from "../transports/transport.js";
import {
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
  TaskRegistry,
  type ThreadedHandler,
} from "./task-registry.js";
import { Worker, type WorkerDeps, type WorkerOptions } from "./worker.js";

/**
 * The two entry points the `Celery` facade attaches:
 *
 * ```ts
 * task(name, handler, options) { return registerTask(this, name, handler, options); }
 * worker(options) { return createWorker(this, options); }
 * ```
 *
 * `host` is anything exposing the app's settings, broker transport and
 * result backend; one task registry is kept per host.
 */
export interface WorkerHost {
  readonly settings: Settings;
  readonly transport: Pick<Transport, "consume" | "publish">;
  readonly backend: ResultBackend | null;
  readonly logger?: Logger;
}

const registries = new WeakMap<object, TaskRegistry>();

export function taskRegistryOf(host: WorkerHost): TaskRegistry {
  let registry = registries.get(host);
  if (!registry) {
    const s = host.settings;
    registry = new TaskRegistry({
      taskAcksLate: s.taskAcksLate,
      taskTrackStarted: s.taskTrackStarted,
      taskIgnoreResult: s.taskIgnoreResult,
      taskTimeLimit: s.taskTimeLimit,
      taskSoftTimeLimit: s.taskSoftTimeLimit,
      taskDefaultRateLimit: s.taskDefaultRateLimit,
      resultSerializer: s.resultSerializer,
    });
    registries.set(host, registry);
  }
  return registry;
}

export function registerTask<A extends unknown[], R>(
  host: WorkerHost,
  name: string,
  handler: TaskHandler<A, R> | ThreadedHandler,
  options?: TaskOptions,
): TaskDefinition {
  return taskRegistryOf(host).register(name, handler, options);
}

export function createWorker(
  host: WorkerHost,
  options: WorkerOptions = {},
  extra: Partial<Pick<WorkerDeps, "decodeBody" | "encodeBody">> = {},
): Worker {
  return new Worker(
    {
      settings: host.settings,
      registry: taskRegistryOf(host),
      transport: host.transport,
      backend: host.backend,
      publish: (message: OutgoingMessage) => host.transport.publish(message),
      ...(host.logger ? { logger: host.logger } : {}),
      ...extra,
    },
    options,
  );
}
