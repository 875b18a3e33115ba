import { ACCUMULATE_TASK } from "../canvas/replace.js";
import type { TaskContext } from "./context.js";
import { PythonError } from "./errors.js";

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
  has(name: string): boolean;
  register(name: string, handler: (ctx: TaskContext, ...args: unknown[]) => unknown): unknown;
}

/** Registers the built-ins the app has not registered itself. */
export function registerBuiltinTasks(registry: BuiltinRegistry): void {
  if (!registry.has(ACCUMULATE_TASK)) registry.register(ACCUMULATE_TASK, accumulate);
}
