import { applySignature } from "../canvas/apply.js";
import { resultTuple } from "../canvas/freeze.js";
import { CHUNKS_TASK, chunks, MAP_TASK, STARMAP_TASK } from "../canvas/maps.js";
import { ACCUMULATE_TASK } from "../canvas/replace.js";
import { Signature } from "../canvas/signature.js";
import { addTrail } from "../client/current-task.js";
import { NotRegisteredError } from "../errors.js";
import { isRecord } from "../protocol/guards.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { WorkerCanvas } from "./canvas-host.js";
import type { TaskContext } from "./context.js";
import { PythonError } from "./errors.js";
import type { ModulePool } from "./runner-deps.js";
import type { ModuleHandler, TaskDefinition } from "./task-registry.js";

/**
 * Celery's built-in tasks that a TS worker hosts for the workflows it runs
 * (celery/app/builtins.py, 5.7.0), registered in every worker unless the app
 * registered a task of the same name. Like Celery's, they are routed as any
 * task is (`taskRoutes`, else the default queue), so whichever worker
 * consumes that queue runs them.
 */

/**
 * `celery.accumulate` (`add_accumulate_task`): returns `args[index]`, or all
 * its args when no index is given. `Task.replace` chains a group to
 * `accumulate.s(index=0)`, so the replaced task's result is the group's list.
 */
export function accumulate(ctx: Pick<TaskContext, "kwargs">, ...args: unknown[]): unknown {
  const index = ctx.kwargs.index;
  if (index === undefined || index === null) return args;
  if (typeof index !== "number" || !Number.isInteger(index))
    throw new PythonError("TypeError", [
      `tuple indices must be integers or slices, not ${pyTypeName(index)}`,
    ]);
  // Python indexing: negative counts from the end.
  const at = index < 0 ? args.length + index : index;
  if (at < 0 || at >= args.length) throw new PythonError("IndexError", ["tuple index out of range"]);
  return args[at];
}

function pyTypeName(value: unknown): string {
  if (typeof value === "string") return "str";
  if (typeof value === "number") return "float";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "list";
  return value === null ? "NoneType" : "dict";
}

/** What {@link registerBuiltinTasks} needs of the worker's task registry. */
export interface BuiltinRegistry {
  get(name: string): TaskDefinition | undefined;
  has(name: string): boolean;
  register(name: string, handler: (ctx: TaskContext, ...args: unknown[]) => unknown): unknown;
}

/** Registers the built-ins the app has not registered itself. */
export function registerBuiltinTasks(registry: BuiltinRegistry, host: BuiltinHost): void {
  if (!registry.has(ACCUMULATE_TASK)) registry.register(ACCUMULATE_TASK, accumulate);
  registerMapBuiltins(registry, host);
}

/**
 * The map built-ins (celery/app/builtins.py `add_map_task`, `add_starmap_task`,
 * `add_chunk_task`): `celery.map`, `celery.starmap` and
 * `celery.chunks`, the tasks `xmap`, `xstarmap` and `chunks` signatures
 * send. `celery.map`/`celery.starmap` call the mapped task's handler in
 * this process once per item, in order, and return the list of results
 * (`[task(item) for item in it]`, `[task(*item) for item in it]`);
 * `celery.chunks` sends `chunks(task, it, n)` as its group of
 * `celery.starmap` messages and returns that group's result.
 *
 * An app that registers one of these names itself keeps its own handler.
 */

/** What the map built-ins need from the worker besides its registry. */
export interface BuiltinHost {
  canvas: WorkerCanvas;
  /** The pool a `threadedTask` / `processTask` runs in. */
  modulePool(handler: ModuleHandler): ModulePool;
}

/** `(task, it)` (or `(task, it, n)`) as Python calls them: positional args, else the kwargs. */
function callArgs(ctx: TaskContext, args: unknown[], names: readonly string[]): unknown[] {
  return names.map((name, i) => (i < args.length ? args[i] : ctx.kwargs[name]));
}

function itemsOf(it: unknown, task: string): unknown[] {
  if (Array.isArray(it)) return it;
  throw new PythonError("TypeError", [`${task}: 'it' must be a list of items (got ${typeof it})`]);
}

/**
 * `signature(task).type(*args)`: the registered task called directly, as
 * `Task.__call__` does (a fresh request holding only these args; `retry()`
 * on a direct call raises instead of re-sending, celery/app/task.py
 * `Task.retry` with `called_directly`).
 */
function directCaller(
  registry: BuiltinRegistry,
  host: BuiltinHost,
  ctx: TaskContext,
  sig: unknown,
): (args: unknown[]) => Promise<unknown> {
  const name = Signature.fromDict(sig as SignatureDict).task;
  const definition = registry.get(name);
  if (definition === undefined) throw new NotRegisteredError(name);
  const handler = definition.handler;
  return async (args) => {
    const inner: TaskContext = {
      ...ctx,
      name,
      args,
      kwargs: {},
      retry: (options = {}): never => {
        throw options.exc ?? new PythonError("Retry", ["Task can be retried", null], "celery.exceptions");
      },
    };
    if (typeof handler === "function") return await handler(inner, ...args);
    const { retry: _retry, signal: _signal, ...plain } = inner;
    const job = { module: handler.module, exportName: handler.exportName, args, context: { ...plain } };
    return await host.modulePool(handler).run(job).result;
  };
}

function asArgs(item: unknown, task: string): unknown[] {
  if (Array.isArray(item)) return item;
  throw new PythonError("TypeError", [
    `${task}: every item must be a list of arguments (got ${typeof item})`,
  ]);
}

/** `celery.map`, `celery.starmap` and `celery.chunks`, unless the app registered its own. */
function registerMapBuiltins(registry: BuiltinRegistry, host: BuiltinHost): void {
  if (!registry.has(MAP_TASK)) {
    registry.register(MAP_TASK, async (ctx, ...args) => {
      const [task, it] = callArgs(ctx, args, ["task", "it"]);
      const call = directCaller(registry, host, ctx, task);
      const out: unknown[] = [];
      for (const item of itemsOf(it, MAP_TASK)) out.push(await call([item]));
      return out;
    });
  }
  if (!registry.has(STARMAP_TASK)) {
    registry.register(STARMAP_TASK, async (ctx, ...args) => {
      const [task, it] = callArgs(ctx, args, ["task", "it"]);
      const call = directCaller(registry, host, ctx, task);
      const out: unknown[] = [];
      for (const item of itemsOf(it, STARMAP_TASK)) out.push(await call(asArgs(item, STARMAP_TASK)));
      return out;
    });
  }
  if (!registry.has(CHUNKS_TASK)) {
    registry.register(CHUNKS_TASK, async (ctx, ...args) => {
      const [task, it, n] = callArgs(ctx, args, ["task", "it", "n"]);
      if (!isRecord(task)) throw new PythonError("TypeError", [`${CHUNKS_TASK}: 'task' must be a signature`]);
      const sig = chunks(task as SignatureDict, itemsOf(it, CHUNKS_TASK) as unknown[][], Number(n));
      // `chunks(task, it, n)()` from inside this task: the group's parent is this task.
      const node = await applySignature(
        host.canvas.deps.publisher,
        sig,
        [],
        {},
        {
          parent_id: ctx.id,
          root_id: ctx.rootId ?? ctx.id,
        },
      );
      // Sent from inside this task, the group joins its children (`parent.add_trail(result)`);
      // the GroupResult it returns is stored as `GroupResult.as_tuple()` (Backend.prepare_value).
      addTrail(resultTuple(node));
      return resultTuple(node);
    });
  }
}
