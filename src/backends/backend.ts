import { ConfigError } from "../errors.js";

/**
 * The result-backend interface the client (`AsyncResult`) and the worker see.
 * Implementations mirror Celery's backends byte for byte: `backends/redis.ts`
 * (celery/backends/redis.py RedisBackend) and `backends/rpc.ts`
 * (celery/backends/rpc.py RPCBackend).
 *
 * Metas cross this interface as decoded plain objects in Celery's shape
 * (`{status, result, traceback, children, date_done, ..., task_id}`); the
 * backend serializes them with the result serializer.
 */
export interface ResultMetaRecord {
  status: string;
  result: unknown;
  traceback: string | null;
  children: unknown[] | null;
  date_done: string | null;
  task_id: string;
  [extra: string]: unknown;
}

/**
 * What an unknown id reads as on every backend (celery/backends/base.py
 * `BaseKeyValueStoreBackend._get_task_meta_for`, `RPCBackend.get_task_meta`, 5.7.0).
 */
export function pendingMeta(taskId: string): ResultMetaRecord {
  return {
    status: "PENDING",
    result: null,
    traceback: null,
    children: null,
    date_done: null,
    task_id: taskId,
  };
}

/**
 * Where the task's caller waits for the reply: the request's `reply_to` and
 * `correlation_id`. Only the RPC backend needs it (celery/backends/rpc.py
 * `RPCBackend.destination_for`); key/value backends ignore it.
 */
export interface ReplyDestination {
  replyTo: string | null;
  correlationId: string | null;
  /** Request fields a backend may store besides the meta (django-db's `result_extended` columns). */
  request?: StoredRequestFields;
}

/**
 * What django-celery-results 2.6 `DatabaseBackend._get_extended_properties` reads from the
 * request beyond the meta: the `argsrepr`/`kwargsrepr` headers and django-celery-beat's
 * `periodic_task_name` header.
 */
export interface StoredRequestFields {
  argsrepr: string | null;
  kwargsrepr: string | null;
  periodicTaskName: string | null;
}

export interface WaitOptions {
  /** Milliseconds; undefined waits forever. */
  timeout?: number;
  /** Abort the wait early. */
  signal?: AbortSignal;
}

export interface ResultBackend {
  /**
   * Store a task's meta as Celery's `_store_result` does: never overwrite a
   * stored SUCCESS; on Redis SETEX + PUBLISH in one pipeline.
   */
  storeResult(meta: ResultMetaRecord, destination?: ReplyDestination): Promise<void>;
  /** Current meta; an unknown id reads as `{status: "PENDING", result: null, ...}` as in Celery. */
  getMeta(taskId: string): Promise<ResultMetaRecord>;
  /** Resolve with the first READY meta (SUCCESS, FAILURE, REVOKED) for the id. */
  waitForReady(taskId: string, options?: WaitOptions): Promise<ResultMetaRecord>;
  /**
   * Called by the producer before a task is published (Celery `on_task_call`), for
   * backends that need it: the RPC backend declares its reply queue first.
   */
  onTaskCall?(taskId: string): Promise<void>;
  forget(taskId: string): Promise<void>;
  saveGroup(groupId: string, meta: unknown): Promise<void>;
  restoreGroup(groupId: string): Promise<unknown | null>;
  /** `GroupResult.delete`; absent when the backend cannot delete a saved group. */
  deleteGroup?(groupId: string): Promise<void>;
  /** The chord join (`set_chord_size`, `on_chord_part_return`); absent when the backend has no chords. */
  readonly chordJoiner?: ChordJoiner;
  close(): Promise<void>;
}

/** A chord header part as the join needs it (from the worker request). */
export interface ChordPart {
  id: string;
  groupId: string | null;
  groupIndex: number | null;
}

/** `celery.exceptions.ChordError` in Celery's stored exception shape. */
export interface ChordErrorInfo {
  exc_type: "ChordError";
  exc_message: [string];
  exc_module: "celery.exceptions";
}

export type ChordJoin =
  /** Not complete yet, a late duplicate, or another worker holds the claim. */
  | { kind: "waiting" }
  /** Complete and claimed by us: publish the body with `results`, then call `done()`. */
  | { kind: "ready"; results: unknown[]; done(): Promise<void> }
  /**
   * Complete and claimed, but a member failed: the body must be marked FAILURE with `error`.
   * `cause` is the failed member's stored exception (the ChordError's `__cause__`), which a group
   * body's members are failed with (celery/backends/base.py `_handle_group_chord_error`).
   */
  | { kind: "failed"; error: ChordErrorInfo; cause?: unknown; done(): Promise<void> };

/** What a backend with chords offers (celery/backends/base.py `set_chord_size`, `on_chord_part_return`). */
export interface ChordJoiner {
  setChordSize(groupId: string, size: number): Promise<void>;
  onChordPartReturn(part: ChordPart, state: string, result: unknown): Promise<ChordJoin>;
  /**
   * `Backend.apply_chord`, called by the producer before the header is sent, with the header's
   * `as_tuple()` results: django-db creates its ChordCounter here; absent on Redis.
   */
  applyChord?(groupId: string, headerTuples: readonly unknown[]): Promise<void>;
  /**
   * True when the backend has no join of its own and the producer sends `celery.chord_unlock`
   * (celery/backends/base.py `fallback_chord_unlock`; Celery's SQLAlchemy backend).
   */
  readonly usesChordUnlock?: boolean;
  /**
   * `Backend.add_to_chord`: one more header part to wait for (`Task.add_to_chord`); absent
   * when the backend cannot grow a chord (Celery's base backend raises NotImplementedError).
   */
  addToChord?(groupId: string): Promise<void>;
}

/** The backend's chord join, or a ConfigError naming `backend` when it has none. */
export function requireChordJoiner(backend: ResultBackend | null): ChordJoiner {
  if (backend?.chordJoiner) return backend.chordJoiner;
  throw new ConfigError(
    "backend",
    backend === null
      ? "chords need a result backend: configure a redis://, django-db or db+postgresql:// backend"
      : "chords need the Redis or a database result backend (Celery's RPC backend has no chords either)",
  );
}
