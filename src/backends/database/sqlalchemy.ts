import type { DatabaseTableSettings } from "../../config-values.js";
import { DecodeError } from "../../errors.js";
import { READY_STATES } from "../../protocol/states.js";
import type {
  ChordJoin,
  ChordJoiner,
  ReplyDestination,
  ResultBackend,
  ResultMetaRecord,
  WaitOptions,
} from "../backend.js";
import type { MetaCodec } from "../meta-codec.js";
import { type DatabaseRetryPolicy, PgDatabase, type TxQuery } from "./pg.js";
import { pollUntilReady } from "./polling.js";
import type { DatabaseTarget } from "./url.js";

/**
 * Celery 5.7's SQLAlchemy result backend (`db+postgresql://`, celery/backends/database/
 * __init__.py `DatabaseBackend` and models.py `Task`/`TaskExtended`/`TaskSet`), column for column:
 *
 * - `celery_taskmeta`: `result`, `args`, `kwargs`, `children`, `stamps` are BYTEA holding
 *   `Backend.encode(value)` (the result serializer, json by default, plus 5.7's
 *   `result_compression`). Since 5.7 (celery/celery#3025) nothing is pickled: before it,
 *   `result` was a SQLAlchemy `PickleType`. A legacy pickled row (first byte 0x80) is refused
 *   with a DecodeError that says so; Celery 5.7 itself only unpickles such rows as a fallback.
 * - `date_done` is `TIMESTAMP WITHOUT TIME ZONE`: Celery passes an aware datetime and
 *   PostgreSQL stores its wall time in the session's TimeZone; we pass the same instant typed
 *   `timestamptz`, so the cast is the same. SQLAlchemy's `default`/`onupdate` (`_get_utc_now`)
 *   fill it on insert and whenever an UPDATE leaves it out (a not-ready state written over a
 *   row whose `date_done` is already NULL).
 * - `id` comes from the `task_id_sequence` / `taskset_id_sequence` sequences (`sa.Sequence`).
 * - A write locks the row (`SELECT ... FOR UPDATE`) and never replaces a stored SUCCESS.
 * - Chords have no join of their own: the producer sends `celery.chord_unlock`, which polls the
 *   header's results (celery/backends/base.py `fallback_chord_unlock`, app/builtins.py).
 * - Tables: created on first use when missing, with the DDL SQLAlchemy 2.x's `create_all` emits
 *   for these models on PostgreSQL (`database_create_tables_at_setup`, Celery's default).
 */
export interface SqlAlchemyBackendOptions {
  target: DatabaseTarget;
  codec: MetaCodec;
  /** `result_extended`: the meta read back carries name/args/kwargs/worker/retries/queue. */
  resultExtended: boolean;
  tableNames: DatabaseTableSettings;
  tableSchemas: DatabaseTableSettings;
  pollIntervalMs?: number;
  /** Retries of operations that lost the server (Celery's DatabaseBackend: 3 by default). */
  retry?: DatabaseRetryPolicy;
  /** `database_create_tables_at_setup` (default true). */
  createTables?: boolean;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface TaskRow {
  task_id: string;
  status: string | null;
  result: Buffer | null;
  date_done: string | null;
  traceback: string | null;
  children: Buffer | null;
  name: string | null;
  args: Buffer | null;
  kwargs: Buffer | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
  stamps: Buffer | null;
}

/** A `TIMESTAMP WITHOUT TIME ZONE` column as Python's `isoformat()` of the naive datetime. */
const isoNaive = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;

/** BaseBackend's chord methods: nothing to count, `celery.chord_unlock` does the joining. */
const CHORD_UNLOCK: ChordJoiner = {
  usesChordUnlock: true,
  setChordSize: async () => {},
  applyChord: async () => {},
  onChordPartReturn: async (): Promise<ChordJoin> => ({ kind: "waiting" }),
};

export class SqlAlchemyBackend implements ResultBackend {
  readonly db: PgDatabase;
  /** No join of its own: `celery.chord_unlock` polls the header (see {@link CHORD_UNLOCK}). */
  readonly chordJoiner: ChordJoiner = CHORD_UNLOCK;
  readonly taskTable: string;
  readonly groupTable: string;
  private readonly taskSequence: string;
  private readonly groupSequence: string;
  private tablesReady: Promise<void> | null = null;

  constructor(private readonly options: SqlAlchemyBackendOptions) {
    const qualify = (schema: string | undefined, name: string) =>
      schema ? `${quote(schema)}.${quote(name)}` : quote(name);
    this.taskTable = qualify(options.tableSchemas.task, options.tableNames.task ?? "celery_taskmeta");
    this.groupTable = qualify(options.tableSchemas.group, options.tableNames.group ?? "celery_tasksetmeta");
    this.taskSequence = qualify(options.tableSchemas.task, "task_id_sequence");
    this.groupSequence = qualify(options.tableSchemas.group, "taskset_id_sequence");
    this.db = new PgDatabase(
      options.target,
      {
        howToCreate:
          "start a Celery 5.7 worker with this backend once (database_create_tables_at_setup creates them)",
      },
      options.retry,
    );
  }

