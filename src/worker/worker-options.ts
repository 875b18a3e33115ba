import type { ResultBackend } from "../backends/backend.js";
import type { Settings } from "../config.js";
import type { WorkerOps, WorkerOpsWorker } from "../control/worker-ops.js";
import { ConfigError } from "../errors.js";
import { checkLogger, type Logger } from "../logging.js";
import { describe, isBool, number, oneOf, rejectUnknownKeys, text } from "../option-checks.js";
import type { OutgoingMessage, QueueSpec, Transport } from "../transports/transport.js";
import type { BodyDecoder } from "./body-codec.js";
import type { Retry } from "./errors.js";
import type { WorkerRequest } from "./request.js";
import type { RetryRoute } from "./retry-route.js";
import type { TaskRegistry } from "./task-registry.js";

/** What `app.worker(options)` takes: Celery's worker flags under their setting names. */
export interface WorkerOptions {
  /** Queue names (or full specs) to consume; default `[settings.taskDefaultQueue]`. */
  queues?: (string | QueueSpec)[];
  /** Tasks run at once; default `settings.workerConcurrency` or 16. */
  concurrency?: number;
  /** Unsettled messages = concurrency × this; default `settings.workerPrefetchMultiplier` (4). */
  prefetchMultiplier?: number;
  /** Node name in results and logs; default `celery@<host>` (Celery's default). */
  hostname?: string;
  /** Threads of the `worker_threads` pool used by `threadedTask` handlers; default = concurrency. */
  threads?: number;
  /** `execArgv` of pool threads (e.g. `["--import", "tsx"]` to load .ts task modules); default the process's. */
  threadExecArgv?: string[];
  /**
   * `-P`: `"async"` (default) runs plain handlers on the event loop, `threadedTask` ones in threads and
   * `processTask` ones in child processes; `"process"` is Celery's prefork: every task runs in a child
   * process, so every task must be a `processTask` or `threadedTask` (a module + export a child imports).
   */
  pool?: "async" | "process";
  /** Child processes of the process pool; default = concurrency. */
  processes?: number;
  /** `execArgv` of pool children (e.g. `["--import", "tsx"]` for .ts task modules); default the process's. */
  processExecArgv?: string[];
  /** `--max-tasks-per-child`: a child is replaced after this many tasks; default `settings.workerMaxTasksPerChild`. */
  maxTasksPerChild?: number | null;
  /** `--max-memory-per-child` (KiB of peak RSS): default `settings.workerMaxMemoryPerChild`. */
  maxMemoryPerChild?: number | null;
  /** Send task events (`-E`); default `settings.workerSendTaskEvents`. Worker heartbeats are always sent (Redis broker). */
  taskEvents?: boolean;
  /** Answer remote control (pidbox); default `settings.workerEnableRemoteControl` (true). */
  remoteControl?: boolean;
  /** Skip the start-up `hello` to other workers (`--without-mingle`). */
  withoutMingle?: boolean;
  /**
   * `--statedb`: a file the revoked ids (and the Lamport clock) are read from at start and written
   * to at shutdown, so a revoke outlives a restart. JSON, not Python's shelve format. Needs
   * remote control (the revoked set lives with it).
   */
  statedb?: string;
  /**
   * SIGTERM / SIGINT: a warm shutdown (stop consuming, finish running tasks, requeue the rest),
   * a second signal a cold one, then the process exits on that signal unless the application
   * listens for it too; as Celery's worker does. Default true; false leaves signals to the
   * application (the `celeriac worker` CLI handles them itself).
   */
  handleSignals?: boolean;
  /**
   * Bounds V8's heap at `start()` (heap-policy.ts): the old generation grows to 2x what is live
   * (`--heap-growing-percent=100`) instead of ~4x, and the young generation stops growing at 2 x 4 MB
   * semi-spaces instead of 2 x 16 MB (32 MB on Node 24); peak RSS while draining ~85 MB instead of
   * ~110. Default true; false leaves V8's defaults. Flags the process was started with win for their
   * generation (`--max-old-space-size`, `--heap-growing-percent`; `--max-semi-space-size`;
   * `--max-heap-size` for both).
   */
  heapPolicy?: boolean;
  /** Where this worker logs (pino, or pino's call shape); default the app's `logger`, else stderr text. */
  logger?: Logger;
}

