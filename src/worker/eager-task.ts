import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { SignatureLike } from "../canvas/options.js";
import { Group, Signature } from "../canvas/signature.js";
import { EagerResult } from "../client/eager-result.js";
import type { SignatureAppliers } from "../client/signature-methods.js";
import type { CompatProfile } from "../compat.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { autoretryOptions } from "./backoff.js";
import { handlerArgs } from "./call-args.js";
import type { TaskContext } from "./context.js";
import { type ErrbackRequest, takesRequest } from "./errbacks.js";
import { Ignore, PythonError, Reject, Retry, type RetryOptions } from "./errors.js";
import { tracebackOf } from "./exc-info.js";
import { retryDecision } from "./retry-decision.js";
import type { TaskDefinition, TaskHandler, TaskRegistry } from "./task-registry.js";

/**
 * A TS task run in this process (celery/app/task.py `Task.apply` with celery/app/trace.py
 * `build_tracer(eager=True)`, 5.7.0), for users' tests and `taskAlwaysEager`:
 *
 * - no broker and no backend: the outcome is an {@link EagerResult} (SUCCESS with the value,
 *   FAILURE with the error and its stack, REJECTED / IGNORED for `Reject` / `Ignore`);
 * - `throw` (default the `taskEagerPropagates` setting): the handler's error is thrown by
 *   `apply()` instead, and so is the `Retry` of `ctx.retry()`, as Celery's tracer re-raises it;
 * - `ctx.retry()` (and `autoretryFor`) re-run the task at once with `retries + 1` and the same
 *   id (countdown and eta are not waited for); once retries run out the task fails with `exc` or
 *   `MaxRetriesExceededError`; each re-run takes `throw` from the setting, as Celery's
 *   `retval.sig.apply(retries=retries + 1)` does;
 * - `ctx.isEager` is true, `ctx.hostname` is the host name, time limits are not enforced
 *   (`ctx.signal` never aborts), nothing is stored (`ctx.updateState` stores nothing either);
 * - `ctx.replace(sig)` runs `sig` in-process and the task returns its value (`Task.on_replace`
 *   for an eager request: `sig.apply().get()`); `ctx.addToChord` fails: no chord;
 * - `link` callbacks get the return value and are applied through the app (in-process under
 *   `taskAlwaysEager`, else sent, as Celery's `apply_async`); `linkError` errbacks run in-process:
 *   a registered one taking the request form with `(request, exc, traceback)`, the others with the
 *   task id (Celery's `group(errbacks).apply((task_id,))` for eager requests);
 * - a task applied from inside another eager task gets that task's id as parent and its root.
 */
export interface EagerApplyOptions {
  /** `task_id`; default a fresh uuid. */
  taskId?: string;
  /** `retries` the run starts from (default 0). */
  retries?: number;
  /** Throw the task's error instead of returning it in the EagerResult (default `taskEagerPropagates`). */
  throw?: boolean;
  link?: Signature | SignatureDict | (Signature | SignatureDict)[];
  linkError?: Signature | SignatureDict | (Signature | SignatureDict)[];
  /** Custom headers, read back as `ctx.headers`. */
  headers?: Record<string, unknown>;
  priority?: number;
  exchange?: string;
  routingKey?: string;
}

/**
 * What an eager run needs from the app (the `Celery` facade satisfies it): its tasks (new-style
 * errbacks registered here are called in-process) and how it starts link callbacks (sent) and
 * errbacks (in this process).
 */
export interface EagerHost extends SignatureAppliers {
  readonly registry: TaskRegistry;
  readonly settings: {
    readonly taskEagerPropagates: boolean;
    readonly taskSerializer: string;
    readonly compat: CompatProfile;
  };
}

/** What `ctx.replace(sig)` throws in an eager run: the tracer runs `sig` and returns its value. */
class EagerReplacement {
  constructor(readonly sig: Signature) {}
}

/** The eager task running now (Celery's `_task_stack`): parent and root of tasks applied inside it. */
const running = new AsyncLocalStorage<{ id: string; rootId: string }>();

/** Retry errors `ctx.retry()` threw in an eager run: those re-run the task (Celery's `Retry.sig`). */
const eagerRetries = new WeakMap<Retry, { args: unknown[]; kwargs: Record<string, unknown> }>();

/** Reads an option given camelCase (`handle.apply`) or snake_case (a signature's options). */
function opt(options: Record<string, unknown>, camel: string, snake: string): unknown {
  return options[camel] ?? options[snake];
}

