import type { CompatProfile } from "../compat.js";
import { AcceptPolicy, decodeMessageBody, serialize } from "../serialization/index.js";

/**
 * celery/app/task.py `Task.apply_async` under `task_always_eager` (5.7.0): the args and kwargs
 * are dumped with the task serializer and loaded back before `apply()`, so the handler gets what
 * a worker would decode (a `Date` arrives as a worker sees it, a value the serializer cannot carry
 * is an EncodeError here, as it would be when sending). `Signature.apply` / `handle.apply()` skip
 * this, as Celery's `apply` does.
 */
export function roundTripArgs(
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  serializer: string,
  compat: CompatProfile,
): { args: unknown[]; kwargs: Record<string, unknown> } {
  const encoded = serialize([args, kwargs], serializer, { compat, option: "serializer" });
  const decoded = decodeMessageBody(
    encoded.body,
    encoded.contentType,
    encoded.contentEncoding,
    AcceptPolicy.from([encoded.contentType]),
    { compat, what: "task arguments" },
  ) as [unknown[], Record<string, unknown>];
  return { args: decoded[0], kwargs: decoded[1] };
}
