import type { ResultBackend } from "../backends/backend.js";
import type { CompatProfile } from "../compat.js";
import type { RunOutcome } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import type { OutgoingMessage, QueueSpec } from "../transports/transport.js";
import type { WorkerCanvas } from "./canvas-host.js";
import type { Retry } from "./errors.js";
import type { ModuleJob, ModuleJobHooks } from "./module-job.js";
import type { WorkerRequest } from "./request.js";
import type { ResultEncoder } from "./result-value.js";
import type { RetryRoute } from "./retry-route.js";
import type { RunHooks } from "./task-hooks.js";
import type { ModuleHandler } from "./task-registry.js";

/**
 * Runs one accepted request the way celery/app/trace.py `build_tracer`
 * does: STARTED (trackStarted), the handler under time limits, then SUCCESS
 * / RETRY / FAILURE meta, Celery's log lines, and the late ack.
 */
export interface RunnerDeps {
  backend: ResultBackend | null;
  publish(message: OutgoingMessage, declare?: readonly QueueSpec[]): Promise<void>;
  /** Where a retry goes: the queue to declare, and RabbitMQ's native delay (src/worker/retry-route.ts); absent = published as built. */
  routeRetry?(message: OutgoingMessage, request: WorkerRequest, retry: Retry): RetryRoute | null;
  encodeBody(body: unknown[]): { body: Uint8Array; contentType: string; contentEncoding: string };
  logger: Logger;
  hostname: string;
  compat: CompatProfile;
  resultExtended: boolean;
  storeErrorsEvenIfIgnored: boolean;
  /** The result serializer (Backend.encode): a result it refuses is stored as FAILURE EncodeError. */
  encodeResult: ResultEncoder;
  /** The pool a module handler (`threadedTask`, `processTask`) runs in; the worker picks it. */
  modulePool(handler: ModuleHandler): ModulePool;
  /** Canvas continuations (callbacks, chain, chord join, errbacks); absent = none run. */
  canvas?: WorkerCanvas;
  /**
   * Told how each run ended, after its meta is stored (the worker turns it
   * into task-succeeded/failed/retried/rejected/revoked events).
   */
  onOutcome?(request: WorkerRequest, outcome: RunnerOutcome): void;
  /** Celery's task signals (`task_prerun`, `task_success`, ...), at the points the tracer sends them. */
  hooks?: RunHooks;
}

/** A run's end as events report it; `terminated` = ended by `revoke(terminate=True)`. */
export type RunnerOutcome = RunOutcome | { kind: "terminated"; signum: number };

/** Where a module handler runs: the thread pool or the process pool (same shape). */
export interface ModulePool {
  run(
    job: ModuleJob,
    hooks?: ModuleJobHooks,
  ): { result: Promise<unknown>; control: { abort(): void; terminate(): void } };
}
