import { pyRepr } from "../protocol/py-repr.js";
import type { ResultTupleNode } from "../protocol/result-meta.js";
import { READY_STATES } from "../protocol/states.js";
import type { ChordErrorInfo, ResultMetaRecord } from "./backend.js";

/**
 * A chord's outcome from its members' stored results, whatever stores them: the ChordError
 * stored on the body, and the header results read back from `AsyncResult.as_tuple()` lists
 * (the database backends' join and the worker's `celery.chord_unlock`).
 */

/** The ChordError Celery stores on a chord body (celery/exceptions.py `ChordError`). */
export function chordError(message: string): ChordErrorInfo {
  return { exc_type: "ChordError", exc_message: [message], exc_module: "celery.exceptions" };
}

/**
 * Python's `repr(exc)` of a stored exception dict once `exception_to_python` rebuilt it:
 * `ValueError('bad value', 7)` (the builtin repr of each arg, not saferepr: a str holding `'`
 * is double-quoted, as `_unpack_chord_result`'s `{retval!r}` shows it).
 */
export function excDictRepr(value: unknown): string {
  if (value !== null && typeof value === "object" && "exc_type" in value) {
    const v = value as { exc_type: unknown; exc_message?: unknown };
    const args = Array.isArray(v.exc_message)
      ? v.exc_message
      : v.exc_message === undefined
        ? []
        : [v.exc_message];
    return `${String(v.exc_type)}(${args.map((a) => pyRepr(a)).join(", ")})`;
  }
  return pyRepr(value);
}

function leafIds(node: ResultTupleNode, out: string[]): void {
  if (node.children === null) out.push(node.id);
  else for (const c of node.children) leafIds(c, out);
}

/** Every task id under the tuples, in order. */
export function tupleTaskIds(nodes: readonly ResultTupleNode[]): string[] {
  const out: string[] = [];
  for (const n of nodes) leafIds(n, out);
  return out;
}

/**
 * `GroupResult.ready()` then `GroupResult.join(propagate=True)` over stored metas: null while
 * any member is not ready; else the values in order (a nested group gives a list), or the
 * ChordError Celery stores on the body when a member failed. Its reason is `repr(exc)` of the
 * first failed member in order: django-celery-results' `trigger_callback` and Celery's
 * `unlock_chord` try `Dependency <id> raised <repr>` first, but `_failed_join_report` only
 * yields results in the backend's cache, and `Backend.get_task_meta` caches SUCCESS metas only,
 * so on these backends the plain repr is what is stored.
 */
export function joinResults(
  nodes: readonly ResultTupleNode[],
  metas: ReadonlyMap<string, ResultMetaRecord>,
): { results: unknown[] } | { error: ChordErrorInfo } | null {
  const ids = tupleTaskIds(nodes);
  for (const id of ids) {
    const meta = metas.get(id);
    if (!meta || !READY_STATES.has(meta.status)) return null;
  }
  for (const id of ids) {
    const meta = metas.get(id) as ResultMetaRecord;
    if (meta.status === "FAILURE" || meta.status === "REVOKED") {
      return { error: chordError(excDictRepr(meta.result)) };
    }
  }
  const value = (node: ResultTupleNode): unknown =>
    node.children === null ? (metas.get(node.id) as ResultMetaRecord).result : node.children.map(value);
  return { results: nodes.map(value) };
}
