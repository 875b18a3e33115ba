import { PythonError } from "./errors.js";

/**
 * A TS handler's parameters as Python's `inspect.signature(task.run)` would
 * name them. A JS function does not carry its parameter names reliably (a
 * minifier renames them), so a task that wants Python's keyword binding
 * declares them: `app.task("tasks.add", (ctx, x, y) => x + y, { params: ["x", "y"] })`.
 * Each name is a positional-or-keyword parameter, in order; further
 * positional args are the handler's rest parameter (Python's `*args`), other
 * keyword args stay in `ctx.kwargs` (Python's `**kwargs`).
 */
export type ParamNames = readonly string[];

export interface CallArgs {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/**
 * The positional values a handler with declared `params` is called with:
 * Python's `fun(*args, **kwargs)` binding. A keyword arg named after a
 * parameter the positional args do not reach fills that slot (a slot neither
 * gives is `undefined`, so the JS default applies); one they already fill is
 * Python's `TypeError: <fn>() got multiple values for argument '<name>'`.
 */
export function bindHandlerArgs(
  taskName: string,
  params: ParamNames,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
): unknown[] {
  const bound = [...args];
  params.forEach((name, index) => {
    if (!Object.hasOwn(kwargs, name)) return;
    if (index < args.length) {
      throw new PythonError("TypeError", [`${taskName}() got multiple values for argument '${name}'`]);
    }
    bound[index] = kwargs[name];
  });
  // Trailing slots no one filled stay absent, as an omitted argument is.
  while (bound.length > args.length && bound[bound.length - 1] === undefined) bound.pop();
  return bound;
}

/** The handler's positional args: as received, or bound by name when the task declares `params`. */
export function handlerArgs(
  taskName: string,
  params: ParamNames | null,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
): unknown[] {
  return params === null ? [...args] : bindHandlerArgs(taskName, params, args, kwargs);
}

/**
 * The args/kwargs of the retried call, celery/app/task.py `Task.retry`
 * (5.7.0, #6494): explicit `args` with inherited kwargs drop the kwargs those
 * positional args now cover; explicit `kwargs` with inherited args move each
 * keyword naming an inherited positional slot into that slot (the request's
 * kwargs are not inherited then). Anything else is used as given, the
 * unset side inherited from the request. Without declared params Celery's
 * `inspect.signature` fallback applies: nothing is rebound.
 */
export function retryCallArgs(
  params: ParamNames | null,
  request: { readonly args: readonly unknown[]; readonly kwargs: Readonly<Record<string, unknown>> },
  options: { args?: unknown[] | undefined; kwargs?: Record<string, unknown> | undefined },
): CallArgs {
  let { args, kwargs } = options;
  const rebind =
    params !== null &&
    ((args !== undefined && kwargs === undefined && Object.keys(request.kwargs).length > 0) ||
      (kwargs !== undefined && args === undefined && request.args.length > 0));
  if (rebind && args !== undefined) {
    const covered = new Set(params.slice(0, args.length));
    kwargs = Object.fromEntries(Object.entries(request.kwargs).filter(([name]) => !covered.has(name)));
  } else if (rebind && kwargs !== undefined) {
    const slots = [...request.args];
    const rest: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(kwargs)) {
      const index = params.indexOf(name);
      if (index >= 0 && index < slots.length) slots[index] = value;
      else rest[name] = value;
    }
    args = slots;
    kwargs = rest;
  }
  return { args: args ?? [...request.args], kwargs: kwargs ?? { ...request.kwargs } };
}