  /** The DDL of `ResultModelBase.metadata.create_all` on PostgreSQL (SQLAlchemy 2.x), idempotent. */
  createTablesSql(): string[] {
    const t = this.taskTable;
    const g = this.groupTable;
    const indexName = (table: string) =>
      quote(`ix_${table.replace(/^.*\./, "").replace(/"/g, "")}_date_done`);
    return [
      `CREATE SEQUENCE IF NOT EXISTS ${this.taskSequence}`,
      `CREATE SEQUENCE IF NOT EXISTS ${this.groupSequence}`,
      `CREATE TABLE IF NOT EXISTS ${t} (
        id INTEGER NOT NULL, task_id VARCHAR(155), status VARCHAR(50), result BYTEA,
        date_done TIMESTAMP WITHOUT TIME ZONE, traceback TEXT, children BYTEA, name VARCHAR(155),
        args BYTEA, kwargs BYTEA, worker VARCHAR(155), retries INTEGER, queue VARCHAR(155), stamps BYTEA,
        PRIMARY KEY (id), UNIQUE (task_id))`,
      `CREATE INDEX IF NOT EXISTS ${indexName(t)} ON ${t} (date_done)`,
      `CREATE TABLE IF NOT EXISTS ${g} (
        id INTEGER NOT NULL, taskset_id VARCHAR(155), result BYTEA, date_done TIMESTAMP WITHOUT TIME ZONE,
        PRIMARY KEY (id), UNIQUE (taskset_id))`,
      `CREATE INDEX IF NOT EXISTS ${indexName(g)} ON ${g} (date_done)`,
    ];
  }

  /** `SessionManager.prepare_models`, once per backend (retried on the next call if it failed). */
  private ready(): Promise<void> {
    if (this.options.createTables === false) return Promise.resolve();
    this.tablesReady ??= this.db
      .transaction("create tables", async (q) => {
        // Two processes creating the tables at once race on the catalog; serialize on a lock.
        await q("SELECT pg_advisory_xact_lock(hashtext('celery_taskmeta create_all'))");
        for (const sql of this.createTablesSql()) await q(sql);
      })
      .catch((err: unknown) => {
        this.tablesReady = null;
        throw err;
      });
    return this.tablesReady;
  }

  private encode(value: unknown): Buffer {
    return this.options.codec.encode(value);
  }

  /** `_decode_stored_result` without the pickle fallback (see the class comment). */
  private decode(payload: Buffer | null, what: string): unknown {
    if (payload === null) return null;
    try {
      return this.options.codec.decode(payload);
    } catch (err) {
      if (payload[0] === 0x80) {
        throw new DecodeError(
          `${what} is a pickled blob (a row written before Celery 5.7 stored results with SQLAlchemy's PickleType); ` +
            "Celeriac does not unpickle: re-run the task, or delete the row",
        );
      }
      throw new DecodeError(`${what} could not be decoded: ${(err as Error).message}`, { cause: err });
    }
  }

  async storeResult(meta: ResultMetaRecord, _destination?: ReplyDestination): Promise<void> {
    await this.ready();
    const m = meta as Record<string, unknown>;
    const extended = this.options.resultExtended && "name" in m;
    const children =
      Array.isArray(meta.children) && meta.children.length > 0 ? this.encode(meta.children) : null;
    const stampedHeaders = Array.isArray(m.stamped_headers) ? (m.stamped_headers as string[]) : null;
    const stamps =
      stampedHeaders && stampedHeaders.length > 0
        ? this.encode({
            stamped_headers: stampedHeaders,
            stamps: Object.fromEntries(stampedHeaders.filter((h) => h in m).map((h) => [h, m[h]])),
          })
        : null;
    const str = (v: unknown) => (typeof v === "string" ? v : null);
    await this.db.transaction("store result", async (q) => {
      const current = await this.lockRow(q, meta.task_id);
      if (current === "SUCCESS") return;
      await q(
        `UPDATE ${this.taskTable} SET status = $2, result = $3,
           date_done = CASE WHEN $4::timestamptz IS NOT NULL THEN $4::timestamptz
                            WHEN date_done IS NULL THEN now() END,
           traceback = $5, name = $6, args = $7, kwargs = $8, worker = $9, retries = $10, queue = $11,
           children = $12, stamps = CASE WHEN $13::bytea IS NOT NULL THEN $13::bytea ELSE stamps END
         WHERE task_id = $1`,
        [
          meta.task_id,
          meta.status,
          this.encode(meta.result),
          READY_STATES.has(meta.status) ? new Date() : null,
          meta.traceback,
          extended ? str(m.name) : null,
          extended && m.args !== undefined ? this.encode(m.args) : null,
          extended && m.kwargs !== undefined ? this.encode(m.kwargs) : null,
          extended ? str(m.worker) : null,
          extended && typeof m.retries === "number" ? m.retries : null,
          extended ? str(m.queue) : null,
          children,
          stamps,
        ],
      );
    });
  }

