import type { ResultBackend } from "../backends/backend.js";
import type { Settings } from "../config.js";
import type { WorkerOpsWorker } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import type { QueueSpec } from "../transports/transport.js";
import { requestResultMeta } from "./result-meta.js";
import { TaskRevokedErrorInfo } from "./revoked.js";
import type { TaskOverrides } from "./task-overrides.js";
import type { TaskRegistry } from "./task-registry.js";

/** The worker parts remote control reads and changes. */
export interface OpsSurfaceParts {
  hostname: string;
  /** Tasks run at once now (pool_grow/pool_shrink change it). */
  concurrency(): number;
  settings: Settings;
  registry: TaskRegistry;
  overrides: TaskOverrides;
  queues: readonly QueueSpec[];
  backend: ResultBackend | null;
  logger: Logger;
  /** Re-gate requests held by a task's rate-limit bucket after its rate changed. */
  resetRateLimit(taskName: string): void;
  /** Warm shutdown (`celery control shutdown`). */
  shutdown(): void;
  /** Consume one more queue (`add_consumer`); runs after the reply, as Celery's `call_soon`. */
  addQueue(queue: QueueSpec): void;
  /** Stop consuming a queue (`cancel_consumer`). */
  cancelQueue(name: string): void;
  /** pool_grow / pool_shrink. */
  setConcurrency(n: number): void;
  /** The process pool, once started (stats). */
  processPool(): { pids: number[]; maxTasksPerChild: number | null } | null;
  /** The prefetch count in effect (stats). */
  prefetchCount?(): number;
}

/** States 5.7's `_revoke` may overwrite with REVOKED (celery/worker/control.py). */
const REVOCABLE_57 = new Set(["PENDING", "RECEIVED", "RETRY", "REJECTED"]);

/** What `WorkerOps` borrows from the TS worker ({@link WorkerOpsWorker}). */
export function workerOpsSurface(p: OpsSurfaceParts): WorkerOpsWorker {
  return {
    hostname: p.hostname,
    get concurrency() {
      return p.concurrency();
    },
    processPool: () => p.processPool(),
    ...(p.prefetchCount ? { prefetchCount: p.prefetchCount } : {}),
    taskNames: () => p.registry.names(),
    // The Task attributes `registered` may print (celery/worker/control.py, `getattr(task, item)`):
    // `serializer` falls back to task_serializer as Celery's Task does; `typing` is false, since a
    // TS task has no Python signature to check arguments against.
    taskAttributes: (name) => {
      const task = p.registry.get(name);
      if (!task) return {};
      return {
        name: task.name,
        ...p.overrides.attributes(task),
        serializer: task.options.serializer ?? p.settings.taskSerializer,
        typing: false,
      };
    },
    // celery/worker/control.py rate_limit: set the task's rate, then `consumer.reset_rate_limits()`.
    setRateLimit: (name, rate) => {
      try {
        p.overrides.setRateLimit(name, rate);
      } catch (err) {
        return `Invalid rate limit string: ${(err as Error).message}`;
      }
      p.resetRateLimit(name);
      return null;
    },
    setTimeLimit: (name, soft, hard) => {
      p.overrides.setTimeLimit(name, soft, hard);
      return null;
    },
    // celery/worker/control.py active_queues: kombu `Queue.as_dict(recurse=True)` per consumed queue.
    queues: () =>
      p.queues.map((q) => ({
        name: q.name,
        exchange: {
          name: q.exchange,
          type: q.exchangeType,
          arguments: null,
          durable: true,
          passive: false,
          auto_delete: false,
          delivery_mode: null,
          no_declare: false,
        },
        routing_key: q.routingKey,
        queue_arguments: q.arguments ?? null,
        binding_arguments: null,
        consumer_arguments: null,
        durable: q.durable ?? true,
        exclusive: q.exclusive ?? false,
        auto_delete: q.autoDelete ?? false,
        no_ack: false,
        alias: null,
        bindings: [],
        no_declare: null,
        expires: null,
        message_ttl: null,
        max_length: null,
        max_length_bytes: null,
        max_priority: null,
      })),
    // celery/worker/consumer/consumer.py add_task_queue: kombu `Queues.add_compat` defaults, the
    // exchange and routing key named after the queue, type "direct".
    addConsumer: (queue, exchange, type, routingKey) =>
      p.addQueue({
        name: queue,
        exchange: exchange ?? queue,
        exchangeType: type === "topic" || type === "fanout" ? type : "direct",
        routingKey: routingKey ?? queue,
        durable: true,
      }),
    cancelConsumer: (queue) => p.cancelQueue(queue),
    setConcurrency: (n) => p.setConcurrency(n),
    shutdown: () => p.shutdown(),
    // celery/worker/control.py _revoke: 5.6 writes REVOKED at once; 5.7 only over a state that
    // is not ready or running (the caller skips ids running here); earlier minors write nothing.
    markRevoked: async (id) => {
      const { compat } = p.settings;
      if (!p.backend || (compat.minor !== "5.7" && compat.minor !== "5.6")) return;
      if (compat.minor === "5.7" && !REVOCABLE_57.has((await p.backend.getMeta(id)).status)) return;
      const meta = requestResultMeta(
        "REVOKED",
        TaskRevokedErrorInfo("revoked"),
        null,
        { id },
        { hostname: p.hostname, resultExtended: false, compat },
      );
      await p.backend.storeResult(meta, { replyTo: null, correlationId: null });
    },
  };
}
