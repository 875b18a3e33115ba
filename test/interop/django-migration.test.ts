/**
 * The walk of examples/django-migration/README.md, end to end: a Django 5.2 project (Celery,
 * django-celery-results, django-celery-beat on PostgreSQL) whose Python worker runs every task,
 * then `shop.tasks.send_receipt` moves to the Node service of node/receipts.ts (same task name,
 * its own queue routed on both sides, `cancel_consumer` on the Python worker), results still in
 * Django's TaskResult table and admin, a schedule made as the admin makes it (a PeriodicTask row
 * through Django's ORM) fires the moved task, and the rollback gives the queue back to Python.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReceiptService, startReceiptService } from "../../examples/django-migration/node/receipts.js";
import { DjangoBeatStore } from "../../src/beat/django-store.js";
import { SolarSchedule } from "../../src/beat/solar.js";
import { createLogger } from "../../src/logging.js";
import {
  type DjangoEnv,
  type DjangoWorker,
  djangoJson,
  djangoManage,
  startDjangoBeat,
  startDjangoWorker,
} from "../support/django.js";
import { allocatePostgresDb, allocateRedisDb, uniqueQueue } from "../support/services.js";

let env: DjangoEnv;
let pyWorker: DjangoWorker;
let service: ReceiptService | null = null;

const serviceEnv = () => ({
  DATABASE_URL: env.databaseUrl,
  CELERY_BROKER_URL: env.brokerUrl,
  RECEIPTS_QUEUE: env.receiptsQueue,
  DEFAULT_QUEUE: env.defaultQueue,
});

beforeAll(async () => {
  env = {
    databaseUrl: (await allocatePostgresDb()).url,
    brokerUrl: (await allocateRedisDb()).url,
    receiptsQueue: uniqueQueue("receipts"),
    defaultQueue: uniqueQueue("shop"),
  };
  await djangoManage(env, "migrate", "--noinput", "-v", "0");
  pyWorker = await startDjangoWorker(env, [env.defaultQueue, env.receiptsQueue]);
});

afterAll(async () => {
  await service?.stop();
  await pyWorker?.stop();
});

/** Sends receipts the way the Django app does (`send_receipt.delay`), waits, returns who ran them. */
const sendReceipts = (orders: number[], control = "") =>
  djangoJson<{ by: string[]; rows: Record<string, unknown>[] }>(
    env,
    `
    from djproj.celery import app
    from shop.tasks import send_receipt
    from django_celery_results.models import TaskResult
    ${control}
    results = [send_receipt.delay(n, "buyer%d@example.com" % n) for n in ${JSON.stringify(orders)}]
    values = [r.get(timeout=30) for r in results]
    rows = [TaskResult.objects.values("task_name", "status", "worker", "task_args").get(task_id=r.id) for r in results]
    emit({"by": [v["by"] for v in values], "rows": rows})
  `,
  );

