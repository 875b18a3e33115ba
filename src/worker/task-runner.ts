import type { ReplyDestination, ResultMetaRecord } from "../backends/backend.js";
import type { SignatureLike } from "../canvas/options.js";
import { runAsWorkerTask } from "../client/current-task.js";
import type { CompatProfile } from "../compat.js";
import { traceTaskRun } from "../tracing.js";
import type { Delivery } from "../transports/transport.js";
import { handlerArgs } from "./call-args.js";
import { addToChord, replaceError } from "./canvas-context.js";
import type { TaskContext } from "./context.js";
import { PythonError, Retry, type RetryOptions, Terminated } from "./errors.js";
import { excRepr, tracebackOf } from "./exc-info.js";
import { type RunEnd, runWithLimits } from "./executor.js";
import { lateSettlement } from "./late-ack.js";
import { requestLabel, type WorkerRequest } from "./request.js";
import { type MetaContext, requestResultMeta } from "./result-meta.js";
import { retryDecision } from "./retry-decision.js";
import { LazyAbortController, type RunControl } from "./run-control.js";
import type { RunnerDeps, RunnerOutcome } from "./runner-deps.js";
import { errorMessage, Settlement } from "./settlement.js";
import { plainTaskContext, workerTaskContext } from "./task-context.js";
import {
  OutcomeRecorder,
  type Recorded,
  type RecorderHost,
  type RunPlan,
  replyDestination,
} from "./task-outcome.js";
import type { TaskDefinition, TaskHandler } from "./task-registry.js";
import { type UpdateStateDeps, updateTaskState } from "./update-state.js";

export type { ModulePool, RunnerDeps, RunnerOutcome } from "./runner-deps.js";
export { replyDestination } from "./task-outcome.js";

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

export class TaskRunner implements RecorderHost {
  private readonly recorder: OutcomeRecorder;

  constructor(readonly deps: RunnerDeps) {
    this.recorder = new OutcomeRecorder(this);
  }

