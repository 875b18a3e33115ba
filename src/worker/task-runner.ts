import type { ReplyDestination, ResultBackend, ResultMetaRecord } from "../backends/backend.js";
import type { ContinuationOutcome } from "../canvas/continuation.js";
import type { CompatProfile } from "../compat.js";
import type { RunOutcome } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import type { Delivery, OutgoingMessage } from "../transports/transport.js";
import { autoretryOptions } from "./backoff.js";
import { runWorkerContinuations, type WorkerCanvas } from "./canvas-host.js";
import type { TaskContext } from "./context.js";
import {
  Ignore,
  MaxRetriesExceededError,
  Reject,
  Retry,
  type RetryOptions,
  Terminated,
  TimeLimitExceeded,
  WorkerLostError,
} from "./errors.js";
import { excInfoOf, excRepr, tracebackOf } from "./exc-info.js";
import { type Outcome, runWithLimits } from "./executor.js";
import { lateSettlement } from "./late-ack.js";
import type { ModuleJob } from "./module-job.js";
import type { WorkerRequest } from "./request.js";
import { buildResultMeta, childTuple, type MetaContext } from "./result-meta.js";
import { buildRetryMessage } from "./retry-message.js";
import { TaskRevokedErrorInfo } from "./revoked.js";
import type { ModuleHandler, TaskDefinition, TaskHandler } from "./task-registry.js";

/** Where a module handler runs: the thread pool or the process pool (same shape). */
export interface ModulePool {
  run(job: ModuleJob): { result: Promise<unknown>; control: { abort(): void; terminate(): void } };
}

/**
 * Runs one accepted request the way celery/app/trace.py `build_tracer`
 * does: STARTED (trackStarted), the handler under time limits, then SUCCESS
 * / RETRY / FAILURE meta, Celery's log lines, and the late ack.
 */
export interface RunnerDeps {
  backend: ResultBackend | null;
  publish(message: OutgoingMessage): Promise<void>;
  encodeBody(body: unknown[]): { body: Uint8Array; contentType: string; contentEncoding: string };
  logger: Logger;
  hostname: string;
  compat: CompatProfile;
  resultExtended: boolean;
  storeErrorsEvenIfIgnored: boolean;
  /** The pool a module handler (`threadedTask`, `processTask`) runs in; the worker picks it. */
  modulePool(handler: ModuleHandler): ModulePool;
  /** Canvas continuations (callbacks, chain, chord join, errbacks); absent = none run. */
  canvas?: WorkerCanvas;
  /**
   * Told how each run ended, after its meta is stored (the worker turns it
   * into task-succeeded/failed/retried/rejected/revoked events).
   */
  onOutcome?(request: WorkerRequest, outcome: RunnerOutcome): void;
}

/** A run's end as events report it; `terminated` = ended by `revoke(terminate=True)`. */
export type RunnerOutcome = RunOutcome | { kind: "terminated"; signum: number };