describe("moving shop.tasks.send_receipt from the Python worker to Node", () => {
  it("step 0: every receipt is sent by the Python worker", async () => {
    const before = await sendReceipts([1, 2]);
    expect(before.by).toEqual(["python", "python"]);
    expect(before.rows.map((r) => r.worker)).toEqual([pyWorker.hostname, pyWorker.hostname]);
  });

  it("steps 1-3: the Node service takes the queue; results stay in Django's admin", async () => {
    service = await startReceiptService(serviceEnv(), { hostname: "receipts-node@localhost" });
    const moved = await sendReceipts(
      [3, 4, 5],
      `app.control.cancel_consumer(${JSON.stringify(env.receiptsQueue)}, destination=[${JSON.stringify(pyWorker.hostname)}], reply=True, timeout=5)`,
    );
    expect(moved.by).toEqual(["node", "node", "node"]);
    expect(moved.rows).toEqual(
      [3, 4, 5].map((n) => ({
        task_name: "shop.tasks.send_receipt",
        status: "SUCCESS",
        worker: "receipts-node@localhost",
        task_args: JSON.stringify(`(${n}, 'buyer${n}@example.com')`),
      })),
    );
    const admin = await djangoJson<{ status: number; listed: boolean }>(
      env,
      `
      from django.contrib.auth.models import User
      from django.test import Client
      from django_celery_results.models import TaskResult
      user = User.objects.create_superuser("admin", "admin@example.com", "pw")
      client = Client()
      client.force_login(user)
      row = TaskResult.objects.filter(worker="receipts-node@localhost").latest("date_done")
      page = client.get("/admin/django_celery_results/taskresult/")
      detail = client.get("/admin/django_celery_results/taskresult/%d/change/" % row.pk)
      emit({"status": page.status_code, "listed": row.task_id in page.content.decode() and detail.status_code == 200
            and "receipts-node@localhost" in detail.content.decode()})
    `,
    );
    expect(admin).toEqual({ status: 200, listed: true });
  });

  it("a schedule made in Django's admin (a PeriodicTask row) fires the moved task on Node", async () => {
    const made = await djangoJson<{ name: string }>(
      env,
      `
      from django_celery_beat.models import IntervalSchedule, PeriodicTask
      every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
      PeriodicTask.objects.create(name="receipt-digest", task="shop.tasks.send_receipt", interval=every,
                                  args="[99, \\"digest@example.com\\"]")
      emit({"name": "receipt-digest"})
    `,
    );
    const beat = await startDjangoBeat(env);
    try {
      const fired = await djangoJson<Record<string, unknown>>(
        env,
        `
        import time
        from django_celery_results.models import TaskResult
        deadline = time.time() + 30
        rows = TaskResult.objects.none()
        while time.time() < deadline:
            rows = TaskResult.objects.filter(periodic_task_name=${JSON.stringify(made.name)}, status="SUCCESS")
            if rows.exists():
                break
            time.sleep(0.5)
        row = rows.first()
        emit(None if row is None else {"worker": row.worker, "result": row.result, "task_name": row.task_name})
      `,
      );
      expect(fired).toEqual({
        worker: "receipts-node@localhost",
        // kombu's json: Python's json.dumps spacing, which the TS serializer writes too.
        result: '{"order": 99, "sent_to": "digest@example.com", "by": "node"}',
        task_name: "shop.tasks.send_receipt",
      });
    } finally {
      await beat.stop();
      await djangoJson(
        env,
        `
        from django_celery_beat.models import PeriodicTask
        PeriodicTask.objects.filter(name="receipt-digest").update(enabled=False)
        emit(True)
      `,
      );
    }
  });

  it("a TS beat on django-celery-beat's tables fires admin-made schedules and keeps Django's run counters", async () => {
    if (!service) throw new Error("the Node service should be running (steps 1-3)");
    await djangoJson(
      env,
      `
      from django_celery_beat.models import IntervalSchedule, PeriodicTask
      every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
      PeriodicTask.objects.create(name="ts-digest", task="shop.tasks.send_receipt", interval=every,
                                  args="[77, \\"ts@example.com\\"]")
      PeriodicTask.objects.create(name="ts-once", task="shop.tasks.send_receipt", interval=every, one_off=True,
                                  args="[78, \\"once@example.com\\"]")
      emit(True)
    `,
    );
    const beat = service.app.beat({
      scheduler: "django_celery_beat.schedulers:DatabaseScheduler",
      maxInterval: 1,
    });
    const running = beat.start();
    try {
      await djangoJson(
        env,
        `
        import time
        from django_celery_beat.models import PeriodicTask
        from django_celery_results.models import TaskResult
        deadline = time.time() + 40
        while time.time() < deadline and (
                TaskResult.objects.filter(periodic_task_name="ts-digest", status="SUCCESS").count() < 2
                or PeriodicTask.objects.get(name="ts-once").enabled):
            time.sleep(0.3)
        emit(True)
      `,
      );
    } finally {
      await beat.stop();
      await running;
    }
    // Beat has stopped: every run Django's counter records must reach the worker and its results.
    const seen = await djangoJson<Record<string, Record<string, unknown>>>(
      env,
      `
      import time
      from django_celery_beat.models import PeriodicTask
      from django_celery_results.models import TaskResult
      digest = PeriodicTask.objects.get(name="ts-digest")
      runs = lambda name: TaskResult.objects.filter(periodic_task_name=name, status="SUCCESS").count()
      deadline = time.time() + 20
      while time.time() < deadline and runs("ts-digest") < digest.total_run_count:
          time.sleep(0.2)
      once = PeriodicTask.objects.get(name="ts-once")
      emit({"digest": {"count": digest.total_run_count, "runs": runs("ts-digest"), "last_run": digest.last_run_at is not None},
            "once": {"enabled": once.enabled, "count": once.total_run_count, "runs": runs("ts-once")},
            "workers": sorted(set(TaskResult.objects.filter(periodic_task_name__startswith="ts-").values_list("worker", flat=True)))})
    `,
    );
    expect(seen.digest?.last_run).toBe(true);
    expect(Number(seen.digest?.count)).toBeGreaterThanOrEqual(2);
    expect(seen.digest?.runs).toBe(seen.digest?.count);
    // one_off: ran once, then disabled with its count reset (ModelEntry.is_due).
    expect(seen.once).toEqual({ enabled: false, count: 0, runs: 1 });
    expect(seen.workers).toEqual(["receipts-node@localhost"]);
  }, 90_000);

  it("a solar row made through Django's ORM is read by the TS beat with Python's next run", async () => {
    // What django-celery-beat's own DatabaseScheduler would compute for the row: PeriodicTask.schedule
    // (SolarSchedule.schedule, Celery's solar with ephem) and its remaining_estimate from last_run_at.
    const py = await djangoJson<{
      event: string;
      lat: string;
      lon: string;
      lastRun: number;
      next: number;
      due: boolean;
    }>(
      env,
      `
      from datetime import timedelta
      from django.utils.timezone import now
      from django_celery_beat.models import PeriodicTask, SolarSchedule
      sun, _ = SolarSchedule.objects.get_or_create(event="sunset", latitude="51.507400", longitude="-0.127800")
      PeriodicTask.objects.create(name="ts-sunset", task="shop.tasks.send_receipt", solar=sun,
                                  args="[79, \\"sun@example.com\\"]", last_run_at=now() - timedelta(hours=30))
      t = PeriodicTask.objects.get(name="ts-sunset")
      before = now()
      remaining = t.schedule.remaining_estimate(t.last_run_at)
      emit({"event": t.solar.event, "lat": str(t.solar.latitude), "lon": str(t.solar.longitude),
            "lastRun": t.last_run_at.timestamp() * 1000, "next": (before + remaining).timestamp() * 1000,
            "due": t.schedule.is_due(t.last_run_at)[0]})
    `,
    );
    const errors: string[] = [];
    const log = createLogger({ level: "warn", destination: { write: (line: string) => errors.push(line) } });
    const store = new DjangoBeatStore({ databaseUrl: env.databaseUrl, log });
    try {
      await store.open([], Date.now());
      const entry = (await store.entries()).get("ts-sunset");
      expect(errors.join("")).not.toContain("ts-sunset");
      expect(entry?.schedule).toBeInstanceOf(SolarSchedule);
      const schedule = entry?.schedule as SolarSchedule;
      expect({ event: schedule.event, lat: schedule.lat, lon: schedule.lon }).toEqual({
        event: py.event,
        lat: Number(py.lat),
        lon: Number(py.lon),
      });
      expect(Math.abs((entry?.lastRunAt ?? 0) - py.lastRun)).toBeLessThan(1);
      const now = Date.now();
      const next = now + schedule.remainingEstimate(entry?.lastRunAt ?? 0, now);
      // suncalc vs ephem: docs/beat.md "Solar" states within 15 s.
      expect(Math.abs(next - py.next)).toBeLessThan(15_000);
      // The last run was 30 hours ago, so a sunset has passed: due now, as Python says.
      expect(schedule.isDue(entry?.lastRunAt ?? 0, now).isDue).toBe(py.due);
      expect(py.due).toBe(true);
    } finally {
      await store.close();
      await djangoJson(
        env,
        `
      from django_celery_beat.models import PeriodicTask
      PeriodicTask.objects.filter(name="ts-sunset").delete()
      emit(True)
    `,
      );
    }
  }, 60_000);

  it("rollback: the Python worker consumes the queue again and the Node service stops", async () => {
    const back = await sendReceipts(
      [6],
      `app.control.add_consumer(${JSON.stringify(env.receiptsQueue)}, destination=[${JSON.stringify(pyWorker.hostname)}], reply=True, timeout=5)`,
    );
    // Both consume the queue now; stop Node and everything goes to Python.
    expect(["node", "python"]).toContain(back.by[0]);
    await service?.stop();
    service = null;
    const after = await sendReceipts([7, 8]);
    expect(after.by).toEqual(["python", "python"]);
  });
});
