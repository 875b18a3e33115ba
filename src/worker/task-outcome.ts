import type { ReplyDestination, ResultMetaRecord } from "../backends/backend.js";
import type { ContinuationOutcome } from "../canvas/continuation.js";
import { saferepr } from "../protocol/saferepr.js";
import { autoretryOptions } from "./backoff.js";
import { sendReplacement } from "./canvas-context.js";
import { runWorkerContinuations } from "./canvas-host.js";
import {
  Ignore,
  Reject,
  Replace,
  Retry,
  type RetryOptions,
  TimeLimitExceeded,
  WorkerLostError,
} from "./errors.js";
import { excInfoOf, excRepr, type StoredExcInfo, tracebackOf } from "./exc-info.js";
import type { RunEnd } from "./executor.js";
import { lateSettlement } from "./late-ack.js";
import type { WorkerRequest } from "./request.js";
import { childTuple, type MetaContext, requestResultMeta } from "./result-meta.js";
import { resultEncodeError, serializableExcInfo, storedValue } from "./result-value.js";
import { buildRetryMessage } from "./retry-message.js";
import { TaskRevokedErrorInfo } from "./revoked.js";
import type { RunnerDeps, RunnerOutcome } from "./runner-deps.js";
import type { SettleDecision } from "./settlement.js";
import type { RunSignal } from "./task-hooks.js";
import type { TaskDefinition } from "./task-registry.js";

/** The structured fields of a task log record (src/logging.ts TASK_LOG_FIELDS). */
function logFields(
  request: WorkerRequest,
  hostname: string,
  state: string,
  runtime?: number,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    task_id: request.id,
    task_name: request.name,
    state,
    retries: request.retries,
    hostname,
  };
  if (runtime !== undefined) fields.runtime = runtime;
  return fields;
}

/** What one run decided: how its message is settled, and the event to report once it is. */
export interface Recorded {
  decision: SettleDecision;
  report: RunnerOutcome | null;
  /** The hooks (Celery's task signals) the run fires before it is settled; absent = none. */
  signal?: RunSignal;
}

/** Per-run facts every step reads (celery/worker/request.py `Request` + the task's options). */
export interface RunPlan {
  label: string;
  ignoreResult: boolean;
  storeErrors: boolean;
  runtime: number;
}

/** What the recorder needs from the runner. */
export interface RecorderHost {
  readonly deps: RunnerDeps;
  store(meta: ResultMetaRecord, destination?: ReplyDestination): Promise<void>;
  prepareRetry(request: WorkerRequest, task: TaskDefinition, options: RetryOptions): Retry | unknown;
  metaContext(): MetaContext;
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

/**
 * Turns a finished run into what Celery's tracer and request handlers store
 * and log (celery/app/trace.py `build_tracer`, celery/worker/request.py
 * `on_success` / `on_failure` / `on_retry` / `on_timeout`). It returns the
 * settle decision; the runner settles the message.
 */
export class OutcomeRecorder {
  constructor(private readonly host: RecorderHost) {}

  record(request: WorkerRequest, task: TaskDefinition, outcome: RunEnd, plan: RunPlan): Promise<Recorded> {
    // A success (nearly every task) goes straight to success(): no async wrapper around its promise.
    if (outcome.kind === "ok") return this.success(request, task, outcome.value, plan);
    return this.recordUnsuccessful(request, task, outcome, plan);
  }

  private async recordUnsuccessful(
    request: WorkerRequest,
    task: TaskDefinition,
    outcome: Exclude<RunEnd, { kind: "ok" }>,
    plan: RunPlan,
  ): Promise<Recorded> {
    const { logger } = this.host.deps;
    const { label } = plan;
    if (outcome.kind === "terminated") {
      // celery/worker/request.py on_failure(Terminated): _announce_revoked("terminated", ...),
      // mark_as_revoked(store_result=store_errors); no task-failed event.
      logger.error(
        logFields(request, this.host.deps.hostname, "REVOKED", plan.runtime),
        `Task ${label} terminated: ${outcome.reason.message}`,
      );
      if (plan.storeErrors) {
        await this.host.store(
          requestResultMeta(
            "REVOKED",
            TaskRevokedErrorInfo("terminated"),
            null,
            request,
            this.host.metaContext(),
          ),
          replyDestination(request),
        );
      }
      // The pool process is gone: no task_postrun (Request.terminate kills it); task_revoked before the ack.
      const signum = outcome.reason.signum;
      return {
        decision: "ack",
        report: { kind: "terminated", signum },
        signal: { kind: "terminated", signum, postrun: null },
      };
    }
    if (outcome.kind === "timeout") {
      const exc = new TimeLimitExceeded(outcome.seconds);
      logger.error(
        logFields(request, this.host.deps.hostname, "FAILURE", plan.runtime),
        `Hard time limit (${outcome.seconds}s) exceeded for ${label}`,
      );
      const failure = { kind: "failure" as const, exc: excInfoOf(exc), traceback: null, error: exc };
      await this.finish(request, failure, plan.storeErrors, () =>
        requestResultMeta("FAILURE", failure.exc, null, request, this.host.metaContext()),
      );
      // Request.on_timeout: task_failure from the parent; the killed child never sends task_postrun.
      return {
        decision: lateSettlement(task.options, "timeout").settle,
        report: { kind: "failed", exceptionRepr: excRepr(exc), traceback: tracebackOf(exc) },
        signal: {
          kind: "failure",
          exception: exc,
          traceback: tracebackOf(exc),
          afterPostrun: false,
          postrun: null,
        },
      };
    }
    return this.onError(request, task, outcome.error, plan);
  }

