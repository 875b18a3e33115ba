import type { ResultTupleNode } from "../../protocol/result-meta.js";
import { READY_STATES } from "../../protocol/states.js";
import type { ChordErrorInfo, ResultMetaRecord } from "../backend.js";
import type { MetaCodec } from "../meta-codec.js";
import { chordError, excDictRepr } from "../redis-chord.js";

/**
 * What the database backends share: how a value becomes the text/bytes in a column, and how a
 * chord's header results are read back from `AsyncResult.as_tuple()` lists.
 */
export interface ContentCodec {
  /** `Backend.encode` (result serializer + 5.7 `result_compression`): SQLAlchemy's LargeBinary columns. */
  meta: MetaCodec;
  /** kombu `dumps(value, serializer=result_serializer)`: content type, encoding and bytes (no compression). */
  dumps(value: unknown): { contentType: string; contentEncoding: string; body: Uint8Array };
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

/** Python's `json.dumps` (stdlib defaults: `", "` / `": "` separators, ASCII escapes) of plain JSON data. */
export function pythonJsonDumps(value: unknown): string {
  const ascii = (text: string) =>
    text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const walk = (v: unknown): string => {
    if (v === null || v === undefined) return "null";
    if (Array.isArray(v)) return `[${v.map(walk).join(", ")}]`;
    if (typeof v === "object") {
      return `{${Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${ascii(JSON.stringify(k))}: ${walk(x)}`)
        .join(", ")}}`;
    }
    return ascii(JSON.stringify(v));
  };
  return walk(value);
}
