/**
 * django-celery-results 2.6 (`backend: "django-db"`) on PostgreSQL, with the example project of
 * examples/django-migration (Django 5.2, migrated by `manage.py migrate`, its own Celery worker)
 * and a TS worker in this process: the rows a TS worker writes are the rows the Python worker
 * writes for the same task (read through Django's ORM), each side's AsyncResult reads the
 * other's, groups cross both ways, and chords join through the ChordCounter with header parts on
 * both workers, the body fired once.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { DjangoDbBackend } from "../../src/backends/database/django-db.js";
import { chord, type Signature, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import { DatabaseError, DecodeError, RemoteTaskError } from "../../src/index.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import {
  type DjangoEnv,
  type DjangoWorker,
  djangoJson,
  djangoManage,
  startDjangoWorker,
} from "../support/django.js";
import { allocatePostgresDb, allocateRedisDb, uniqueQueue } from "../support/services.js";

let env: DjangoEnv;
let pyWorker: DjangoWorker;
let app: Celery;
let tsWorker: Worker;
const tsQ = uniqueQueue("djts");
const bodyRuns: unknown[][] = [];
const T = { timeout: 30_000 };

const ts = (name: string, ...args: unknown[]): Signature =>
  s(`shop.tasks.${name}`, ...args).set({ queue: tsQ });
const py = (name: string, ...args: unknown[]): Signature =>
  s(`shop.tasks.${name}`, ...args).set({ queue: env.defaultQueue });

beforeAll(async () => {
  env = {
    databaseUrl: (await allocatePostgresDb()).url,
    brokerUrl: (await allocateRedisDb()).url,
    receiptsQueue: uniqueQueue("receipts"),
    defaultQueue: uniqueQueue("djpy"),
  };
  await djangoManage(env, "migrate", "--noinput", "-v", "0");
  pyWorker = await startDjangoWorker(env, [env.defaultQueue]);
  app = new Celery({
    broker: env.brokerUrl,
    backend: "django-db",
    databaseUrl: env.databaseUrl,
    resultExtended: true,
    taskDefaultQueue: env.defaultQueue,
  });
  app.task("shop.tasks.add", (_ctx, x: number, y: number) => x + y);
  app.task("shop.tasks.fail", (_ctx, message: string) => {
    throw new PythonError("ValueError", [message]);
  });
  app.task("shop.tasks.total", (_ctx, values: number[]) => {
    bodyRuns.push(values);
    return values.reduce((a, b) => a + b, 0);
  });
  tsWorker = app.worker({ queues: [tsQ], concurrency: 4, hostname: "django-ts@localhost" });
  await tsWorker.start();
});

afterAll(async () => {
  await tsWorker?.close({ timeoutMs: 5000 });
  await app?.close();
  await pyWorker?.stop();
});

/** TaskResult rows as Django's ORM reads them. */
async function taskResults(ids: string[]): Promise<Record<string, Record<string, unknown>>> {
  return djangoJson(
    env,
    `
    from django_celery_results.models import TaskResult
    rows = {}
    for r in TaskResult.objects.filter(task_id__in=${JSON.stringify(ids)}):
        rows[r.task_id] = {"status": r.status, "content_type": r.content_type, "content_encoding": r.content_encoding,
            "result": r.result, "meta": r.meta, "task_name": r.task_name, "task_args": r.task_args,
            "task_kwargs": r.task_kwargs, "worker": r.worker, "periodic_task_name": r.periodic_task_name,
            "traceback": r.traceback is not None, "date_done": r.date_done is not None,
            "date_created": r.date_created is not None, "date_started": r.date_started is not None}
    emit(rows)
  `,
  );
}

