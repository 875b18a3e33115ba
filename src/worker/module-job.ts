import { pathToFileURL } from "node:url";
import type { UpdateStateOptions } from "./context.js";
import { PythonError, Retry, type RetryOptions } from "./errors.js";

/**
 * A handler run away from the worker's event loop (a `worker_threads`
 * thread or a pool child process): the job that crosses the boundary, the
 * reply that comes back, and the code on both sides that turns a handler's
 * outcome into plain data and back. Shared by `thread-entry.ts` /
 * `thread-pool.ts` and `process-entry.ts` / `process-pool.ts`.
 */
export interface ModuleJob {
  module: string;
  exportName: string;
  args: unknown[];
  /** Plain-data view of the context (no functions cross the boundary). */
  context: Record<string, unknown>;
}

export interface ModuleReply {
  kind: "ok" | "error" | "retry";
  value?: unknown;
  error?: {
    name: string;
    message: string;
    stack?: string;
    excType?: string;
    excModule?: string;
    excArgs?: unknown[];
  };
  /** A thrown value that is not an object (a string, a number): sent as is, rethrown as is. */
  thrown?: unknown;
  retry?: RetryOptions;
}

/**
 * `ctx.updateState()` on the far side: the backend connection lives in the
 * worker's main thread, so the write is a message there (`state`) and back
 * (`state-done`, with the error text when the store failed).
 */
export interface StateMessage {
  type: "state";
  seq: number;
  state: string;
  meta: unknown;
  options?: UpdateStateOptions | undefined;
}

export interface StateAck {
  type: "state-done";
  seq: number;
  error?: string;
}

export function isStateMessage(msg: unknown): msg is StateMessage {
  return typeof msg === "object" && msg !== null && (msg as { type?: unknown }).type === "state";
}

export function isStateAck(msg: unknown): msg is StateAck {
  return typeof msg === "object" && msg !== null && (msg as { type?: unknown }).type === "state-done";
}

/** The far side's end: sends a state write and resolves when the worker acknowledges it. */
export interface StateChannel {
  updateState(state: string, meta: unknown, options?: UpdateStateOptions): Promise<void>;
  onAck(ack: StateAck): void;
}

