import { DecodeError } from "../../errors.js";
import { parseResultTuple } from "../../protocol/result-meta.js";
import type {
  ChordJoin,
  ChordJoiner,
  ChordPart,
  ReplyDestination,
  ResultBackend,
  ResultMetaRecord,
  WaitOptions,
} from "../backend.js";
import { joinResults, tupleTaskIds } from "../chord-results.js";
import { type ContentCodec, pythonJsonDumps } from "./content.js";
import { type DatabaseRetryPolicy, PgDatabase } from "./pg.js";
import { pollUntilReady } from "./polling.js";
import type { DatabaseTarget } from "./url.js";

/**
 * django-celery-results 2.6's `DatabaseBackend` (`backend: "django-db"`) on PostgreSQL, column
 * for column, so Django's `TaskResult`/`GroupResult` models (and the admin) read what a TS worker
 * stored and a TS `AsyncResult` reads what a Python worker stored:
 *
 * - `django_celery_results_taskresult`: `result` and `meta` are kombu `dumps` text (`meta` =
 *   `{"children": [...]}`), `content_type`/`content_encoding` beside them (binary serializers
 *   base64 the text, `encode_content`); `date_created` on insert, `date_done` on every write,
 *   `date_started` set when the state is STARTED (`Now()`); `task_name`, `task_args` (the JSON
 *   of the `argsrepr` header), `task_kwargs`, `worker`, `periodic_task_name` and `traceback`
 *   only with `result_extended` (2.6 writes the traceback only then, and so do we).
 *   A write is `get_or_create` + full update: an `INSERT ... ON CONFLICT (task_id) DO UPDATE`
 *   gives the same row. Like django-celery-results, a later state replaces a stored SUCCESS.
 * - `django_celery_results_groupresult`: the group's `as_tuple()`.
 * - `django_celery_results_chordcounter`: `apply_chord` inserts `count = len(header)` with the
 *   header's `as_tuple()` list in `sub_tasks` (`json.dumps`); `on_chord_part_return` takes the
 *   row `SELECT ... FOR UPDATE`, decrements it, and the part that reaches 0 deletes it and fires
 *   the body, so TS and Python header parts share one counter and the body fires once.
 *
 * The tables belong to Django's migrations (`manage.py migrate django_celery_results`): this
 * backend never creates them, and a missing table is an error that says so.
 */
export interface DjangoDbBackendOptions {
  target: DatabaseTarget;
  codec: ContentCodec;
  /** `result_extended`. */
  resultExtended: boolean;
  /** Retries of operations that lost the server (`result_backend_always_retry`, ...). */
  retry?: DatabaseRetryPolicy;
  /** Poll interval of `AsyncResult.get` (Celery's default 0.5 s). */
  pollIntervalMs?: number;
}

const TASK_TABLE = "django_celery_results_taskresult";
const GROUP_TABLE = "django_celery_results_groupresult";
const CHORD_TABLE = "django_celery_results_chordcounter";

/** A timestamptz column as Python's `isoformat()` of an aware UTC datetime. */
const isoUtc = (column: string) =>
  `CASE WHEN ${column} IS NULL THEN NULL ELSE to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00' END`;

interface TaskRow {
  task_id: string;
  status: string;
  result: string | null;
  content_type: string;
  content_encoding: string;
  meta: string | null;
  traceback: string | null;
  task_name: string | null;
  task_args: string | null;
  task_kwargs: string | null;
  worker: string | null;
  periodic_task_name: string | null;
  date_done: string | null;
  date_created: string | null;
  date_started: string | null;
}

export class DjangoDbBackend implements ResultBackend {
  readonly db: PgDatabase;
  /** django-celery-results' ChordCounter join. */
  readonly chordJoiner: ChordJoiner;

  constructor(private readonly options: DjangoDbBackendOptions) {
    this.db = new PgDatabase(
      options.target,
      {
        howToCreate:
          "python manage.py migrate django_celery_results (django-celery-results owns these tables; Celeriac never creates them)",
      },
      options.retry,
    );
    this.chordJoiner = new DjangoChordCounter(this);
  }

  /** kombu `dumps` as django-celery-results' `encode_content` stores it (base64 for binary). */
  encodeContent(value: unknown): { contentType: string; contentEncoding: string; content: string } {
    const { contentType, contentEncoding, body } = this.options.codec.dumps(value);
    const content =
      contentEncoding === "binary"
        ? Buffer.from(body).toString("base64")
        : Buffer.from(body).toString("utf8");
    return { contentType, contentEncoding, content };
  }