/** Resolves when `signal` aborts with a {@link Terminated} reason (remote terminate); `dispose` stops listening. */
function terminatedBy(signal: AbortSignal): { promise: Promise<Terminated>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<Terminated>((resolve) => {
    onAbort = () => {
      if (signal.reason instanceof Terminated) resolve(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/** celery/worker/request.py + celery/backends/base.py `get_actual_ignore_result` (5.6.3+ override rule). */
export function effectiveIgnoreResult(
  header: boolean | null,
  taskSetting: boolean,
  compat: CompatProfile,
): boolean {
  const overrides = compat.minor === "5.7" || compat.minor === "5.6";
  if (overrides) return header === null ? taskSetting : header;
  return taskSetting || header === true;
}

/** The request's reply destination (`reply_to`, `correlation_id` properties) for the RPC backend. */
export function replyDestination(
  request: Pick<WorkerRequest, "replyTo" | "correlationId"> &
    Partial<Pick<WorkerRequest, "argsrepr" | "kwargsrepr" | "headers">>,
): ReplyDestination {
  const periodic = request.headers?.periodic_task_name;
  return {
    replyTo: request.replyTo,
    correlationId: request.correlationId,
    // django-db's result_extended columns (django_celery_results DatabaseBackend._get_extended_properties).
    request: {
      argsrepr: request.argsrepr ?? null,
      kwargsrepr: request.kwargsrepr ?? null,
      periodicTaskName: typeof periodic === "string" ? periodic : null,
    },
  };
}

/** Python's `repr()`-ish rendering of a return value for the "succeeded" line. */
function resultRepr(value: unknown): string {
  if (value === undefined || value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  const text = typeof value === "string" ? `'${value}'` : (JSON.stringify(value) ?? String(value));
  return text.length > 256 ? `${text.slice(0, 253)}...` : text;
}

export class TaskRunner {
  constructor(private readonly deps: RunnerDeps) {}

  private metaContext(): MetaContext {
    return {
      hostname: this.deps.hostname,
      resultExtended: this.deps.resultExtended,
      compat: this.deps.compat,
    };
  }

  /**
   * `destination` is the request's reply_to/correlation_id: the RPC backend
   * publishes there (celery/backends/rpc.py `RPCBackend.destination_for`
   * reads them from the request); key/value backends ignore it.
   */
  async store(meta: ResultMetaRecord, destination?: ReplyDestination): Promise<void> {
    if (!this.deps.backend) return;
    try {
      await this.deps.backend.storeResult(meta, destination);
    } catch (err) {
      this.deps.logger.error(
        { err },
        `Could not store result of task ${meta.task_id}: ${(err as Error).message}`,
      );
    }
  }

  /**
   * Runs the request; resolves once its meta is stored and its message settled.
   * `signalOnShutdown` is the run's own signal: aborting it aborts `ctx.signal`;
   * aborting it with a {@link Terminated} reason also abandons the run as
   * revoked (Celery's pool kills the process on terminate).
   */
  async run(
    request: WorkerRequest,
    task: TaskDefinition,
    delivery: Delivery,
    signalOnShutdown: AbortSignal,
  ): Promise<void> {
    const { logger } = this.deps;
    const options = task.options;
    const ignoreResult = effectiveIgnoreResult(request.ignoreResult, options.ignoreResult, this.deps.compat);
    const storeErrors = !ignoreResult || this.deps.storeErrorsEvenIfIgnored;
    const [hardHeader, softHeader] = request.timeLimit;
    const hard = hardHeader ?? options.timeLimit;
    const soft = softHeader ?? options.softTimeLimit;

    // Celery acks before running (kombu's ack is a socket write it does not wait on); we do not
    // hold the handler back on the round trip either. A failed ack is logged by settle().
    const earlyAck = options.acksLate ? null : this.settle(delivery, "ack");
    if (options.trackStarted && !ignoreResult) {
      await this.store(
        buildResultMeta(
          "STARTED",
          { pid: process.pid, hostname: this.deps.hostname },
          null,
          request,
          this.metaContext(),
        ),
        replyDestination(request),
      );
    }

    const controller = new AbortController();
    const onShutdown = () => controller.abort(signalOnShutdown.reason);
    signalOnShutdown.addEventListener("abort", onShutdown, { once: true });
    const started = performance.now();
    const terminated = terminatedBy(signalOnShutdown);
    const raced = await Promise.race([
      this.execute(request, task, controller, soft, hard),
      terminated.promise.then((reason) => ({ kind: "terminated" as const, reason })),
    ]);
    terminated.dispose();
    // A handler that settled on the abort itself still counts as terminated.
    const reason: unknown = signalOnShutdown.reason;
    const outcome = reason instanceof Terminated ? { kind: "terminated" as const, reason } : raced;
    signalOnShutdown.removeEventListener("abort", onShutdown);
    const runtime = (performance.now() - started) / 1000;
    const label = `${request.displayName}[${request.id}]`;
    const report = (o: RunnerOutcome) => this.deps.onOutcome?.(request, o);

    let finalAck: "ack" | "requeue" | "reject" = "ack";
    if (outcome.kind === "terminated") {
      // celery/worker/request.py on_failure(Terminated): _announce_revoked("terminated", ...),
      // mark_as_revoked(store_result=store_errors); no task-failed event.
      logger.error(`Task ${label} terminated: ${outcome.reason.message}`);
      if (storeErrors) {
        await this.store(
          buildResultMeta("REVOKED", TaskRevokedErrorInfo("terminated"), null, request, this.metaContext()),
          replyDestination(request),
        );
      }
      report({ kind: "terminated", signum: outcome.reason.signum });
    } else if (outcome.kind === "ok") {
      const value = outcome.value;
      await this.finish(request, { kind: "success", value }, !ignoreResult, (children) =>
        buildResultMeta("SUCCESS", value, null, request, this.metaContext(), children),
      );
      logger.info(`Task ${label} succeeded in ${runtime.toFixed(6)}s: ${resultRepr(outcome.value)}`);
      report({ kind: "succeeded", resultRepr: resultRepr(value), runtime });
    } else if (outcome.kind === "timeout") {
      const exc = new TimeLimitExceeded(outcome.seconds);
      logger.error(`Hard time limit (${outcome.seconds}s) exceeded for ${label}`);
      finalAck = lateSettlement(options, "timeout").settle;
      await this.finish(request, { kind: "failure", exc: excInfoOf(exc), traceback: null }, storeErrors, () =>
        buildResultMeta("FAILURE", excInfoOf(exc), null, request, this.metaContext()),
      );
      report({ kind: "failed", exceptionRepr: excRepr(exc), traceback: tracebackOf(exc) });
    } else {
      finalAck = await this.onError(request, task, outcome.error, label, runtime, ignoreResult, storeErrors);
    }
    if (earlyAck) await earlyAck;
    else if (finalAck === "requeue") await this.settle(delivery, "requeue");
    else if (finalAck === "reject") await this.settle(delivery, "reject");
    else await this.settle(delivery, "ack");
  }

  private execute(
    request: WorkerRequest,
    task: TaskDefinition,
    controller: AbortController,
    soft: number | null,
    hard: number | null,
  ): Promise<Outcome> {
    const label = `${request.displayName}[${request.id}]`;
    const limits = {
      soft,
      hard,
      controller,
      onSoftTimeout: (s: number) => this.deps.logger.warn(`Soft time limit (${s}s) exceeded for ${label}`),
    };
    const handler = task.handler;
    if (typeof handler === "function") {
      const ctx = this.context(request, task, controller.signal, hard, soft);
      return runWithLimits(() => (handler as TaskHandler)(ctx, ...request.args), limits);
    }
    const { result, control } = this.deps.modulePool(handler).run({
      module: handler.module,
      exportName: handler.exportName,
      args: request.args,
      context: this.plainContext(request, hard, soft),
    });
    // revoke(terminate=True) ends the run where it runs (Celery's pool kills the child); anything else aborts ctx.signal.
    controller.signal.addEventListener(
      "abort",
      () => (controller.signal.reason instanceof Terminated ? control.terminate() : control.abort()),
      { once: true },
    );
    return runWithLimits(() => result, { ...limits, onHardTimeout: () => control.terminate() });
  }

  private plainContext(
    request: WorkerRequest,
    hard: number | null,
    soft: number | null,
  ): Record<string, unknown> {
    return {
      id: request.id,
      name: request.name,
      args: request.args,
      kwargs: request.kwargs,
      retries: request.retries,
      rootId: request.rootId,
      parentId: request.parentId,
      groupId: request.groupId,
      groupIndex: request.groupIndex,
      eta: request.eta,
      expires: request.expires,
      timeLimit: [hard, soft],
      origin: request.origin,
      replyTo: request.replyTo,
      correlationId: request.correlationId,
      headers: request.customHeaders,
      deliveryInfo: { ...request.deliveryInfo },
      hostname: this.deps.hostname,
    };
  }

  private context(
    request: WorkerRequest,
    task: TaskDefinition,
    signal: AbortSignal,
    hard: number | null,
    soft: number | null,
  ): TaskContext {
    const plain = this.plainContext(request, hard, soft) as Omit<TaskContext, "signal" | "retry">;
    return {
      ...plain,
      signal,
      retry: (options: RetryOptions = {}): never => {
        throw this.prepareRetry(request, task, options);
      },
    };
  }

  /**
   * celery/app/task.py `Task.retry` up to the publish: the max-retries check
   * (throws `exc` or MaxRetriesExceededError) and the countdown. Publishing
   * happens in {@link onError}, so `retry()` can stay synchronous.
   */
  prepareRetry(request: WorkerRequest, task: TaskDefinition, options: RetryOptions): Retry | unknown {
    const maxRetries = options.maxRetries === undefined ? task.options.maxRetries : options.maxRetries;
    const retries = request.retries + 1;
    if (maxRetries !== null && retries > maxRetries) {
      if (options.exc !== undefined) return options.exc;
      const args = options.args ?? request.args;
      const kwargs = options.kwargs ?? request.kwargs;
      return new MaxRetriesExceededError(
        `Can't retry ${request.name}[${request.id}] args:${JSON.stringify(args)} kwargs:${JSON.stringify(kwargs)}`,
      );
    }
    const when =
      options.eta ?? (options.countdown === undefined ? task.options.defaultRetryDelay : options.countdown);
    return new Retry(options, when);
  }

  private async onError(
    request: WorkerRequest,
    task: TaskDefinition,
    errorIn: unknown,
    label: string,
    runtime: number,
    ignoreResult: boolean,
    storeErrors: boolean,
  ): Promise<"ack" | "requeue" | "reject"> {
    const { logger } = this.deps;
    let error = errorIn;
    // celery/app/autoretry.py: matching errors become task.retry(exc=..., countdown=backoff, **retry_kwargs).
    const autoretry =
      error instanceof Retry ? null : autoretryOptions(error, task, request.retries, this.deps.compat);
    if (autoretry !== null) error = this.prepareRetry(request, task, autoretry);
    if (error instanceof Retry) {
      const eta = error.when instanceof Date ? error.when : new Date(Date.now() + error.when * 1000);
      try {
        await this.deps.publish(
          buildRetryMessage({
            request,
            options: error.options,
            eta,
            ignoreResult,
            hostname: this.deps.hostname,
            compat: this.deps.compat,
            encodeBody: this.deps.encodeBody,
          }),
        );
      } catch (publishError) {
        // Task.retry: a failed publish raises Reject(exc, requeue=False).
        error = new Reject(publishError, false);
      }
      if (error instanceof Retry) {
        const exc = error.exc;
        const reason = exc === undefined ? error.message : excRepr(exc);
        logger.info(
          `Task ${label} retry: Retry in ${error.when instanceof Date ? error.when.toISOString() : `${error.when}s`}: ${reason}`,
        );
        if (storeErrors) {
          const result = exc === undefined ? null : excInfoOf(exc);
          await this.store(
            buildResultMeta(
              "RETRY",
              result,
              exc === undefined ? null : tracebackOf(exc),
              request,
              this.metaContext(),
              [childTuple(request.id)],
            ),
            replyDestination(request),
          );
        }
        this.deps.onOutcome?.(request, {
          kind: "retried",
          exceptionRepr: excRepr(exc === undefined ? error : exc),
          traceback: exc === undefined ? "" : tracebackOf(exc),
        });
        return "ack";
      }
    }
    if (error instanceof Ignore) {
      logger.info(`Task ${label} ignored`);
      this.deps.onOutcome?.(request, { kind: "ignored" });
      return "ack";
    }
    if (error instanceof Reject) {
      logger.info(`Task ${label} rejected: ${error.message}${error.requeue ? " (requeued)" : ""}`);
      this.deps.onOutcome?.(request, { kind: "rejected", requeue: error.requeue });
      if (error.requeue) return "requeue";
      // 5.7: Reject(requeue=False) stores FAILURE (celery/worker/request.py Request.on_failure).
      if (storeErrors && this.deps.compat.minor === "5.7") {
        await this.store(
          buildResultMeta("FAILURE", excInfoOf(error), tracebackOf(error), request, this.metaContext()),
          replyDestination(request),
        );
      }
      return "reject";
    }
    const late = lateSettlement(task.options, error instanceof WorkerLostError ? "worker-lost" : "failure");
    if (!late.store) {
      // Request.on_failure: requeued for another run, so no FAILURE and no task-failed event.
      logger.error(`Task handler raised error: ${excRepr(error)} (message requeued: rejectOnWorkerLost)`);
      this.deps.onOutcome?.(request, { kind: "rejected", requeue: true });
      return late.settle;
    }
    logger.error(
      { err: error instanceof Error ? error : undefined },
      `Task ${label} raised unexpected: ${excRepr(error)}`,
    );
    // A lost child left no traceback: Request.on_failure stores WorkerLostError with traceback None.
    const traceback = error instanceof WorkerLostError ? null : tracebackOf(error);
    const failure = { kind: "failure" as const, exc: excInfoOf(error), traceback };
    await this.finish(request, failure, storeErrors, () =>
      buildResultMeta("FAILURE", failure.exc, failure.traceback, request, this.metaContext()),
    );
    this.deps.onOutcome?.(request, {
      kind: "failed",
      exceptionRepr: excRepr(error),
      traceback: tracebackOf(error),
    });
    void runtime;
    return late.settle;
  }

  /**
   * Stores the outcome (when `write`) with the canvas continuations around
   * it, in Celery's order (celery/app/trace.py: callbacks and next chain step
   * before `mark_as_done`; chord part, failed chain steps and errbacks after).
   */
  private async finish(
    request: WorkerRequest,
    outcome: ContinuationOutcome,
    write: boolean,
    meta: (children: unknown[]) => ResultMetaRecord,
  ): Promise<void> {
    const store = async (children: unknown[]) => {
      if (write) await this.store(meta(children), replyDestination(request));
    };
    if (this.deps.canvas) await runWorkerContinuations(this.deps.canvas, request, outcome, store);
    else await store([]);
  }

  private async settle(delivery: Delivery, how: "ack" | "requeue" | "reject"): Promise<void> {
    try {
      if (how === "ack") await delivery.ack();
      else await delivery.reject(how === "requeue");
    } catch (err) {
      // The message stays in `unacked`; the visibility sweep will redeliver it.
      this.deps.logger.error(
        { err },
        `Could not ${how} message ${delivery.deliveryInfo.deliveryTag}: ${(err as Error).message}`,
      );
    }
  }
}
