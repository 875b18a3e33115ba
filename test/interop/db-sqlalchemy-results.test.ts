/**
 * Celery's SQLAlchemy result backend (`db+postgresql://`) shared by a stock Celery 5.7 worker
 * (SQLAlchemy 2.1 + psycopg 3, the pinned Django venv) and a TS worker on one PostgreSQL
 * database and one Redis broker: rows each side writes are read by the other, the rows a TS
 * worker writes are column for column what the Python worker writes for the same task, groups
 * are saved and restored across languages, and chords join through `celery.chord_unlock`
 * whichever language sends the chord and runs the unlock.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { SqlAlchemyBackend } from "../../src/backends/database/sqlalchemy.js";
import { chord, type Signature, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import { ConnectionLostError, DecodeError, RemoteTaskError } from "../../src/errors.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { freePort } from "../support/ports.js";
import { startPostgres } from "../support/servers/postgres.js";
import { allocatePostgresDb, allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let dbUrl: string;
let pyBackend: string;
let tsBackend: string;
let pyWorker: CeleryWorker;
let app: Celery;
let tsWorker: Worker;
let db: pg.Client;
const pyQ = uniqueQueue("sapy");
const tsQ = uniqueQueue("sats");
const bodyRuns: unknown[][] = [];
const T = { timeout: 30_000 };

const py = (name: string, ...args: unknown[]): Signature => s(`interop.${name}`, ...args).set({ queue: pyQ });
const ts = (name: string, ...args: unknown[]): Signature => s(`ts.${name}`, ...args).set({ queue: tsQ });

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  dbUrl = (await allocatePostgresDb()).url;
  pyBackend = `db+${dbUrl.replace(/^postgresql:/, "postgresql+psycopg:")}`;
  tsBackend = `db+${dbUrl}`;
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: pyBackend,
    queues: [pyQ],
    defaultQueue: pyQ,
    celeryVersion: "django",
    config: { result_extended: true },
  });
  app = new Celery({ broker, backend: tsBackend, resultExtended: true, taskDefaultQueue: pyQ });
  app.task("ts.add", (_ctx, a: number, b: number) => a + b);
  app.task("ts.fail", (_ctx, ...args: unknown[]) => {
    throw new PythonError("ValueError", ["ts failed", ...args]);
  });
  app.task("ts.collect", (_ctx, values: unknown[]) => {
    bodyRuns.push(values);
    return values;
  });
  tsWorker = app.worker({ queues: [tsQ], concurrency: 4, hostname: "sa-ts@localhost" });
  await tsWorker.start();
});

afterAll(async () => {
  await tsWorker?.close({ timeoutMs: 5000 });
  await app?.close();
  await pyWorker?.stop();
  await db?.end();
});

const env = () => ({
  brokerUrl: broker,
  backendUrl: pyBackend,
  defaultQueue: pyQ,
  celeryVersion: "django",
  config: { result_extended: true },
});

/** The stored columns of a task row, as text (bytea decoded as UTF-8). */
async function row(taskId: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query(
    `SELECT status, convert_from(result, 'UTF8') AS result, date_done IS NOT NULL AS has_date_done,
       traceback IS NOT NULL AS has_traceback, convert_from(children, 'UTF8') AS children, name,
       convert_from(args, 'UTF8') AS args, convert_from(kwargs, 'UTF8') AS kwargs, worker, retries, queue,
       stamps FROM celery_taskmeta WHERE task_id = $1`,
    [taskId],
  );
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

describe("task results", () => {
  it("a TS worker's SUCCESS row is what a Python worker writes, and Python's AsyncResult reads it", async () => {
    const tsResult = await app.sendTask("ts.add", [2, 3], {}, { queue: tsQ });
    expect(await tsResult.get(T)).toBe(5);
    const pyResult = await app.sendTask("interop.add", [2, 3], {}, { queue: pyQ });
    expect(await pyResult.get(T)).toBe(5);
    const tsRow = await row(tsResult.id);
    const pyRow = await row(pyResult.id);
    const comparable = (r: Record<string, unknown>) => ({
      ...r,
      name: String(r.name).replace(/^\w+\./, ""),
      worker: typeof r.worker,
      queue: typeof r.queue,
    });
    expect(comparable(tsRow)).toEqual(comparable(pyRow));
    expect(tsRow.worker).toBe("sa-ts@localhost");
    expect(tsRow.queue).toBe(tsQ);
    const seen = await pythonJson<Record<string, unknown>>(
      `
      from interop_app import app, emit
      r = app.AsyncResult(${JSON.stringify(tsResult.id)})
      emit({"value": r.get(timeout=10), "state": r.state, "name": r.name, "args": r.args, "worker": r.worker,
            "date_done": r.date_done is not None})
    `,
      env(),
    );
    expect(seen).toEqual({
      value: 5,
      state: "SUCCESS",
      name: "ts.add",
      args: [2, 3],
      worker: "sa-ts@localhost",
      date_done: true,
    });
  });

  it("a TS FAILURE is raised by Python as the same exception; a Python FAILURE is a RemoteTaskError in TS", async () => {
    const tsFail = await app.sendTask("ts.fail", ["x"], {}, { queue: tsQ });
    await expect(tsFail.get(T)).rejects.toBeInstanceOf(RemoteTaskError);
    const seen = await pythonJson<Record<string, unknown>>(
      `
      from interop_app import app, emit
      r = app.AsyncResult(${JSON.stringify(tsFail.id)})
      try:
          r.get(timeout=10)
          emit({"raised": None})
      except Exception as exc:
          emit({"raised": type(exc).__name__, "args": list(exc.args), "state": r.state})
    `,
      env(),
    );
    expect(seen).toEqual({ raised: "ValueError", args: ["ts failed", "x"], state: "FAILURE" });
    const pyFail = await app.sendTask("interop.fail", ["ValueError", "ts failed", "x"], {}, { queue: pyQ });
    const err = (await pyFail.get(T).catch((e: unknown) => e)) as RemoteTaskError;
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err.excType).toBe("ValueError");
    const tsRow = await row(tsFail.id);
    const pyRow = await row(pyFail.id);
    expect({ ...tsRow, name: null, args: null, worker: null, queue: null }).toEqual({
      ...pyRow,
      name: null,
      args: null,
      worker: null,
      queue: null,
    });
    expect(JSON.parse(String(tsRow.result))).toMatchObject({
      exc_type: "ValueError",
      exc_module: "builtins",
    });
  });

  it("forget deletes the row; an unknown id reads as PENDING on both sides", async () => {
    const r = await app.sendTask("ts.add", [1, 1], {}, { queue: tsQ });
    await r.get(T);
    await app.backend?.forget(r.id);
    expect((await app.backend?.getMeta(r.id))?.status).toBe("PENDING");
    const state = await pythonJson<string>(
      `
      from interop_app import app, emit
      emit(app.AsyncResult(${JSON.stringify(r.id)}).state)
    `,
      env(),
    );
    expect(state).toBe("PENDING");
  });
});