describe("django-db result backend", () => {
  it("TS rows are the Python worker's rows for the same tasks, and each side reads the other's", async () => {
    const tsOk = await app.sendTask("shop.tasks.add", [2, 3], {}, { queue: tsQ });
    const pyOk = await app.sendTask("shop.tasks.add", [2, 3], {}, { queue: env.defaultQueue });
    const tsBad = await app.sendTask("shop.tasks.fail", ["nope"], {}, { queue: tsQ });
    const pyBad = await app.sendTask("shop.tasks.fail", ["nope"], {}, { queue: env.defaultQueue });
    expect(await tsOk.get(T)).toBe(5);
    expect(await pyOk.get(T)).toBe(5); // a Python worker's row, read by TS (polling)
    await expect(tsBad.get(T)).rejects.toBeInstanceOf(RemoteTaskError);
    const pyErr = (await pyBad.get(T).catch((e: unknown) => e)) as RemoteTaskError;
    expect(pyErr.excType).toBe("ValueError");
    const rows = await taskResults([tsOk.id, pyOk.id, tsBad.id, pyBad.id]);
    const sameBut = (r: Record<string, unknown> | undefined) => ({ ...r, worker: typeof r?.worker });
    expect(sameBut(rows[tsOk.id])).toEqual(sameBut(rows[pyOk.id]));
    expect(sameBut(rows[tsBad.id])).toEqual(sameBut(rows[pyBad.id]));
    expect(rows[tsOk.id]).toMatchObject({
      worker: "django-ts@localhost",
      task_args: '"(2, 3)"',
      result: "5",
    });
    expect(rows[tsBad.id]?.traceback).toBe(true);
    const seen = await djangoJson<Record<string, Record<string, unknown>>>(
      env,
      `
      from djproj.celery import app
      def describe(ok_id, bad_id):
          ok, bad = app.AsyncResult(ok_id), app.AsyncResult(bad_id)
          try:
              bad.get(timeout=10)
              raised = None
          except Exception as exc:
              raised = [type(exc).__name__, list(exc.args)]
          return {"ok": ok.get(timeout=10), "state": ok.state, "args": ok.args, "kwargs": ok.kwargs,
                  "children": ok.children, "raised": raised, "traceback": bad.traceback is not None}
      emit({"ts": describe(${JSON.stringify(tsOk.id)}, ${JSON.stringify(tsBad.id)}),
            "py": describe(${JSON.stringify(pyOk.id)}, ${JSON.stringify(pyBad.id)})})
    `,
    );
    expect(seen.ts).toEqual(seen.py);
    expect(seen.ts).toMatchObject({ ok: 5, state: "SUCCESS", raised: ["ValueError", ["nope"]] });
  });

  it("groups saved on one side are restored on the other", async () => {
    const a = await app.sendTask("shop.tasks.add", [1, 2], {}, { queue: tsQ });
    await a.get(T);
    const gid = uniqueQueue("g");
    await app.backend?.saveGroup(gid, [[gid, null], [[[a.id, null], null]]]);
    const fromPy = await djangoJson<{ restored: unknown; saved: { id: string; ids: string[] } }>(
      env,
      `
      from celery import group
      from djproj.celery import app
      g = app.GroupResult.restore(${JSON.stringify(gid)})
      restored = {"id": g.id, "ids": [r.id for r in g.results], "values": g.get(timeout=10)}
      p = group(app.signature("shop.tasks.add", (i, i), queue=${JSON.stringify(env.defaultQueue)}) for i in range(2)).apply_async()
      p.get(timeout=20)
      p.save()
      emit({"restored": restored, "saved": {"id": p.id, "ids": [r.id for r in p.results]}})
    `,
    );
    expect(fromPy.restored).toEqual({ id: gid, ids: [a.id], values: [3] });
    expect(await app.backend?.restoreGroup(fromPy.saved.id)).toEqual([
      [fromPy.saved.id, null],
      fromPy.saved.ids.map((id) => [[id, null], null]),
    ]);
  });

  it("a chord with header parts on both workers joins through the ChordCounter and fires its body once", async () => {
    bodyRuns.length = 0;
    const result = await applyAsync(
      app,
      chord([ts("add", 1, 1), py("add", 2, 2), ts("add", 3, 3)], ts("total")),
    );
    expect(await result.get(T)).toBe(12);
    const fromPy = await djangoJson<{ value: number; counters: number }>(
      env,
      `
      from celery import chord
      from djproj.celery import app
      from django_celery_results.models import ChordCounter
      header = [app.signature("shop.tasks.add", (5, 5), queue=${JSON.stringify(tsQ)}),
                app.signature("shop.tasks.add", (6, 6), queue=${JSON.stringify(env.defaultQueue)})]
      r = chord(header)(app.signature("shop.tasks.total", queue=${JSON.stringify(env.defaultQueue)}))
      emit({"value": r.get(timeout=20), "counters": ChordCounter.objects.count()})
    `,
    );
    expect(fromPy).toEqual({ value: 22, counters: 0 });
    expect(bodyRuns).toEqual([[2, 4, 6]]);
  });

  it("a failed header part fails the body with a ChordError", async () => {
    const result = await applyAsync(app, chord([ts("fail", "boom"), py("add", 1, 1)], ts("total")));
    const err = (await result.get(T).catch((e: unknown) => e)) as RemoteTaskError;
    expect(err.excType).toBe("ChordError");
    // What django-celery-results' trigger_callback stores (see joinResults).
    expect(err.message).toBe("celery.exceptions.ChordError: ValueError('boom')");
  });

  it("a malformed row is a DecodeError naming it; missing tables say to run migrate", async () => {
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    await db.query(
      `INSERT INTO django_celery_results_taskresult (task_id, status, content_type, content_encoding, result, date_created, date_done)
       VALUES ('bad-row-1', 'SUCCESS', 'application/json', 'utf-8', '{not json', now(), now())`,
    );
    await db.end();
    const err = (await (app.backend as DjangoDbBackend)
      .getMeta("bad-row-1")
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DecodeError);
    expect(err.message).toContain("task bad-row-1");
    const empty = new Celery({
      broker: env.brokerUrl,
      backend: "django-db",
      databaseUrl: (await allocatePostgresDb()).url,
    });
    const missing = (await empty.backend?.getMeta("x").catch((e: unknown) => e)) as Error;
    await empty.close();
    expect(missing).toBeInstanceOf(DatabaseError);
    expect(missing.message).toMatch(/manage\.py migrate django_celery_results/);
  });
});