  /** `decode_content`: base64 for binary rows, then `Backend.decode` (result serializer). */
  decodeContent(contentEncoding: string, content: string | null, what: string): unknown {
    if (!content) return null;
    const bytes =
      contentEncoding === "binary" ? Buffer.from(content, "base64") : Buffer.from(content, "utf8");
    try {
      return this.options.codec.meta.decode(bytes);
    } catch (err) {
      throw new DecodeError(`${TASK_TABLE} ${what} could not be decoded: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async storeResult(meta: ResultMetaRecord, destination?: ReplyDestination): Promise<void> {
    const result = this.encodeContent(meta.result);
    const stored = this.encodeContent({ children: meta.children ?? null });
    const extended = this.options.resultExtended && destination?.request !== undefined;
    const req = destination?.request;
    const argsrepr = extended && req?.argsrepr != null ? this.encodeContent(req.argsrepr).content : null;
    const kwargsrepr =
      extended && req?.kwargsrepr != null ? this.encodeContent(req.kwargsrepr).content : null;
    const str = (v: unknown) => (typeof v === "string" ? v : null);
    await this.db.query(
      "store result",
      `INSERT INTO ${TASK_TABLE} AS t (task_id, status, result, traceback, meta, content_encoding, content_type,
         periodic_task_name, task_name, task_args, task_kwargs, worker, date_created, date_done, date_started)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13,
         CASE WHEN $14::boolean THEN STATEMENT_TIMESTAMP() END)
       ON CONFLICT (task_id) DO UPDATE SET
         status = EXCLUDED.status, result = EXCLUDED.result, traceback = EXCLUDED.traceback,
         meta = EXCLUDED.meta, content_encoding = EXCLUDED.content_encoding,
         content_type = EXCLUDED.content_type, periodic_task_name = EXCLUDED.periodic_task_name,
         task_name = EXCLUDED.task_name, task_args = EXCLUDED.task_args,
         task_kwargs = EXCLUDED.task_kwargs, worker = EXCLUDED.worker, date_done = EXCLUDED.date_done,
         date_started = COALESCE(EXCLUDED.date_started, t.date_started)`,
      [
        meta.task_id,
        meta.status,
        result.content,
        extended ? meta.traceback : null,
        stored.content,
        result.contentEncoding,
        result.contentType,
        extended ? (req?.periodicTaskName ?? null) : null,
        extended ? str(meta.name) : null,
        argsrepr,
        kwargsrepr,
        extended ? str(meta.worker) : null,
        new Date(),
        meta.status === "STARTED",
      ],
    );
  }

  private rowToMeta(row: TaskRow): ResultMetaRecord {
    const where = `task ${row.task_id}`;
    const stored = this.decodeContent(row.content_encoding, row.meta, `meta of ${where}`);
    const extra = stored !== null && typeof stored === "object" && !Array.isArray(stored) ? stored : {};
    let args: unknown = row.task_args;
    let kwargs: unknown = row.task_kwargs;
    try {
      args = this.decodeContent(row.content_encoding, row.task_args, `task_args of ${where}`);
      kwargs = this.decodeContent(row.content_encoding, row.task_kwargs, `task_kwargs of ${where}`);
    } catch {
      // `_get_task_meta_for` keeps the raw text when it does not decode.
    }
    const base = extra as Record<string, unknown>;
    return {
      ...base,
      task_id: row.task_id,
      status: row.status,
      result: this.decodeContent(row.content_encoding, row.result, `result of ${where}`),
      traceback: row.traceback,
      children: Array.isArray(base.children) ? base.children : null,
      date_done: row.date_done,
      name: row.task_name,
      task_name: row.task_name,
      task_args: args,
      task_kwargs: kwargs,
      args,
      kwargs,
      worker: row.worker,
      periodic_task_name: row.periodic_task_name,
      date_created: row.date_created,
      date_started: row.date_started,
    };
  }

  private static readonly SELECT = `SELECT task_id, status, result, content_type, content_encoding, meta,
    traceback, task_name, task_args, task_kwargs, worker, periodic_task_name,
    ${isoUtc("date_done")} AS date_done, ${isoUtc("date_created")} AS date_created,
    ${isoUtc("date_started")} AS date_started FROM ${TASK_TABLE}`;

  async getMeta(taskId: string): Promise<ResultMetaRecord> {
    return (await this.getMetas([taskId]))[0] as ResultMetaRecord;
  }

  /** Several metas in one query; an unknown id reads as PENDING (`TaskResultManager.get_task`). */
  async getMetas(taskIds: readonly string[]): Promise<ResultMetaRecord[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.db.query<TaskRow>(
      "read result",
      `${DjangoDbBackend.SELECT} WHERE task_id = ANY($1)`,
      [taskIds],
    );
    const byId = new Map(rows.map((r) => [r.task_id, r]));
    return taskIds.map((id) => {
      const row = byId.get(id);
      return row
        ? this.rowToMeta(row)
        : { task_id: id, status: "PENDING", result: null, traceback: null, children: null, date_done: null };
    });
  }

  waitForReady(taskId: string, options?: WaitOptions): Promise<ResultMetaRecord> {
    return pollUntilReady(taskId, (id) => this.getMeta(id), options, this.options.pollIntervalMs);
  }

  async forget(taskId: string): Promise<void> {
    await this.db.query("forget result", `DELETE FROM ${TASK_TABLE} WHERE task_id = $1`, [taskId]);
  }

  /** `_save_group`: the group's `as_tuple()` in `django_celery_results_groupresult`. */
  async saveGroup(groupId: string, result: unknown): Promise<void> {
    const content = this.encodeContent(result);
    const now = new Date();
    await this.db.query(
      "save group",
      `INSERT INTO ${GROUP_TABLE} (group_id, result, content_encoding, content_type, date_created, date_done)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (group_id) DO UPDATE SET result = EXCLUDED.result,
         content_encoding = EXCLUDED.content_encoding, content_type = EXCLUDED.content_type,
         date_done = EXCLUDED.date_done`,
      [groupId, content.content, content.contentEncoding, content.contentType, now],
    );
  }

  async restoreGroup(groupId: string): Promise<unknown | null> {
    const rows = await this.db.query<{ result: string | null; content_encoding: string }>(
      "restore group",
      `SELECT result, content_encoding FROM ${GROUP_TABLE} WHERE group_id = $1`,
      [groupId],
    );
    const row = rows[0];
    return row ? this.decodeContent(row.content_encoding, row.result, `result of group ${groupId}`) : null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.db.query("delete group", `DELETE FROM ${GROUP_TABLE} WHERE group_id = $1`, [groupId]);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** django-celery-results' ChordCounter join (`apply_chord`, `on_chord_part_return`). */
class DjangoChordCounter implements ChordJoiner {
  readonly usesChordUnlock = false;

  constructor(private readonly backend: DjangoDbBackend) {}

  /** BaseBackend.set_chord_size: django-celery-results counts in apply_chord instead. */
  async setChordSize(): Promise<void> {}

  async applyChord(groupId: string, headerTuples: readonly unknown[]): Promise<void> {
    await this.backend.db.query(
      "create chord counter",
      `INSERT INTO ${CHORD_TABLE} (group_id, sub_tasks, count) VALUES ($1, $2, $3)`,
      [groupId, pythonJsonDumps(headerTuples), headerTuples.length],
    );
  }

  async onChordPartReturn(part: ChordPart, _state: string, _result: unknown): Promise<ChordJoin> {
    const gid = part.groupId;
    if (!gid || !part.id) return { kind: "waiting" };
    const last = await this.backend.db.transaction("chord part return", async (q) => {
      const rows = await q(`SELECT id, sub_tasks, count FROM ${CHORD_TABLE} WHERE group_id = $1 FOR UPDATE`, [
        gid,
      ]);
      const counter = rows[0] as { id: number; sub_tasks: string; count: number } | undefined;
      if (!counter) return null; // "Can't find ChordCounter for Group" (a late or duplicate part)
      const count = counter.count - 1;
      if (count !== 0) {
        await q(`UPDATE ${CHORD_TABLE} SET count = $2 WHERE id = $1`, [counter.id, count]);
        return null;
      }
      await q(`DELETE FROM ${CHORD_TABLE} WHERE id = $1`, [counter.id]);
      return counter.sub_tasks;
    });
    if (last === null) return { kind: "waiting" };
    let tuples: unknown;
    try {
      tuples = JSON.parse(last);
    } catch (err) {
      throw new DecodeError(`${CHORD_TABLE} sub_tasks of group ${gid} is not JSON: ${String(err)}`);
    }
    if (!Array.isArray(tuples))
      throw new DecodeError(`${CHORD_TABLE} sub_tasks of group ${gid} is not a list`);
    const nodes = tuples.map((t, i) => parseResultTuple(t, `${CHORD_TABLE} sub_tasks[${i}]`));
    const ids = tupleTaskIds(nodes);
    const metas = await this.backend.getMetas(ids);
    const joined = joinResults(nodes, new Map(metas.map((m) => [m.task_id, m])));
    // `if deps.ready()`: a header member not ready when the count reaches 0 leaves the body unfired.
    if (joined === null) return { kind: "waiting" };
    if ("error" in joined) return { kind: "failed", error: joined.error, done: async () => {} };
    return { kind: "ready", results: joined.results, done: async () => {} };
  }
}
