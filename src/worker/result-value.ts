import { AsyncResult, asTuple, GroupResult } from "../client/result.js";
import { EncodeError } from "../errors.js";
import { saferepr } from "../protocol/saferepr.js";
import { PythonError } from "./errors.js";
import type { StoredExcInfo } from "./exc-info.js";

/**
 * What a result meta can carry, decided the way Celery's backend decides it:
 * by trying the result serializer (celery/backends/base.py `Backend.encode`,
 * kombu `dumps`, which raises `kombu.exceptions.EncodeError`).
 */

/** Serializes `value` with the result serializer; throws {@link EncodeError} when it cannot. */
export type ResultEncoder = (value: unknown) => unknown;

/**
 * The value `mark_as_done` stores for a handler's return value. A JS handler
 * that returns nothing (`undefined`) returned Python's `None`: Celery always
 * writes `"result": null`, and `AsyncResult.get()` needs the key. A returned
 * `AsyncResult`/`GroupResult` is stored as Celery stores one.
 */
export function storedValue(value: unknown): unknown {
  // Backend.prepare_value (celery/backends/base.py, 5.7.0): a returned result handle is
  // stored as its `as_tuple()` with any non-pickle serializer.
  if (value instanceof AsyncResult || value instanceof GroupResult) return asTuple(value);
  return value === undefined ? null : value;
}

/**
 * celery/app/trace.py `build_tracer`: when `mark_as_done` raises EncodeError
 * the tracer calls `on_error(request, exc)`, so the task is stored as FAILURE
 * with kombu's `EncodeError(<serializer error>)`; its one arg is not
 * encodable either, so `ensure_serializable` stores its repr
 * (`"TypeError('Object of type function is not JSON serializable')"` in
 * Python; Python's json raises ValueError for a cycle). Returns null when
 * the value encodes.
 */
export function resultEncodeError(value: unknown, encode: ResultEncoder): PythonError | null {
  // What every result serializer (json, msgpack, yaml) encodes: no need to encode it twice,
  // here and again inside the meta. The common return values of small tasks.
  if (value === null || typeof value === "string" || typeof value === "boolean") return null;
  if (typeof value === "number" && Number.isSafeInteger(value)) return null;
  try {
    encode(value);
    return null;
  } catch (err) {
    if (!(err instanceof EncodeError)) throw err;
    const inner = /circular/i.test(err.message) ? "ValueError" : "TypeError";
    const failure = new PythonError(
      "EncodeError",
      [`${inner}(${saferepr(err.message, { maxlen: null })})`],
      "kombu.exceptions",
    );
    failure.stack = `kombu.exceptions.EncodeError: ${inner}: ${err.message}\n${err.stack ?? ""}`;
    return failure;
  }
}

/**
 * celery/utils/serialization.py `ensure_serializable(exc.args, backend.encode)`
 * as celery/backends/base.py `prepare_exception` applies it (non-pickle
 * serializers): each arg the result serializer cannot encode is replaced by
 * its repr, so the FAILURE meta is always stored.
 */
export function serializableExcInfo(info: StoredExcInfo, encode: ResultEncoder): StoredExcInfo {
  return {
    ...info,
    exc_message: info.exc_message.map((arg) => {
      try {
        encode(arg);
        return arg;
      } catch {
        return saferepr(arg, { maxlen: null });
      }
    }),
  };
}
