import type { SendTaskOptions } from "../canvas/options.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { AsyncResult } from "./result.js";
import { checkSendOptions } from "./send-options.js";

/**
 * A typed handle on a task by name (celery/app/task.py `Task.delay`,
 * `apply_async`, `s`, `si`). `s`/`si` return signatures in Celery's dict
 * shape (celery/canvas.py `Signature`), usable as `link`/`linkError` or by
 * the canvas module.
 */
export interface TaskSignature<Args extends unknown[], Result> {
  readonly name: string;
  delay(...args: Args): Promise<AsyncResult<Result>>;
  applyAsync(
    args?: Args,
    kwargs?: Record<string, unknown>,
    options?: SendTaskOptions,
  ): Promise<AsyncResult<Result>>;
  /** A mutable signature: a parent's result is prepended to `args` in a chain. */
  s(...args: unknown[]): SignatureDict;
  /** An immutable signature: a parent's result is not passed. */
  si(...args: unknown[]): SignatureDict;
}

export interface SignatureSender {
  sendTask<R>(
    name: string,
    args?: readonly unknown[] | null,
    kwargs?: Record<string, unknown> | null,
    options?: SendTaskOptions,
  ): Promise<AsyncResult<R>>;
}

export function signatureDict(
  name: string,
  args: unknown[],
  immutable: boolean,
  options: Record<string, unknown> = {},
): SignatureDict {
  return { task: name, args, kwargs: {}, options, subtask_type: null, immutable };
}

/** Options of a signature in Celery's snake_case (`Signature.options`). */
function optionsDict(options: SendTaskOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[key === "taskId" ? "task_id" : snake] = value;
  }
  return out;
}

export function taskSignature<Args extends unknown[], Result>(
  sender: SignatureSender,
  name: string,
  defaults: SendTaskOptions,
): TaskSignature<Args, Result> {
  return {
    name,
    delay: (...args: Args) => sender.sendTask<Result>(name, args, {}, defaults),
    applyAsync: (args, kwargs, options) => {
      const merged = { ...defaults, ...(options ?? {}) };
      checkSendOptions(name, args, kwargs, merged);
      return sender.sendTask<Result>(name, args ?? [], kwargs ?? {}, merged);
    },
    s: (...args) => signatureDict(name, args, false, optionsDict(defaults)),
    si: (...args) => signatureDict(name, args, true, optionsDict(defaults)),
  };
}
