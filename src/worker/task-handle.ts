import type { SendTaskOptions } from "../canvas/options.js";
import type { SignatureApp } from "../canvas/signature.js";
import type { EagerResult } from "../client/eager-result.js";
import type { AsyncResult } from "../client/result.js";
import { checkSendOptions } from "../client/send-options.js";
import { boundSignature, type SignatureSender, type TaskSignature } from "../client/signature.js";
import { roundTripArgs } from "./eager-args.js";
import { applyTaskEagerly, type EagerApplyOptions, type EagerHost } from "./eager-task.js";
import type { TaskDefinition } from "./task-registry.js";

/**
 * What `app.task(name, handler)` returns (celery/app/task.py `Task` as `@app.task` gives it):
 * the registered definition plus a typed handle, `Args` and `Result` taken from the handler
 * (`(ctx, a: number, b: number) => number` gives `delay(a: number, b: number)` and an
 * `AsyncResult<number>`).
 *
 * - `delay(...args)` / `applyAsync(args, kwargs, options)`: send it (`Task.delay` /
 *   `apply_async`); under the app's `taskAlwaysEager` it runs in-process instead.
 * - `s(...)` / `si(...)`: signatures bound to the app, for chains, groups, chords and links.
 * - `apply(args, kwargs, options)`: run it in this process now (`Task.apply`), no broker needed;
 *   resolves to an {@link EagerResult} (see src/worker/eager-task.ts for the semantics).
 */
export interface TaskHandle<Args extends unknown[] = unknown[], Result = unknown>
  extends TaskSignature<Args, Result>,
    TaskDefinition {
  readonly name: string;
  apply(
    args?: Args,
    kwargs?: Record<string, unknown>,
    options?: EagerApplyOptions,
  ): Promise<EagerResult<Result>>;
}

/** What a handle needs from its app (the `Celery` facade). */
export interface TaskHandleHost extends SignatureSender, SignatureApp, EagerHost {
  readonly settings: EagerHost["settings"] & { readonly taskAlwaysEager: boolean };
}

export function taskHandle<Args extends unknown[], Result>(
  app: TaskHandleHost,
  definition: TaskDefinition,
): TaskHandle<Args, Result> {
  const name = definition.name;
  const apply = (args?: Args, kwargs?: Record<string, unknown>, options?: EagerApplyOptions) =>
    applyTaskEagerly<Result>(app, definition, args ?? [], kwargs ?? {}, options ?? {});
  const applyAsync = async (
    args?: Args,
    kwargs?: Record<string, unknown>,
    options?: SendTaskOptions,
  ): Promise<AsyncResult<Result>> => {
    checkSendOptions(name, args, kwargs, options);
    if (app.settings.taskAlwaysEager) {
      // Task.apply_async under task_always_eager: self.apply(args, kwargs, task_id=..., link=..., link_error=...).
      const eager: EagerApplyOptions = {};
      if (options?.taskId !== undefined) eager.taskId = options.taskId;
      if (options?.link !== undefined) eager.link = options.link;
      if (options?.linkError !== undefined) eager.linkError = options.linkError;
      if (options?.headers !== undefined) eager.headers = options.headers;
      if (options?.priority !== undefined) eager.priority = options.priority;
      const serializer = options?.serializer ?? app.settings.taskSerializer;
      const sent = roundTripArgs(args ?? [], kwargs ?? {}, serializer, app.settings.compat);
      return applyTaskEagerly<Result>(app, definition, sent.args, sent.kwargs, eager);
    }
    return app.sendTask<Result>(name, args ?? [], kwargs ?? {}, options);
  };
  return {
    name,
    handler: definition.handler,
    options: definition.options,
    delay: (...args: Args) => applyAsync(args),
    applyAsync,
    apply,
    s: (...args) => boundSignature<Result>(app, name, args, false, {}),
    si: (...args) => boundSignature<Result>(app, name, args, true, {}),
  };
}