export function stateChannel(send: (msg: StateMessage) => void): StateChannel {
  const waiting = new Map<number, { resolve(): void; reject(err: Error): void }>();
  let seq = 0;
  return {
    updateState: (state, meta, options) =>
      new Promise<void>((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve, reject });
        try {
          send({ type: "state", seq: id, state, meta, options });
        } catch (err) {
          waiting.delete(id);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    onAck: (ack) => {
      const waiter = waiting.get(ack.seq);
      waiting.delete(ack.seq);
      if (ack.error === undefined) waiter?.resolve();
      else waiter?.reject(new Error(ack.error));
    },
  };
}

/** What the worker does for a pool job's requests while it runs (`ctx.updateState`). */
export interface ModuleJobHooks {
  updateState?(state: string, meta: unknown, options?: UpdateStateOptions): Promise<void>;
}

/** The worker's end: stores a state a pool job sent and acknowledges it. */
export function answerStateMessage(
  msg: StateMessage,
  updateState: ((state: string, meta: unknown, options?: UpdateStateOptions) => Promise<void>) | undefined,
  reply: (ack: StateAck) => void,
): void {
  const stored = updateState
    ? updateState(msg.state, msg.meta, msg.options)
    : Promise.reject(new Error("ctx.updateState(): this pool job has no state writer"));
  stored.then(
    () => reply({ type: "state-done", seq: msg.seq }),
    (err: unknown) =>
      reply({ type: "state-done", seq: msg.seq, error: err instanceof Error ? err.message : String(err) }),
  );
}

/** `ctx.retry()` on the far side throws this marker; the worker turns it into `Retry`. */
class RemoteRetry {
  constructor(readonly options: RetryOptions) {}
}

/**
 * Imports the job's module, runs the named export with a context rebuilt
 * from plain data (`signal` = the far side's abort signal, `retry()` = the
 * marker above), and describes the outcome as plain data.
 */
export async function runModuleJob(
  job: ModuleJob,
  signal: AbortSignal,
  updateState?: StateChannel["updateState"],
): Promise<ModuleReply> {
  const url = job.module.startsWith("file:") ? job.module : pathToFileURL(job.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const handler = mod[job.exportName];
  if (typeof handler !== "function") {
    return {
      kind: "error",
      error: { name: "ImportError", message: `${job.module} has no export ${job.exportName}` },
    };
  }
  const ctx = {
    ...job.context,
    signal,
    retry(options: RetryOptions = {}): never {
      throw new RemoteRetry(options);
    },
    updateState(state: string, meta?: unknown, options?: UpdateStateOptions): Promise<void> {
      if (!updateState) return Promise.reject(new Error("ctx.updateState(): no channel to the worker"));
      return updateState(state, meta === undefined ? null : meta, options);
    },
  };
  try {
    const value = await (handler as (ctx: unknown, ...args: unknown[]) => unknown)(ctx, ...job.args);
    return { kind: "ok", value };
  } catch (err) {
    if (err instanceof RemoteRetry)
      return { kind: "retry", retry: { ...err.options, exc: describeError(err.options.exc) } };
    return errorReply(err);
  }
}

/** The reply for a thrown value: objects described field by field, anything else sent as is. */
export function errorReply(err: unknown): ModuleReply {
  if (typeof err === "object" && err !== null) return { kind: "error", error: describeError(err) };
  return { kind: "error", thrown: err };
}

function describeError(err: unknown): NonNullable<ModuleReply["error"]> {
  if (typeof err === "object" && err !== null) {
    const e = err as Record<string, unknown>;
    const out: NonNullable<ModuleReply["error"]> = {
      name: typeof e.name === "string" ? e.name : "Error",
      message: typeof e.message === "string" ? e.message : String(err),
    };
    if (typeof e.stack === "string") out.stack = e.stack;
    if (typeof e.excType === "string") out.excType = e.excType;
    if (typeof e.excModule === "string") out.excModule = e.excModule;
    if (Array.isArray(e.excArgs)) out.excArgs = e.excArgs;
    return out;
  }
  return {
    name: "Exception",
    message: String(err),
    excType: "Exception",
    excModule: "builtins",
    excArgs: [err],
  };
}

/** The worker side: a reply as the value or the throwable the runner expects from an in-process handler. */
export function settleReply(
  reply: ModuleReply,
): { ok: true; value: unknown } | { ok: false; error: unknown } {
  if (reply.kind === "ok") return { ok: true, value: reply.value };
  if (reply.kind === "retry")
    return { ok: false, error: new Retry(reply.retry ?? {}, reply.retry?.countdown ?? 0) };
  if (reply.error === undefined && "thrown" in reply) return { ok: false, error: reply.thrown };
  return { ok: false, error: rebuildError(reply.error) };
}

function rebuildError(e: ModuleReply["error"]): unknown {
  if (!e) return new Error("task failed without an error");
  if (e.excType && e.excModule && e.excArgs) {
    const err = new PythonError(e.excType, e.excArgs, e.excModule);
    if (e.stack) err.stack = e.stack;
    return err;
  }
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/**
 * The message loop of a pool child, thread or process alike: a `run` message runs its job and
 * hands the outcome to `onReply`; `abort` aborts the running job's `ctx.signal` (soft time limit,
 * revoke); a state acknowledgement settles the `ctx.updateState` it answers. `post` sends a state
 * write to the worker.
 */
export function childJobHandler(
  post: (msg: StateMessage) => void,
  onReply: (reply: ModuleReply) => void,
): (msg: { type: string; job?: ModuleJob }) => void {
  let controller = new AbortController();
  const states = stateChannel(post);
  return (msg) => {
    if (isStateAck(msg)) {
      states.onAck(msg);
      return;
    }
    if (msg.type === "abort") {
      controller.abort(Object.assign(new Error("SoftTimeLimitExceeded()"), { name: "AbortError" }));
      return;
    }
    if (msg.type === "run" && msg.job) {
      controller = new AbortController();
      runModuleJob(msg.job, controller.signal, states.updateState).then(onReply, (err: unknown) =>
        onReply(errorReply(err)),
      );
    }
  };
}