  /** Locks the task's row, inserting it first when missing; returns the stored status. */
  private async lockRow(q: TxQuery, taskId: string): Promise<string | null> {
    const select = `SELECT status FROM ${this.taskTable} WHERE task_id = $1 FOR UPDATE`;
    let rows = await q(select, [taskId]);
    if (rows.length === 0) {
      // `session.add(Task(task_id)); session.flush()`: defaults status PENDING, date_done now.
      await q(
        `INSERT INTO ${this.taskTable} (id, task_id, status, date_done)
         VALUES (nextval('${this.taskSequence.replace(/'/g, "''")}'), $1, 'PENDING', now())
         ON CONFLICT (task_id) DO NOTHING`,
        [taskId],
      );
      rows = await q(select, [taskId]);
    }
    return (rows[0] as { status: string | null } | undefined)?.status ?? null;
  }

  async getMeta(taskId: string): Promise<ResultMetaRecord> {
    return (await this.getMetas([taskId]))[0] as ResultMetaRecord;
  }

  async getMetas(taskIds: readonly string[]): Promise<ResultMetaRecord[]> {
    if (taskIds.length === 0) return [];
    await this.ready();
    const rows = await this.db.query<TaskRow>(
      "read result",
      `SELECT task_id, status, result, ${isoNaive("date_done")} AS date_done, traceback, children, name, args,
         kwargs, worker, retries, queue, stamps FROM ${this.taskTable} WHERE task_id = ANY($1)`,
      [taskIds],
    );
    const byId = new Map(rows.map((r) => [r.task_id, r]));
    return taskIds.map((id) => this.toMeta(id, byId.get(id)));
  }

  /** `Task(Extended).to_dict()` + `_get_task_meta_for`'s decoding. */
  private toMeta(taskId: string, row: TaskRow | undefined): ResultMetaRecord {
    const where = `${this.taskTable} row of task ${taskId}`;
    const meta: ResultMetaRecord = {
      task_id: taskId,
      status: row?.status ?? "PENDING",
      result: row ? this.decode(row.result, `result in ${where}`) : null,
      traceback: row?.traceback ?? null,
      date_done: row?.date_done ?? null,
      children: row?.children ? (this.decode(row.children, `children in ${where}`) as unknown[]) : null,
    };
    if (this.options.resultExtended) {
      meta.name = row?.name ?? null;
      meta.args = row?.args ? this.decode(row.args, `args in ${where}`) : null;
      meta.kwargs = row?.kwargs ? this.decode(row.kwargs, `kwargs in ${where}`) : null;
      meta.worker = row?.worker ?? null;
      meta.retries = row?.retries ?? null;
      meta.queue = row?.queue ?? null;
    }
    if (row?.stamps) {
      try {
        const info = this.decode(row.stamps, `stamps in ${where}`) as Record<string, unknown>;
        if (info && typeof info === "object") {
          if ("stamped_headers" in info) meta.stamped_headers = info.stamped_headers;
          if (info.stamps && typeof info.stamps === "object") Object.assign(meta, info.stamps);
        }
      } catch {
        // Celery ignores stamps it cannot decode.
      }
    }
    return meta;
  }

  waitForReady(taskId: string, options?: WaitOptions): Promise<ResultMetaRecord> {
    return pollUntilReady(taskId, (id) => this.getMeta(id), options, this.options.pollIntervalMs);
  }

  async forget(taskId: string): Promise<void> {
    await this.ready();
    await this.db.query("forget result", `DELETE FROM ${this.taskTable} WHERE task_id = $1`, [taskId]);
  }

  /** `_save_group`: a new `celery_tasksetmeta` row with the encoded `as_tuple()`. */
  async saveGroup(groupId: string, result: unknown): Promise<void> {
    await this.ready();
    await this.db.query(
      "save group",
      `INSERT INTO ${this.groupTable} (id, taskset_id, result, date_done)
       VALUES (nextval('${this.groupSequence.replace(/'/g, "''")}'), $1, $2, now())`,
      [groupId, this.encode(result)],
    );
  }

  async restoreGroup(groupId: string): Promise<unknown | null> {
    await this.ready();
    const rows = await this.db.query<{ result: Buffer | null }>(
      "restore group",
      `SELECT result FROM ${this.groupTable} WHERE taskset_id = $1 LIMIT 1`,
      [groupId],
    );
    const row = rows[0];
    return row ? this.decode(row.result, `${this.groupTable} row of group ${groupId}`) : null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.ready();
    await this.db.query("delete group", `DELETE FROM ${this.groupTable} WHERE taskset_id = $1`, [groupId]);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
