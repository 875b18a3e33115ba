import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import type { RetryOptions } from "./errors.js";
import type { ThreadJob, ThreadReply } from "./thread-pool.js";

/**
 * Body of a pool thread: import the task module, run the named export with
 * a context rebuilt from plain data, post back the outcome. `ctx.retry()`
 * in a thread throws a marker that the main thread turns into `Retry`.
 */
class ThreadRetry {
  constructor(readonly options: RetryOptions) {}
}

let controller = new AbortController();

async function runJob(job: ThreadJob): Promise<ThreadReply> {
  controller = new AbortController();
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
    signal: controller.signal,
    retry(options: RetryOptions = {}): never {
      throw new ThreadRetry(options);
    },
  };
  try {
    const value = await (handler as (ctx: unknown, ...args: unknown[]) => unknown)(ctx, ...job.args);
    return { kind: "ok", value };
  } catch (err) {
    if (err instanceof ThreadRetry)
      return { kind: "retry", retry: { ...err.options, exc: describe(err.options.exc) } };
    return { kind: "error", error: describe(err) };
  }
}

function describe(err: unknown): NonNullable<ThreadReply["error"]> {
  if (typeof err === "object" && err !== null) {
    const e = err as Record<string, unknown>;
    const out: NonNullable<ThreadReply["error"]> = {
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

parentPort?.on("message", (msg: { type: string; job?: ThreadJob }) => {
  if (msg.type === "abort") {
    controller.abort(Object.assign(new Error("SoftTimeLimitExceeded()"), { name: "AbortError" }));
    return;
  }
  if (msg.type === "run" && msg.job) {
    runJob(msg.job).then(
      (reply) => parentPort?.postMessage(reply),
      (err: unknown) =>
        parentPort?.postMessage({ kind: "error", error: describe(err) } satisfies ThreadReply),
    );
  }
});
