import type { TaskSig } from "../canvas/builders.js";
import type { SendTaskOptions } from "../canvas/options.js";
import { Signature, type SignatureApp } from "../canvas/signature.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { AsyncResult } from "./result.js";
import { checkSendOptions } from "./send-options.js";
import "./signature-methods.js";

/**
 * The argument lists a mutable signature of a task taking `A` may hold: `A` itself or any tail of
 * it, since a chain or callback prepends its parent's result (`add.s(10)` for `add(a, b)`).
 */
export type PartialArgs<A extends unknown[]> =
  | A
  | (A extends [unknown, ...infer Rest] ? PartialArgs<Rest> : A extends [] ? never : unknown[]);

/**
 * A typed handle on a task by name (celery/app/task.py `Task.delay`,
 * `apply_async`, `s`, `si`). `s`/`si` return canvas signatures bound to the
 * app (celery/canvas.py `Signature`), usable as `link`/`linkError`, in
 * `chain`/`group`/`chord`, and started with their own `applyAsync()`.
 */
export interface TaskSignature<Args extends unknown[], Result> {
  readonly name: string;
  delay(...args: Args): Promise<AsyncResult<Result>>;
  applyAsync(
    args?: Args,
    kwargs?: Record<string, unknown>,
    options?: SendTaskOptions,
  ): Promise<AsyncResult<Result>>;
  /** A mutable signature: a parent's result is prepended to `args` in a chain (so `args` may be a tail of `Args`). */
  s(...args: PartialArgs<Args>): TaskSig<Result>;
  /** An immutable signature: a parent's result is not passed. */
  si(...args: Args): TaskSig<Result>;
}

export interface SignatureSender {
  /** Under `taskAlwaysEager`, `delay`/`applyAsync` go through `applySignature` (in-process for a task the app registers). */
  readonly settings?: { readonly taskAlwaysEager?: boolean };
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

/** A signature of `name` bound to `app` (`Task.s` / `Task.si`), with the handle's default options. */
export function boundSignature<R>(
  app: SignatureApp,
  name: string,
  args: readonly unknown[],
  immutable: boolean,
  defaults: SendTaskOptions,
): TaskSig<R> {
  const sig = new Signature<R>(name, args, {}, optionsDict(defaults), null, immutable);
  sig.app = app;
  return sig as TaskSig<R>;
}

export function taskSignature<Args extends unknown[], Result>(
  sender: SignatureSender & SignatureApp,
  name: string,
  defaults: SendTaskOptions,
): TaskSignature<Args, Result> {
  // Celery's Signature.apply_async: under task_always_eager a registered task runs in-process.
  const send = (args: readonly unknown[], kwargs: Record<string, unknown>, options: SendTaskOptions) =>
    sender.settings?.taskAlwaysEager === true
      ? (sender.applySignature(boundSignature(sender, name, [], false, options), args, kwargs, {}) as Promise<
          AsyncResult<Result>
        >)
      : sender.sendTask<Result>(name, args, kwargs, options);
  return {
    name,
    delay: (...args: Args) => send(args, {}, defaults),
    applyAsync: (args, kwargs, options) => {
      const merged = { ...defaults, ...(options ?? {}) };
      checkSendOptions(name, args, kwargs, merged);
      return send(args ?? [], kwargs ?? {}, merged);
    },
    s: (...args) => boundSignature<Result>(sender, name, args, false, defaults),
    si: (...args) => boundSignature<Result>(sender, name, args, true, defaults),
  };
}