  /**
   * trace.py: callbacks and the next chain step, then `mark_as_done`; an
   * EncodeError there is `on_error(request, exc)` (FAILURE EncodeError).
   */
  private async success(
    request: WorkerRequest,
    task: TaskDefinition,
    returned: unknown,
    plan: RunPlan,
  ): Promise<Recorded> {
    const value = storedValue(returned);
    const encodeError = resultEncodeError(value, this.host.deps.encodeResult);
    if (encodeError !== null) return this.failure(request, task, encodeError, plan);
    try {
      await this.finish(request, { kind: "success", value }, !plan.ignoreResult, (children) =>
        requestResultMeta("SUCCESS", value, null, request, this.host.metaContext(), children),
      );
    } catch (dispatchError) {
      // Thrown only when sending the callbacks or the next chain step failed, before anything was
      // stored (runWorkerContinuations): trace.py makes that `on_error(task_request, exc)`, so
      // FAILURE is stored, the rest of the chain failed and the errbacks called, and a caller
      // waiting on the chain's end gets the error instead of waiting forever.
      return this.failure(request, task, dispatchError, plan);
    }
    // Rstr = saferepr(R, resultrepr_maxsize): the log line and the task-succeeded event.
    const repr = saferepr(value, { maxlen: 1024 });
    this.host.deps.logger.info(
      logFields(request, this.host.deps.hostname, "SUCCESS", plan.runtime),
      `Task ${plan.label} succeeded in ${plan.runtime.toFixed(6)}s: ${repr}`,
    );
    return {
      decision: "ack",
      report: { kind: "succeeded", resultRepr: repr, runtime: plan.runtime },
      signal: { kind: "success", result: returned, postrun: { state: "SUCCESS", retval: returned } },
    };
  }

  /** The exception triple as `prepare_exception` stores it (args the serializer refuses become reprs). */
  excInfo(error: unknown): StoredExcInfo {
    return serializableExcInfo(excInfoOf(error), this.host.deps.encodeResult);
  }

  private async onError(
    request: WorkerRequest,
    task: TaskDefinition,
    errorIn: unknown,
    plan: RunPlan,
  ): Promise<Recorded> {
    const { logger } = this.host.deps;
    const { label } = plan;
    let error = errorIn;
    // celery/app/autoretry.py: matching errors become task.retry(exc=..., countdown=backoff, **retry_kwargs).
    // celery/app/autoretry.py: Ignore (a replaced task too) and Retry are never retried automatically.
    const autoretry =
      error instanceof Retry || error instanceof Ignore
        ? null
        : autoretryOptions(error, task, request.retries, this.host.deps.compat);
    if (autoretry !== null) error = this.host.prepareRetry(request, task, autoretry);
    if (error instanceof Retry) {
      try {
        const message = buildRetryMessage({
          request,
          options: error.options,
          when: error.when,
          ignoreResult: plan.ignoreResult,
          compat: this.host.deps.compat,
          encodeBody: this.host.deps.encodeBody,
        });
        const routed = this.host.deps.routeRetry?.(message, request, error) ?? null;
        await this.host.deps.publish(routed?.message ?? message, routed?.declare);
      } catch (publishError) {
        // Task.retry: a failed publish raises Reject(exc, requeue=False).
        error = new Reject(publishError, false);
      }
      if (error instanceof Retry) return this.retried(request, error, plan);
    }
    if (error instanceof Replace) {
      try {
        await sendReplacement(request, error, this.host.deps.canvas);
      } catch (sendError) {
        // `sig.delay()` raised inside Task.replace: the task fails with that error.
        return this.failure(request, task, sendError, plan);
      }
    }
    if (error instanceof Ignore) {
      logger.info(`Task ${label} ignored`);
      return {
        decision: "ack",
        report: { kind: "ignored" },
        signal: { kind: "none", postrun: { state: "IGNORED", retval: error } },
      };
    }
    if (error instanceof Reject) {
      logger.info(`Task ${label} rejected: ${error.message}${error.requeue ? " (requeued)" : ""}`);
      const report: RunnerOutcome = { kind: "rejected", requeue: error.requeue };
      const postrun = { state: "REJECTED" as const, retval: error };
      if (error.requeue) return { decision: "requeue", report, signal: { kind: "none", postrun } };
      // 5.7: Reject(requeue=False) stores FAILURE (celery/worker/request.py Request.on_failure).
      if (plan.storeErrors && this.host.deps.compat.minor === "5.7") {
        await this.host.store(
          requestResultMeta(
            "FAILURE",
            this.excInfo(error),
            tracebackOf(error),
            request,
            this.host.metaContext(),
          ),
          replyDestination(request),
        );
        // Request.on_failure(Reject): mark_as_failure + task_failure in the parent, after the tracer's postrun.
        const traceback = tracebackOf(error);
        return {
          decision: "reject",
          report,
          signal: { kind: "failure", exception: error, traceback, afterPostrun: true, postrun },
        };
      }
      return { decision: "reject", report, signal: { kind: "none", postrun } };
    }
    return this.failure(request, task, error, plan);
  }