export interface WorkerDeps {
  settings: Settings;
  registry: TaskRegistry;
  /** The broker: consumed from; its native delay (RabbitMQ) routes chain steps and callbacks with an ETA. */
  transport: Pick<Transport, "consume" | "nativeDelay">;
  backend: ResultBackend | null;
  /** Publishes a task message (used for retries); usually `transport.publish`. */
  publish(message: OutgoingMessage, declare?: readonly QueueSpec[]): Promise<void>;
  /** Where a retry goes: the queue to declare, and RabbitMQ's native delay (src/worker/retry-route.ts); absent = published as built. */
  routeRetry?(message: OutgoingMessage, request: WorkerRequest, retry: Retry): RetryRoute | null;
  logger?: Logger;
  /** Body decoder (decompress + accept check + deserialize); default kombu's codecs per `acceptContent`. */
  decodeBody?: BodyDecoder;
  /** Body encoder for retry messages; default `taskSerializer`. */
  encodeBody?(body: unknown[]): { body: Uint8Array; contentType: string; contentEncoding: string };
  /** Events + remote control + mingle for this worker (src/control/worker-ops.ts); absent = none. */
  ops?(worker: WorkerOpsWorker): WorkerOps;
  /**
   * A queue name as the app's queue table has it (`app.amqp.queues[name]`: `taskQueues`, the
   * default queue's exchange type and queue type); absent = kombu's default `Queue(name)`.
   */
  resolveQueue?(name: string): QueueSpec;
}

/** Every key of {@link WorkerOptions}, for the unknown-option check (keep in step with the interface). */
export const WORKER_OPTION_KEYS = [
  "queues",
  "concurrency",
  "prefetchMultiplier",
  "hostname",
  "threads",
  "threadExecArgv",
  "pool",
  "processes",
  "processExecArgv",
  "maxTasksPerChild",
  "maxMemoryPerChild",
  "taskEvents",
  "remoteControl",
  "withoutMingle",
  "statedb",
  "handleSignals",
  "heapPolicy",
  "logger",
] as const satisfies readonly (keyof WorkerOptions)[];
// ...and every WorkerOptions key is listed (a compile-time check).
void (true satisfies [Exclude<keyof WorkerOptions, (typeof WORKER_OPTION_KEYS)[number]>] extends [never]
  ? true
  : never);

export interface CloseOptions {
  /**
   * How long to wait for running tasks before restoring the rest, in milliseconds (the name
   * says so: Celeriac's durations are otherwise seconds, as Celery's); default 30 000.
   */
  timeoutMs?: number;
  /** @deprecated Milliseconds: use `timeoutMs`. Still read (when `timeoutMs` is absent) until Celeriac 1.0. */
  timeout?: number;
}

/** A queue name becomes kombu's default `Queue(name)`: a direct exchange of the same name, durable. */
export function toQueueSpec(q: string | QueueSpec): QueueSpec {
  return typeof q === "string"
    ? { name: q, exchange: q, exchangeType: "direct", routingKey: q, durable: true }
    : q;
}

/**
 * The queues a worker starts consuming: `options.queues` (a name as the app's queue table has it),
 * else the default queue.
 */
export function startQueues(options: WorkerOptions, deps: WorkerDeps): QueueSpec[] {
  return (options.queues ?? [deps.settings.taskDefaultQueue]).map((q) =>
    typeof q === "string" && deps.resolveQueue ? deps.resolveQueue(q) : toQueueSpec(q),
  );
}

type Check = (option: string, value: unknown) => void;

const stringList: Check = (option, value) => {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new ConfigError(option, `${option} must be an array of strings (got ${describe(value)})`);
};

const queueList: Check = (option, value) => {
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (q) =>
        (typeof q === "string" && q !== "") ||
        (q !== null && typeof q === "object" && typeof (q as { name?: unknown }).name === "string"),
    );
  if (!ok)
    throw new ConfigError(
      option,
      `${option} must be a non-empty array of queue names or queue specs {name, exchange, ...} (got ${describe(value)})`,
    );
};

const WORKER_OPTION_CHECKS: Record<(typeof WORKER_OPTION_KEYS)[number], Check> = {
  queues: queueList,
  concurrency: number({ min: 1, integer: true }),
  prefetchMultiplier: number({ min: 0, integer: true }),
  hostname: text({ nonEmpty: true }),
  threads: number({ min: 1, integer: true }),
  threadExecArgv: stringList,
  pool: oneOf(["async", "process"]),
  processes: number({ min: 1, integer: true }),
  processExecArgv: stringList,
  maxTasksPerChild: number({ min: 1, integer: true, nullable: true }),
  maxMemoryPerChild: number({ min: 1, integer: true, nullable: true }),
  taskEvents: isBool,
  remoteControl: isBool,
  withoutMingle: isBool,
  statedb: text({ nonEmpty: true }),
  handleSignals: isBool,
  heapPolicy: isBool,
  logger: (_option, value) => void checkLogger(value),
};

/**
 * Validates `app.worker(options)` as strictly as `new Celery(options)`: an
 * unknown key names the closest valid one (`concurency` -> `concurrency`,
 * `queue` -> `queues`), a bad value names the option and what it accepts.
 */
export function checkWorkerOptions(options: unknown): WorkerOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new ConfigError("options", `worker options must be an object (got ${describe(options)})`);
  rejectUnknownKeys("worker option", options, WORKER_OPTION_KEYS);
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) WORKER_OPTION_CHECKS[key as keyof typeof WORKER_OPTION_CHECKS](key, value);
  }
  return options as WorkerOptions;
}