/** Normalizes `apply()` options, camelCase or Celery's snake_case, to {@link EagerApplyOptions}. */
export function eagerOptions(options: Record<string, unknown>): EagerApplyOptions {
  const out: EagerApplyOptions = {};
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const taskId = str(opt(options, "taskId", "task_id"));
  if (taskId !== undefined) out.taskId = taskId;
  const retries = num(options.retries);
  if (retries !== undefined) out.retries = retries;
  if (typeof options.throw === "boolean") out.throw = options.throw;
  const link = opt(options, "link", "link");
  if (link !== undefined && link !== null) out.link = link as EagerApplyOptions["link"];
  const linkError = opt(options, "linkError", "link_error");
  if (linkError !== undefined && linkError !== null) out.linkError = linkError as EagerApplyOptions["link"];
  const headers = options.headers;
  if (headers !== null && typeof headers === "object") out.headers = headers as Record<string, unknown>;
  const priority = num(options.priority);
  if (priority !== undefined) out.priority = priority;
  const exchange = str(options.exchange);
  if (exchange !== undefined) out.exchange = exchange;
  const routingKey = str(opt(options, "routingKey", "routing_key"));
  if (routingKey !== undefined) out.routingKey = routingKey;
  return out;
}

const sigList = (v: EagerApplyOptions["link"]): Signature[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((s) => Signature.fromDict(s));

/** The handler to call: a closure, or a module handler imported here (no pool in eager mode). */
async function handlerOf(task: TaskDefinition): Promise<TaskHandler> {
  const handler = task.handler;
  if (typeof handler === "function") return handler;
  const mod = (await import(handler.module)) as Record<string, unknown>;
  const fn = mod[handler.exportName];
  if (typeof fn !== "function") {
    throw new TypeError(`${handler.module} has no function export ${JSON.stringify(handler.exportName)}`);
  }
  return fn as TaskHandler;
}

type Attempt =
  | { kind: "done"; result: EagerResult }
  | { kind: "retry"; args: unknown[]; kwargs: Record<string, unknown> };

/** `Task.apply(args, kwargs, **options)` for a registered TS task. */
export async function applyTaskEagerly<R = unknown>(
  host: EagerHost,
  task: TaskDefinition,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: EagerApplyOptions = {},
): Promise<EagerResult<R>> {
  const id = options.taskId ?? randomUUID();
  let retries = options.retries ?? 0;
  let propagate = options.throw ?? host.settings.taskEagerPropagates;
  let current = { args: [...args], kwargs: { ...kwargs } };
  for (;;) {
    const attempt = await attemptOnce(
      host,
      task,
      id,
      current.args,
      current.kwargs,
      retries,
      propagate,
      options,
    );
    if (attempt.kind === "done") return attempt.result as EagerResult<R>;
    retries += 1;
    propagate = host.settings.taskEagerPropagates;
    current = attempt;
  }
}

async function attemptOnce(
  host: EagerHost,
  task: TaskDefinition,
  id: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  retries: number,
  propagate: boolean,
  options: EagerApplyOptions,
): Promise<Attempt> {
  const parent = running.getStore();
  const rootId = parent?.rootId ?? id;
  const request = { id, name: task.name, retries, args, kwargs };
  const ctx: TaskContext = {
    id,
    name: task.name,
    args,
    kwargs,
    retries,
    rootId,
    parentId: parent?.id ?? null,
    groupId: null,
    groupIndex: null,
    eta: null,
    expires: null,
    timeLimit: [task.options.timeLimit, task.options.softTimeLimit],
    origin: null,
    replyTo: null,
    correlationId: null,
    headers: options.headers ?? {},
    deliveryInfo: {
      exchange: options.exchange ?? "",
      routingKey: options.routingKey ?? "",
      priority: options.priority ?? 0,
      redelivered: false,
      deliveryTag: "",
      queue: "",
    },
    properties: {},
    chord: null,
    replacedTaskNesting: 0,
    // Task.apply reads stamps from its `stamped_headers` option, which handle.apply() does not take.
    stampedHeaders: [],
    stamps: {},
    hostname: hostname(),
    isEager: true,
    signal: new AbortController().signal,
    retry: (retryOptions: RetryOptions = {}): never => {
      throw eagerRetry(request, task, retryOptions);
    },
    // Task.on_replace for an eager request: `return sig.apply().get()` (the task returns its value).
    replace: (sig: SignatureLike): never => {
      throw new EagerReplacement(Signature.fromDict(sig));
    },
    // Task.add_to_chord: an eager request is in no chord.
    addToChord: (async () => {
      throw new PythonError("ValueError", ["Current task is not member of any chord"]);
    }) as TaskContext["addToChord"],
    // Nothing is stored for an eager run (no backend needed in users' tests).
    updateState: async () => {},
  };
  let value: unknown;
  try {
    const handler = await handlerOf(task);
    value = await running.run({ id, rootId }, async () => {
      try {
        return await handler(ctx, ...handlerArgs(task.name, task.options.params, args, kwargs));
      } catch (thrown) {
        if (!(thrown instanceof EagerReplacement)) throw thrown;
        return (await host.applySignatureEagerly(thrown.sig, [], {}, {})).get();
      }
    });
  } catch (thrown) {
    let error = thrown;
    const auto = error instanceof Retry ? null : autoretryOptions(error, task, retries, host.settings.compat);
    if (auto) error = eagerRetry(request, task, auto);
    const failed: ErrbackRequest = {
      id,
      task: task.name,
      args,
      kwargs,
      rootId,
      parentId: ctx.parentId,
      groupId: null,
      groupIndex: null,
      chord: null,
      chain: null,
      callbacks: sigList(options.link).map((s) => s.toDict()),
      errbacks: sigList(options.linkError).map((s) => s.toDict()),
    };
    return onError(host, task, failed, error, propagate, options);
  }
  // celery/app/trace.py _dispatch_callbacks_and_chain: callbacks get the value, parent = this task.
  await running.run({ id, rootId }, () => applyCallbacks(host, sigList(options.link), value));
  return { kind: "done", result: new EagerResult(id, value, "SUCCESS", null, task.name) };
}

/** `Task.retry` in an eager run: the same checks as the worker's; a Retry remembers the next args. */
function eagerRetry(
  request: { id: string; name: string; retries: number; args: unknown[]; kwargs: Record<string, unknown> },
  task: TaskDefinition,
  options: RetryOptions,
): unknown {
  const decided = retryDecision(request, task, options);
  if (decided instanceof Retry) {
    eagerRetries.set(decided, {
      args: decided.options.args ?? request.args,
      kwargs: decided.options.kwargs ?? request.kwargs,
    });
  }
  return decided;
}

/** The tracer's except clauses: Reject, Ignore, Retry, then any error (`on_error`). */
async function onError(
  host: EagerHost,
  task: TaskDefinition,
  failed: ErrbackRequest,
  error: unknown,
  propagate: boolean,
  options: EagerApplyOptions,
): Promise<Attempt> {
  const { id, rootId } = failed as { id: string; rootId: string };
  if (error instanceof Reject) return done(id, error, "REJECTED", task);
  if (error instanceof Ignore) return done(id, error, "IGNORED", task);
  if (propagate) throw error;
  if (error instanceof Retry) {
    const next = eagerRetries.get(error);
    // A Retry not made by ctx.retry() has no signature to re-run: the run ends in RETRY.
    return next ? { kind: "retry", ...next } : done(id, error, "RETRY", task);
  }
  const traceback = tracebackOf(error);
  // Still inside the failed task (Celery's task stack), so it is the errbacks' parent.
  await running.run({ id, rootId }, () => callErrbacks(host, failed, error, traceback, options));
  return { kind: "done", result: new EagerResult(id, error, "FAILURE", traceback, task.name) };
}

/**
 * celery/backends/base.py `_call_task_errbacks` for an eager request: an errback registered here
 * that takes the request form (src/worker/errbacks.ts `takesRequest`) is called with
 * `(request, exc, traceback)`, an error it throws ignored (Celery logs it); the others run as
 * `group(errbacks).apply((task_id,))`.
 */
async function callErrbacks(
  host: EagerHost,
  failed: ErrbackRequest,
  error: unknown,
  traceback: string,
  options: EagerApplyOptions,
): Promise<void> {
  const oldStyle: Signature[] = [];
  for (const errback of sigList(options.linkError)) {
    const definition = host.registry.get(errback.task);
    if (definition === undefined || !takesRequest(definition, errback)) {
      oldStyle.push(errback);
      continue;
    }
    const call = errback.merge([failed, error, traceback]);
    await applyTaskEagerly(host, definition, call.args, call.kwargs, { throw: false });
  }
  if (oldStyle.length > 0) {
    await host.applySignatureEagerly(new Group(oldStyle), [failed.id], {}, {});
  }
}

function done(id: string, error: unknown, state: string, task: TaskDefinition): Attempt {
  return { kind: "done", result: new EagerResult(id, error, state, null, task.name) };
}

/** One callback is applied alone; several as one group, groups among them each on their own. */
async function applyCallbacks(host: EagerHost, callbacks: Signature[], value: unknown): Promise<void> {
  if (callbacks.length === 0) return;
  if (callbacks.length === 1) {
    await host.applySignature(callbacks[0] as Signature, [value], {}, {});
    return;
  }
  const groups = callbacks.filter((c) => c instanceof Group);
  const sigs = callbacks.filter((c) => !(c instanceof Group));
  for (const g of groups) await host.applySignature(g, [value], {}, {});
  if (sigs.length > 0) await host.applySignature(new Group(sigs), [value], {}, {});
}