describe("groups", () => {
  it("a group saved by TS is restored by Python, and the other way round", async () => {
    const tsGid = uniqueQueue("gid");
    const a = await app.sendTask("ts.add", [1, 2], {}, { queue: tsQ });
    await a.get(T);
    await app.backend?.saveGroup(tsGid, [[tsGid, null], [[[a.id, null], null]]]);
    const restored = await pythonJson<Record<string, unknown>>(
      `
      from interop_app import app, emit
      g = app.GroupResult.restore(${JSON.stringify(tsGid)})
      emit({"id": g.id, "ids": [r.id for r in g.results], "values": g.get(timeout=10)})
    `,
      env(),
    );
    expect(restored).toEqual({ id: tsGid, ids: [a.id], values: [3] });
    const pyGroup = await pythonJson<{ id: string; ids: string[] }>(
      `
      from celery import group
      from interop_app import app, emit
      g = group(app.signature("interop.add", (i, i), queue=${JSON.stringify(pyQ)}) for i in range(2)).apply_async()
      g.get(timeout=20)
      g.save()
      emit({"id": g.id, "ids": [r.id for r in g.results]})
    `,
      env(),
    );
    const tuple = (await app.backend?.restoreGroup(pyGroup.id)) as unknown[];
    expect(tuple).toEqual([[pyGroup.id, null], pyGroup.ids.map((id) => [[id, null], null])]);
  });
});

describe("chords through celery.chord_unlock", () => {
  it("a TS chord with header parts on both workers and a TS body fires the body once", async () => {
    bodyRuns.length = 0;
    const result = await applyAsync(
      app,
      chord([ts("add", 1, 1), py("add", 2, 2), ts("add", 3, 3)], ts("collect")),
    );
    expect(await result.get(T)).toEqual([2, 4, 6]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(bodyRuns).toEqual([[2, 4, 6]]);
  });

  it("a TS chord whose body is a Python task is unlocked by the Python worker", async () => {
    const result = await applyAsync(app, chord([ts("add", 1, 2), py("add", 3, 4)], py("xsum")));
    expect(await result.get(T)).toBe(10);
  });

  it("a Python chord whose body is a TS task is unlocked by the TS worker", async () => {
    bodyRuns.length = 0;
    const bodyId = await pythonJson<string>(
      `
      from celery import chord
      from interop_app import app, emit
      header = [app.signature("ts.add", (5, 5), queue=${JSON.stringify(tsQ)}),
                app.signature("interop.add", (6, 6), queue=${JSON.stringify(pyQ)})]
      r = chord(header)(app.signature("ts.collect", queue=${JSON.stringify(tsQ)}))
      emit(r.id)
    `,
      env(),
    );
    expect(await app.asyncResult(bodyId).get(T)).toEqual([10, 12]);
    expect(bodyRuns).toEqual([[10, 12]]);
  });

  it("a failed header part stores a ChordError on the body", async () => {
    const result = await applyAsync(app, chord([ts("fail", "boom"), py("add", 1, 1)], ts("collect")));
    const err = (await result.get(T).catch((e: unknown) => e)) as RemoteTaskError;
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err.excType).toBe("ChordError");
    // What Celery's unlock_chord stores on these backends (see joinResults).
    expect(err.message).toBe("celery.exceptions.ChordError: ValueError('ts failed', 'boom')");
  });
});