  private async retried(request: WorkerRequest, retry: Retry, plan: RunPlan): Promise<Recorded> {
    const exc = retry.exc;
    const reason = exc === undefined ? retry.message : excRepr(exc);
    const when = retry.when instanceof Date ? retry.when.toISOString() : `${retry.when}s`;
    this.host.deps.logger.info(
      logFields(request, this.host.deps.hostname, "RETRY", plan.runtime),
      `Task ${plan.label} retry: Retry in ${when}: ${reason}`,
    );
    if (plan.storeErrors) {
      const result = exc === undefined ? null : this.excInfo(exc);
      await this.host.store(
        requestResultMeta(
          "RETRY",
          result,
          exc === undefined ? null : tracebackOf(exc),
          request,
          this.host.metaContext(),
          [childTuple(request.id)],
        ),
        replyDestination(request),
      );
    }
    return {
      decision: "ack",
      report: {
        kind: "retried",
        exceptionRepr: excRepr(exc === undefined ? retry : exc),
        traceback: exc === undefined ? "" : tracebackOf(exc),
      },
      // TraceInfo.handle_retry: task_retry(request, reason=the Retry raised, einfo) after mark_as_retry.
      signal: {
        kind: "retry",
        reason: retry,
        traceback: exc === undefined ? "" : tracebackOf(exc),
        postrun: { state: "RETRY", retval: retry },
      },
    };
  }

  /** trace.py `handle_failure`: log, FAILURE meta with errbacks / chord part, task-failed event. */
  async failure(
    request: WorkerRequest,
    task: TaskDefinition,
    error: unknown,
    plan: RunPlan,
  ): Promise<Recorded> {
    const { logger } = this.host.deps;
    const late = lateSettlement(task.options, error instanceof WorkerLostError ? "worker-lost" : "failure");
    if (!late.store) {
      // Request.on_failure: requeued for another run, so no FAILURE and no task-failed event.
      logger.error(`Task handler raised error: ${excRepr(error)} (message requeued: rejectOnWorkerLost)`);
      return {
        decision: late.settle,
        report: { kind: "rejected", requeue: true },
        signal: { kind: "none", postrun: null },
      };
    }
    logger.error(
      {
        ...logFields(request, this.host.deps.hostname, "FAILURE", plan.runtime),
        err: error instanceof Error ? error : undefined,
      },
      `Task ${plan.label} raised unexpected: ${excRepr(error)}`,
    );
    // A lost child left no traceback: Request.on_failure stores WorkerLostError with traceback None.
    const traceback = error instanceof WorkerLostError ? null : tracebackOf(error);
    const failure = { kind: "failure" as const, exc: this.excInfo(error), traceback, error };
    await this.finish(request, failure, plan.storeErrors, () =>
      requestResultMeta("FAILURE", failure.exc, failure.traceback, request, this.host.metaContext()),
    );
    // handle_failure: task_failure after mark_as_failure; a lost child sends no task_postrun.
    const lost = error instanceof WorkerLostError;
    return {
      decision: late.settle,
      report: { kind: "failed", exceptionRepr: excRepr(error), traceback: tracebackOf(error) },
      signal: {
        kind: "failure",
        exception: error,
        traceback: tracebackOf(error),
        afterPostrun: false,
        postrun: lost ? null : { state: "FAILURE", retval: error },
      },
    };
  }

  /**
   * Stores the outcome (when `write`) with the canvas continuations around
   * it, in Celery's order (celery/app/trace.py: callbacks and next chain step
   * before `mark_as_done`; chord part, failed chain steps and errbacks after).
   */
  private finish(
    request: WorkerRequest,
    outcome: ContinuationOutcome,
    write: boolean,
    meta: (children: unknown[]) => ResultMetaRecord,
  ): Promise<void> {
    // Plain functions returning the store's promise (no async wrapper per task); a throw from
    // meta() is a rejection, as in an async function.
    const store = (children: unknown[]): Promise<void> => {
      if (!write) return Promise.resolve();
      try {
        return this.host.store(meta(children), replyDestination(request));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const canvas = this.host.deps.canvas;
    return canvas ? runWorkerContinuations(canvas, request, outcome, store) : store([]);
  }
}
