import { PyTuple, saferepr } from "../protocol/saferepr.js";
import { retryCallArgs } from "./call-args.js";
import { MaxRetriesExceededError, Retry, type RetryOptions } from "./errors.js";
import type { TaskDefinition } from "./task-registry.js";

/** What `retry()` needs to know of the running task (a worker request, or an eager run). */
export interface RetryingRequest {
  readonly name: string;
  readonly id: string;
  readonly retries: number;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
}

/**
 * celery/app/task.py `Task.retry` up to the publish, 5.7.0: the max-retries check (`exc`, or
 * MaxRetriesExceededError when retries run out), the countdown, and the
 * retried call's args/kwargs (rebound by declared `params`, src/worker/call-args.ts). Returns what `retry()`
 * throws: a {@link Retry}, or the error the task fails with. Shared by the worker and eager runs.
 */
export function retryDecision(
  request: RetryingRequest,
  task: Pick<TaskDefinition, "options">,
  options: RetryOptions,
): Retry | unknown {
  const maxRetries = options.maxRetries === undefined ? task.options.maxRetries : options.maxRetries;
  const retries = request.retries + 1;
  const { args, kwargs } = retryCallArgs(task.options.params, request, options);
  if (maxRetries !== null && retries > maxRetries) {
    if (options.exc !== undefined) return options.exc;
    return new MaxRetriesExceededError(
      `Can't retry ${request.name}[${request.id}] args:${saferepr(new PyTuple([...args]), { maxlen: null })} kwargs:${saferepr(kwargs, { maxlen: null })}`,
    );
  }
  const when =
    options.eta ?? (options.countdown === undefined ? task.options.defaultRetryDelay : options.countdown);
  return new Retry({ ...options, args, kwargs }, when);
}
