import { randomUUID } from "node:crypto";
import type { ResultBackend } from "../backends/backend.js";
import type { Settings } from "../config.js";
import { WorkerOps } from "../control/worker-ops.js";
import { createLogger, type Logger } from "../logging.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import { RedisTransport } from "../transports/redis/index.js";
import type { OutgoingMessage, Transport } from "../transports/transport.js";
import {
  type ModuleHandler,
  type TaskDefinition,
  type TaskHandler,
  type TaskOptions,
  TaskRegistry,
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
  /** The app's oid (mingle's reply queue); a fresh one when absent. */
  readonly oid?: string;
}

const registries = new WeakMap<object, TaskRegistry>();

export function taskRegistryOf(host: WorkerHost): TaskRegistry {
  let registry = registries.get(host);
  if (!registry) {
    const s = host.settings;
    registry = new TaskRegistry({
      taskAcksLate: s.taskAcksLate,
      taskAcksOnFailureOrTimeout: s.taskAcksOnFailureOrTimeout,
      taskRejectOnWorkerLost: s.taskRejectOnWorkerLost,
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
  handler: TaskHandler<A, R> | ModuleHandler,
  options?: TaskOptions,
): TaskDefinition {
  return taskRegistryOf(host).register(name, handler, options);
}

/**
 * Events, remote control and mingle (src/control/worker-ops.ts) for a worker
 * on a Redis or RabbitMQ broker; none on any other transport (tests' fakes).
 */
export function workerOpsFactory(host: WorkerHost, options: WorkerOptions): WorkerDeps["ops"] {
  const transport = host.transport;
  const logger = host.logger ?? createLogger();
  if (!(transport instanceof RedisTransport) && !(transport instanceof AmqpTransport)) {
    logger.info("events and remote control need a Redis or AMQP broker transport: worker runs without them");
    return undefined;
  }
  const oid = host.oid ?? randomUUID();
  return (worker) =>
    new WorkerOps({
      settings: host.settings,
      transport,
      worker,
      oid,
      mingle: !options.withoutMingle,
      ...(options.taskEvents !== undefined ? { sendTaskEvents: options.taskEvents } : {}),
      ...(options.remoteControl !== undefined ? { remoteControl: options.remoteControl } : {}),
      log: {
        info: (msg) => logger.info(msg),
        warn: (msg) => logger.warn(msg),
        error: (msg) => logger.error(msg),
      },
    });
}

export function createWorker(
  host: WorkerHost,
  options: WorkerOptions = {},
  extra: Partial<Pick<WorkerDeps, "decodeBody" | "encodeBody" | "ops">> = {},
): Worker {
  const ops = "ops" in extra ? extra.ops : workerOpsFactory(host, options);
  return new Worker(
    {
      settings: host.settings,
      registry: taskRegistryOf(host),
      transport: host.transport,
      backend: host.backend,
      publish: (message: OutgoingMessage) => host.transport.publish(message),
      ...(host.logger ? { logger: host.logger } : {}),
      ...(ops ? { ops } : {}),
      ...extra,
    },
    options,
  );
}