  metaContext(): MetaContext {
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
  store(meta: ResultMetaRecord, destination?: ReplyDestination): Promise<void> {
    const { backend, logger } = this.deps;
    if (!backend) return Promise.resolve();
    // Not an async function: one promise per stored meta on the per-task path, not two.
    const failed = (err: unknown) =>
      logger.error({ err }, `Could not store result of task ${meta.task_id}: ${errorMessage(err)}`);
    try {
      return backend.storeResult(meta, destination).catch(failed);
    } catch (err) {
      failed(err);
      return Promise.resolve();
    }
  }

  /**
   * Runs the request; resolves once its meta is stored, its message settled
   * and its handler has actually returned (an async handler past its hard
   * time limit cannot be killed: it keeps its slot until it returns).
   *
   * One lifecycle, one settle point (the shape of graphile-worker's
   * `worker.ts`: the job is always released, and a failure to record the
   * outcome takes a fatal path instead of escaping): whatever throws after
   * admission (result encoding, a repr, the backend, a continuation) lands in
   * {@link fatal}, which logs it, stores FAILURE as Celery's tracer does for
   * an internal error, and the message is settled exactly once by the
   * {@link Settlement} below. Events are reported after the settle, as
   * Celery's `Request.on_success` acks before `send_event`.
   *
   * `control` is the run's own stop switch: aborting it aborts `ctx.signal`;
   * aborting it with a {@link Terminated} reason also abandons the run as
   * revoked (Celery's pool kills the process on terminate).
   *
   * `handlerReturned` is called once the handler has returned (not for one past its hard time
   * limit that could not be stopped), before its outcome is stored: the worker's concurrency slot
   * can go to the next task (run-slots.ts).
   */
  async run(
    request: WorkerRequest,
    task: TaskDefinition,
    delivery: Delivery,
    control: RunControl,
    handlerReturned?: () => void,
  ): Promise<void> {
    const settlement = new Settlement(delivery, this.deps.logger);
    const options = task.options;
    const ignoreResult = effectiveIgnoreResult(request.ignoreResult, options.ignoreResult, this.deps.compat);
    const plan: RunPlan = {
      label: requestLabel(request),
      ignoreResult,
      storeErrors: !ignoreResult || this.deps.storeErrorsEvenIfIgnored,
      runtime: 0,
    };
    // Celery acks before running (kombu's ack is a socket write it does not wait on); we do not
    // hold the handler back on the round trip either. A failed ack is logged by the settlement.
    if (!options.acksLate) void settlement.settle("ack");
    // build_tracer: task_prerun, then STARTED, then the body.
    const prerun = this.deps.hooks?.prerun(request);
    if (prerun) await prerun;
    let recorded: Recorded;
    let unkillable: Promise<void> | null = null;
    try {
      if (options.trackStarted && !ignoreResult) {
        await this.store(
          requestResultMeta(
            "STARTED",
            { pid: process.pid, hostname: this.deps.hostname },
            null,
            request,
            this.metaContext(),
          ),
          replyDestination(request),
        );
      }
      const started = performance.now();
      const outcome = await this.attempt(request, task, control);
      plan.runtime = (performance.now() - started) / 1000;
      if (outcome.kind === "timeout" && !outcome.killed) unkillable = outcome.settled;
      else handlerReturned?.();
      recorded = await this.recorder.record(request, task, outcome, plan);
    } catch (fatal) {
      recorded = await this.fatal(request, task, plan, fatal);
    }
    // Signals run in the tracer, after the meta is stored and before Request.on_success acks late.
    const hooked = recorded.signal ? this.deps.hooks?.settled(request, recorded.signal) : undefined;
    if (hooked) await hooked;
    await settlement.settle(recorded.decision);
    if (recorded.report) this.report(request, recorded.report);
    if (unkillable) await this.holdSlot(plan.label, unkillable);
  }

  /**
   * celery/app/trace.py `build_tracer`'s outer handler: an exception raised
   * outside the task body (`report_internal_error`, logged as "Exception
   * raised outside body") is stored through `on_error(request, exc)`, i.e.
   * FAILURE with that exception. Never throws.
   */
  private async fatal(
    request: WorkerRequest,
    task: TaskDefinition,
    plan: RunPlan,
    error: unknown,
  ): Promise<Recorded> {
    const decision = lateSettlement(task.options, "failure").settle;
    try {
      const traceback = tracebackOf(error);
      this.deps.logger.error(
        { err: error instanceof Error ? error : undefined },
        `Task ${plan.label}: Exception raised outside body: ${excRepr(error)}:\n${traceback}`,
      );
      if (plan.storeErrors) {
        const meta = requestResultMeta(
          "FAILURE",
          this.recorder.excInfo(error),
          traceback,
          request,
          this.metaContext(),
        );
        await this.store(meta, replyDestination(request));
      }
      return {
        decision,
        report: { kind: "failed", exceptionRepr: excRepr(error), traceback },
        signal: {
          kind: "failure",
          exception: error,
          traceback,
          afterPostrun: false,
          postrun: { state: "FAILURE", retval: error },
        },
      };
    } catch (again) {
      this.deps.logger.error(`Task ${plan.label}: internal error not recorded: ${errorMessage(again)}`);
      return { decision, report: null };
    }
  }

  /** Tells the worker how the run ended (task events); a failure there changes nothing stored. */
  private report(request: WorkerRequest, outcome: RunnerOutcome): void {
    try {
      this.deps.onOutcome?.(request, outcome);
    } catch (err) {
      this.deps.logger.error({ err }, `task event for ${request.id} not sent: ${errorMessage(err)}`);
    }
  }

  /** An async handler past its hard limit: its slot stays taken until its promise settles. */
  private async holdSlot(label: string, settled: Promise<void>): Promise<void> {
    const { logger } = this.deps;
    logger.warn(
      `Task ${label} could not be killed: an async handler keeps running after its hard time limit; ` +
        "its concurrency slot stays taken until it returns (use threadedTask for handlers that must be killed)",
    );
    await settled;
    logger.warn(`Task ${label}: handler returned after its hard time limit; concurrency slot released`);
  }

  /** The handler under its time limits, ended early by a remote terminate (executor.ts). */
  private attempt(request: WorkerRequest, task: TaskDefinition, stop: RunControl): Promise<RunEnd> {
    const [hardHeader, softHeader] = request.timeLimit;
    const hard = hardHeader ?? task.options.timeLimit;
    const soft = softHeader ?? task.options.softTimeLimit;
    // ctx.signal's own controller: a time limit aborts it, not the run's stop switch.
    const controller = new LazyAbortController();
    const label = requestLabel(request);
    const limits = {
      soft,
      hard,
      controller,
      stop,
      onSoftTimeout: (s: number) => this.deps.logger.warn(`Soft time limit (${s}s) exceeded for ${label}`),
    };
    const handler = task.handler;
    let args: unknown[];
    try {
      args = handlerArgs(request.name, task.options.params, request.args, request.kwargs);
    } catch (bindError) {
      return runWithLimits(() => Promise.reject(bindError), limits);
    }
    // OpenTelemetry (src/tracing.ts): a consumer span, child of the sender's, active while it runs.
    const span = { name: request.name, id: request.id, routingKey: request.deliveryInfo.routingKey };
    const traced = <T>(run: () => T | Promise<T>) =>
      traceTaskRun(span, request.customHeaders, run, (err) => err instanceof Retry);
    if (typeof handler === "function") {
      const ctx = this.context(request, task, () => controller.signal, hard, soft);
      request.children ??= [];
      const current = {
        id: request.id,
        rootId: request.rootId,
        priority: typeof request.properties.priority === "number" ? request.properties.priority : null,
        children: request.children,
      };
      return runWithLimits(
        () => runAsWorkerTask(current, () => traced(() => (handler as TaskHandler)(ctx, ...args))),
        limits,
      );
    }
    const { result, control } = this.deps.modulePool(handler).run(
      {
        module: handler.module,
        exportName: handler.exportName,
        args,
        context: plainTaskContext(request, this.deps.hostname, hard, soft),
      },
      {
        updateState: (state, meta, options) =>
          updateTaskState(this.updateStateDeps(), request, state, meta, options),
      },
    );
    // revoke(terminate=True) ends the run where it runs (Celery's pool kills the child); anything else aborts ctx.signal.
    controller.signal.addEventListener(
      "abort",
      () => (controller.signal.reason instanceof Terminated ? control.terminate() : control.abort()),
      { once: true },
    );
    return runWithLimits(() => traced(() => result), { ...limits, onHardTimeout: () => control.terminate() });
  }

  private context(
    request: WorkerRequest,
    task: TaskDefinition,
    signal: () => AbortSignal,
    hard: number | null,
    soft: number | null,
  ): TaskContext {
    const { canvas, backend } = this.deps;
    return workerTaskContext(plainTaskContext(request, this.deps.hostname, hard, soft), signal, {
      retry: (options: RetryOptions = {}): never => {
        throw this.prepareRetry(request, task, options);
      },
      replace: (sig: SignatureLike): never => {
        throw replaceError(request, sig, canvas);
      },
      addToChord: ((sig: SignatureLike, lazy = false) =>
        addToChord(request, sig, lazy, canvas, backend)) as TaskContext["addToChord"],
      updateState: (state, meta = null, options) =>
        updateTaskState(this.updateStateDeps(), request, state, meta, options),
    });
  }

  /**
   * The context of a direct call of `task` (`Task.__call__`, no message of its own: a new-style
   * errback called in-process): no time limits, and `retry()` raises its `exc` (or Retry) instead
   * of re-sending, as `Task.retry` does when `request.called_directly`.
   */
  directContext(request: WorkerRequest, task: TaskDefinition): TaskContext {
    const controller = new LazyAbortController();
    const ctx = this.context(request, task, () => controller.signal, null, null);
    return {
      ...ctx,
      retry: (options: RetryOptions = {}): never => {
        throw options.exc ?? new PythonError("Retry", ["Task can be retried", null], "celery.exceptions");
      },
    };
  }

  private updateStateDeps(): UpdateStateDeps {
    return {
      backend: this.deps.backend,
      encodeResult: this.deps.encodeResult,
      metaContext: () => this.metaContext(),
    };
  }

  /**
   * celery/app/task.py `Task.retry` up to the publish: the max-retries check
   * (throws `exc` or MaxRetriesExceededError) and the countdown. Publishing
   * happens in {@link onError}, so `retry()` can stay synchronous.
   */
  prepareRetry(request: WorkerRequest, task: TaskDefinition, options: RetryOptions): Retry | unknown {
    return retryDecision(request, task, options);
  }
}
