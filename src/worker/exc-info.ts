import { hasPythonIdentity } from "./errors.js";

/**
 * How a TS failure is stored so Python's `exception_to_python`
 * (celery/backends/base.py) rebuilds a sensible exception:
 *
 * | thrown in TS | stored `exc_module.exc_type(*exc_message)` |
 * |---|---|
 * | `PythonError`, `Retry`, time limits, ... | their own identity |
 * | an Error whose `name` is a Python builtin exception (`ValueError`, `KeyError`, `TimeoutError`, ...) | `builtins.<name>(message)` |
 * | `TypeError` | `builtins.TypeError(message)` |
 * | `RangeError`, `URIError`, `EvalError` | `builtins.ValueError(message)` |
 * | `ReferenceError` | `builtins.NameError(message)` |
 * | `SyntaxError` | `builtins.SyntaxError(message)` |
 * | `AbortError` (DOMException) | `builtins.InterruptedError(message)` |
 * | plain `Error` | `builtins.Exception(message)` |
 * | another Error subclass (`name = "ValidationError"`) | `celeriac.ValidationError(message)`: not importable, so Python creates `celery.exceptions.ValidationError` |
 * | a non-Error value (`throw "boom"`) | `builtins.Exception(value)` (non-JSON values as their `String()`) |
 */
export interface ExcInfo {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string;
}

/** Python builtin exception names a TS error may carry as its `name`. */
const PYTHON_BUILTINS = new Set([
  "Exception",
  "ArithmeticError",
  "AssertionError",
  "AttributeError",
  "BufferError",
  "ConnectionError",
  "ConnectionRefusedError",
  "ConnectionResetError",
  "EOFError",
  "FileExistsError",
  "FileNotFoundError",
  "FloatingPointError",
  "ImportError",
  "IndexError",
  "InterruptedError",
  "IOError",
  "KeyError",
  "LookupError",
  "MemoryError",
  "NameError",
  "NotImplementedError",
  "OSError",
  "OverflowError",
  "PermissionError",
  "RecursionError",
  "RuntimeError",
  "SyntaxError",
  "TimeoutError",
  "TypeError",
  "UnicodeError",
  "ValueError",
  "ZeroDivisionError",
]);

const JS_TO_PYTHON: Record<string, string> = {
  Error: "Exception",
  RangeError: "ValueError",
  URIError: "ValueError",
  EvalError: "ValueError",
  ReferenceError: "NameError",
  AbortError: "InterruptedError",
  AggregateError: "Exception",
};

/** Keep what JSON can carry; replace the rest by its string form (Celery's `ensure_serializable` uses repr). */
function serializable(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : JSON.parse(text);
  } catch {
    return String(value);
  }
}

export function excInfoOf(err: unknown): ExcInfo {
  if (hasPythonIdentity(err)) {
    return { exc_type: err.excType, exc_message: err.excArgs.map(serializable), exc_module: err.excModule };
  }
  if (
    err instanceof Error ||
    (typeof err === "object" && err !== null && "name" in err && "message" in err)
  ) {
    const e = err as { name?: unknown; message?: unknown };
    const name = typeof e.name === "string" && e.name !== "" ? e.name : "Error";
    const message = typeof e.message === "string" ? e.message : String(e.message);
    const mapped = JS_TO_PYTHON[name] ?? (PYTHON_BUILTINS.has(name) ? name : null);
    if (mapped) return { exc_type: mapped, exc_message: [message], exc_module: "builtins" };
    const safeName = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : "Exception";
    return {
      exc_type: safeName,
      exc_message: [message],
      exc_module: safeName === "Exception" ? "builtins" : "celeriac",
    };
  }
  return { exc_type: "Exception", exc_message: [serializable(err)], exc_module: "builtins" };
}

/** The text Python shows as `AsyncResult.traceback`: the JS stack when there is one. */
export function tracebackOf(err: unknown): string {
  if (err instanceof Error && typeof err.stack === "string") return err.stack;
  const info = excInfoOf(err);
  return `${info.exc_type}: ${info.exc_message.map((m) => String(m)).join(", ")}`;
}

/** Short Python-like repr for log lines (`ValueError('bad')`). */
export function excRepr(err: unknown): string {
  const info = excInfoOf(err);
  return `${info.exc_type}(${info.exc_message.map((m) => JSON.stringify(m)).join(", ")})`;
}