describe("schema and bad input", () => {
  it("the tables TS creates are the ones SQLAlchemy's create_all creates", async () => {
    const fromTs = (await allocatePostgresDb()).url;
    const fromPy = (await allocatePostgresDb()).url;
    const backend = new Celery({ broker, backend: `db+${fromTs}` });
    await backend.backend?.getMeta("x");
    await backend.close();
    await pythonJson(
      `
      from interop_app import app, emit
      app.AsyncResult("x").state
      emit(True)
    `,
      { ...env(), backendUrl: `db+${fromPy.replace(/^postgresql:/, "postgresql+psycopg:")}` },
    );
    const describeSchema = async (url: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const cols = await c.query(
          `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
        );
        const idx = await c.query(
          `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`,
        );
        const seqs = await c.query(
          `SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences ORDER BY sequence_name`,
        );
        return { cols: cols.rows, idx: idx.rows, seqs: seqs.rows };
      } finally {
        await c.end();
      }
    };
    const ts = await describeSchema(fromTs);
    expect(ts.cols.length).toBe(18);
    expect(ts).toEqual(await describeSchema(fromPy));
  });

  it("an unreachable database is a ConnectionLostError naming it with the password masked", async () => {
    const port = await freePort();
    const bad = new Celery({ broker, backend: `db+postgresql://celery:s3cret@127.0.0.1:${port}/results` });
    const err = (await bad.backend?.getMeta("x").catch((e: unknown) => e)) as Error;
    await bad.close();
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect(err.message).toContain(`postgresql://celery:***@127.0.0.1:${port}/results`);
    expect(err.message).not.toContain("s3cret");
  });

  it("a result stored while the database restarts is retried and not lost (result_backend_max_retries)", async () => {
    const server = await startPostgres();
    const own = new Celery({
      broker,
      backend: `db+${server.url}`,
      resultBackendMaxRetries: 60,
      resultBackendBaseSleepBetweenRetriesMs: 50,
      resultBackendMaxSleepBetweenRetriesMs: 400,
    });
    const q = uniqueQueue("restart");
    own.task("ts.after_restart", (_ctx, n: number) => n * 2);
    const worker = own.worker({ queues: [q], concurrency: 1, hostname: "sa-restart@localhost" });
    try {
      await own.backend?.getMeta("warm-up"); // tables created
      await worker.start();
      await server.stop();
      const sent = await own.sendTask("ts.after_restart", [21], {}, { queue: q });
      // The worker runs it and keeps retrying the store while the server is down.
      await new Promise((r) => setTimeout(r, 1000));
      await server.start();
      expect(await sent.get(T)).toBe(42);
    } finally {
      await worker.close({ timeoutMs: 5000 });
      await own.close();
      await server.dispose();
    }
  });

  it("a malformed or legacy pickled row is a DecodeError naming the row; the TS worker's other results are unaffected", async () => {
    const backend = app.backend as SqlAlchemyBackend;
    await db.query(
      "INSERT INTO celery_taskmeta (id, task_id, status, result) VALUES (nextval('task_id_sequence'), 'garbage-1', 'SUCCESS', '\\x7b6e6f74206a736f6e'::bytea), (nextval('task_id_sequence'), 'pickle-1', 'SUCCESS', '\\x80049505000000000000004b052e'::bytea)",
    );
    const garbage = (await backend.getMeta("garbage-1").catch((e: unknown) => e)) as Error;
    expect(garbage).toBeInstanceOf(DecodeError);
    expect(garbage.message).toContain("task garbage-1");
    const pickled = (await backend.getMeta("pickle-1").catch((e: unknown) => e)) as Error;
    expect(pickled).toBeInstanceOf(DecodeError);
    expect(pickled.message).toMatch(/pickled blob .*PickleType/);
    const ok = await app.sendTask("ts.add", [4, 4], {}, { queue: tsQ });
    expect(await ok.get(T)).toBe(8);
  });
});
