import type { Signature } from "../canvas/signature.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { TaskContext } from "./context.js";
import type { WorkerRequest } from "./request.js";
import type { TaskDefinition } from "./task-registry.js";

/**
 * New-style errbacks (celery/backends/base.py `Backend._call_task_errbacks`,
 * 5.7.0): when a task fails, each of its errbacks whose task is registered in
 * this worker and takes the request form is CALLED here, in this process, as
 * `errback(request, exc, traceback)`; the others are sent, as one group, with
 * the failed task's id as their only argument.
 *
 * Which errbacks take the request form. Celery inspects the task function:
 * more than one positional parameter left once a mutable errback's stored
 * args are bound (or a `*args`) means `(request, exc, traceback)`
 * (`_errback_arity_greater`). A JS function shows only `length`: the
 * parameters before the first default or rest parameter. So the TS rule is:
 *
 * - the task option `errbackArgs: "request"` or `"id"` decides, when set;
 * - otherwise, for a task that declares `params` (its parameter names),
 *   Celery's rule on those names exactly, stored kwargs included;
 * - otherwise Celery's rule on `handler.length - 1` (every handler takes
 *   `ctx` first, which Celery's bound tasks have as `self` and is not
 *   counted), minus the stored args of a mutable errback: more than one
 *   means the request form. `(ctx, request, exc, traceback) => ...` is
 *   called in-process; `(ctx, taskId) => ...` is sent. A handler declared
 *   with a rest or default parameter (`(ctx, ...args)`) is not counted by
 *   JS: give it `errbackArgs` to pick. Stored kwargs are not subtracted
 *   (JS has no parameter names to match them against).
 * - `threadedTask` / `processTask` handlers are always sent: they run in a
 *   pool thread or child, never in this process.
 *
 * The handler is called as Celery's `Signature.__call__` calls the task:
 * `(request, exc, traceback, ...stored args)` for a mutable errback, the
 * stored args alone for an immutable one, stored kwargs in `ctx.kwargs`;
 * nothing is stored for it and an error it throws is logged
 * (`Errback %r raised an exception`), not raised.
 */

/** The failed task's request as a new-style errback receives it (Celery's `Request` / `Context`). */
export interface ErrbackRequest {
  /** The failed task's id. */
  readonly id: string;
  /** Its task name; `"unknown"` for a group chord body member failed by its chord (as Celery's fake request). */
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly groupId: string | null;
  readonly groupIndex: number | null;
  readonly chord: SignatureDict | null;
  readonly chain: readonly SignatureDict[] | null;
  readonly callbacks: readonly SignatureDict[] | null;
  readonly errbacks: readonly SignatureDict[] | null;
}

/** `errback(request, exc, traceback)` run in this process. */
export type LocalErrback = (request: ErrbackRequest, exc: unknown, traceback: string | null) => Promise<void>;

/** Does `definition` take the request form as the errback `sig`? (the rule above). */
export function takesRequest(definition: TaskDefinition, sig: Signature): boolean {
  const handler = definition.handler;
  if (typeof handler !== "function") return false;
  const style = definition.options.errbackArgs;
  if (style !== null) return style === "request";
  const stored = sig.immutable ? 0 : sig.args.length;
  const params = definition.options.params;
  if (params !== null) {
    // Declared names, Python's own view: `partial(run, *args, **kwargs)` makes a parameter named
    // by a stored kwarg, and every one after it, keyword-only.
    const named = sig.immutable ? -1 : params.findIndex((name) => name in sig.kwargs);
    return (named === -1 ? params.length : named) - stored > 1;
  }
  return handler.length - 1 - stored > 1;
}

/** What {@link errbackCaller} needs from the worker. */
export interface ErrbackHost {
  task(name: string): TaskDefinition | undefined;
  /** The context of a direct call of `definition` (TaskRunner.directContext). */
  directContext(request: WorkerRequest, definition: TaskDefinition): TaskContext;
}

/**
 * The request a direct call runs with: Celery pushes a fresh one holding only the call's args and
 * kwargs; ours also keeps the failed task's id and workflow ids (a TS context always has an id).
 */
function directRequest(
  failed: ErrbackRequest,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
): WorkerRequest {
  return {
    id: failed.id,
    name,
    displayName: name,
    args,
    kwargs,
    embed: { callbacks: null, errbacks: null, chain: null, chord: null },
    retries: 0,
    eta: null,
    expires: null,
    timeLimit: [null, null],
    rootId: failed.rootId,
    parentId: failed.parentId,
    groupId: failed.groupId,
    groupIndex: failed.groupIndex,
    origin: null,
    ignoreResult: null,
    replyTo: null,
    correlationId: null,
    argsrepr: "",
    kwargsrepr: "",
    headers: {},
    customHeaders: {},
    stampedHeaders: null,
    stamps: {},
    replacedTaskNesting: 0,
    deliveryInfo: {
      exchange: "",
      routingKey: "",
      priority: 0,
      redelivered: false,
      deliveryTag: "",
      queue: "",
    },
    properties: {},
  };
}

/**
 * The in-process call of errback `sig` when its task is registered here
 * and takes the request form; null when it must be sent.
 */
export function errbackCaller(host: ErrbackHost, sig: Signature): LocalErrback | null {
  const definition = host.task(sig.task);
  if (definition === undefined || !takesRequest(definition, sig)) return null;
  const handler = definition.handler;
  if (typeof handler !== "function") return null;
  return async (request, exc, traceback) => {
    const merged = sig.merge([request, exc, traceback]);
    const ctx = host.directContext(directRequest(request, sig.task, merged.args, merged.kwargs), definition);
    await handler(ctx, ...merged.args);
  };
}
