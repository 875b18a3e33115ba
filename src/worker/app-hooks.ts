import { randomUUID } from "node:crypto";
import type { ResultBackend } from "../backends/backend.js";
import type { Settings } from "../config.js";
import { WorkerOps } from "../control/worker-ops.js";
import { createLogger, type Logger } from "../logging.js";
import type { OutgoingMessage, QueueSpec, Transport } from "../transports/transport.js";
import type { Retry } from "./errors.js";
import type { WorkerRequest } from "./request.js";
import { type RetryQueueTable, routeRetry } from "./retry-route.js";
import { TaskRegistry } from "./task-registry.js";
import { Worker, type WorkerDeps, type WorkerOptions } from "./worker.js";

/**
 * What a worker is built from: the app's settings, task registry, broker
 * transport and result backend. The `Celery` facade satisfies it
 * (`app.worker(options)` is `createWorker(this, options)`).
 */
export interface WorkerHost {
  readonly settings: Settings;
  /** The app's registered tasks. */
  readonly registry: TaskRegistry;
  readonly transport: Pick<Transport, "consume" | "publish" | "events" | "mailbox" | "nativeDelay">;
  readonly backend: ResultBackend | null;
  readonly logger?: Logger;
  /** The app's oid (mingle's reply queue); a fresh one when absent. */
  readonly oid?: string;
  /**
   * The app's queue table and routes: worker queue names resolve through it (`app.amqp.queues`),
   * and a retry finds the queue it is delayed for (src/worker/retry-route.ts).
   */
  readonly router?: RetryQueueTable;
}

/** An app's task registry, with the task defaults its settings give (`task_acks_late`, ...). */
export function createTaskRegistry(s: Settings): TaskRegistry {
  return new TaskRegistry({
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
}

/**
 * Events, remote control and mingle (src/control/worker-ops.ts) for a worker
 * on a broker that carries events and the pidbox mailbox (Redis, RabbitMQ);
 * none on any other transport (tests' fakes).
 */
export function workerOpsFactory(host: WorkerHost, options: WorkerOptions): WorkerDeps["ops"] {
  const transport = host.transport;
  const logger = options.logger ?? host.logger ?? createLogger();
  if (!transport.events || !transport.mailbox) {
    logger.info(
      "events and remote control need a broker transport with events and a pidbox mailbox (redis://, amqp://): worker runs without them",
    );
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
  const router = host.router;
  return new Worker(
    {
      settings: host.settings,
      registry: host.registry,
      transport: host.transport,
      backend: host.backend,
      publish: (message: OutgoingMessage, declare?: readonly QueueSpec[]) =>
        host.transport.publish(message, declare),
      ...(router
        ? {
            resolveQueue: (name: string) => router.queue(name),
            routeRetry: (message: OutgoingMessage, request: WorkerRequest, retry: Retry) =>
              routeRetry(message, request, retry, router, host.transport.nativeDelay),
          }
        : {}),
      ...((options.logger ?? host.logger) ? { logger: options.logger ?? host.logger } : {}),
      ...(ops ? { ops } : {}),
      ...extra,
    },
    options,
  );
}
