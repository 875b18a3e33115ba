/**
 * Issue 13 item 7: every inspect/control reply of a TS worker equals a Python 5.7 worker's for the
 * same state, on Redis and on RabbitMQ. One Python `app.control` call goes to both workers at once
 * (destination = both), so
 * each command is answered by both in the same test, and the replies are compared after replacing
 * only what differs per process (see `normalise`).
 *
 * Same state: the TS worker registers exactly the task names the Python worker reports, has the
 * same settings as python-interop/app/interop_app.py, consumes one queue, concurrency 1, prefetch
 * multiplier 1; each worker holds one ETA task (scheduled), one running `interop.sleep` (active) and
 * one `interop.add` behind it (reserved).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { until } from "../support/ops-tasks.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

/** A Python `datetime.isoformat()` of an aware UTC datetime. */
const PY_ISOFORMAT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/;

/** The whole comparison on one broker: its own workers, queues and node names. */
function repliesSuite(transport: "redis" | "amqp"): void {
  let broker: string;
  let backend: string;
  let app: Celery;
  let ts: Worker;
  let py: CeleryWorker;
  const pyQueue = uniqueQueue(`replies-py-${transport}`);
  const tsQueue = uniqueQueue(`replies-ts-${transport}`);
  const tsHost = `replies-ts-${transport}-${process.pid}@localhost`;
  /** Per side: the ids of its scheduled, active and reserved task. */
  let ids: Record<"py" | "ts", { eta: string; sleep: string; add: string }>;

  /** Runs `body` (Python, with `i` = inspect of both workers and `both` = their names) and returns its emit. */
  function askBoth<T = Record<string, unknown>>(body: string): Promise<T> {
    return pythonJson<T>(
      `
  import math
  from interop_app import app, emit
  both = [${JSON.stringify(py.hostname)}, ${JSON.stringify(tsHost)}]
  i = app.control.inspect(destination=both, timeout=3)
  def jsonable(value):
      # JSON has no Infinity; both sides' values go through this alike.
      if isinstance(value, float) and math.isinf(value):
          return "inf"
      if isinstance(value, dict):
          return {k: jsonable(v) for k, v in value.items()}
      if isinstance(value, (list, tuple)):
          return [jsonable(v) for v in value]
      return value
  def by_host(replies):
      # control replies come as [{host: reply}, ...]; inspect replies as {host: reply}.
      if isinstance(replies, list):
          merged = {}
          for one in replies:
              merged.update(one)
          replies = merged
      return jsonable(replies or {})
  ${body}
  `,
      { brokerUrl: broker, backendUrl: backend },
    );
  }

  /**
   * Replaces what differs per process, and nothing else: the node names, the queue names (each
   * worker consumes its own), the task ids (each worker runs its own three tasks, also inside reply
   * texts), pids and times (`time_start`, `worker_pid`, and the `eta` of the ETA task, sent a few
   * milliseconds apart to each: checked to be Python's isoformat first).
   */
  function normalise(value: unknown, side: "py" | "ts"): unknown {
    const host = side === "py" ? py.hostname : tsHost;
    const queue = side === "py" ? pyQueue : tsQueue;
    const own = ids[side];
    const names: Record<string, string> = {
      [host]: "<host>",
      [queue]: "<queue>",
      [own.eta]: "<eta-task>",
      [own.sleep]: "<sleep-task>",
      [own.add]: "<add-task>",
    };
    const walk = (v: unknown, key: string | null): unknown => {
      if (key === "time_start" || key === "worker_pid") return v === null ? null : `<${key}>`;
      if (key === "eta" && typeof v === "string") return PY_ISOFORMAT.test(v) ? "<isoformat>" : v;
      if (typeof v === "string") {
        let out = v;
        for (const [from, to] of Object.entries(names)) out = out.replaceAll(from, to);
        return out;
      }
      if (Array.isArray(v)) return v.map((x) => walk(x, null));
      if (v !== null && typeof v === "object") {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [names[k] ?? k, walk(x, k)]));
      }
      return v;
    };
    return walk(value, null);
  }

  /** `replies[py]` and `replies[ts]`, normalised; fails when either worker did not answer. */
  function pair(replies: Record<string, unknown>): { py: unknown; ts: unknown } {
    expect(Object.keys(replies).sort()).toEqual([py.hostname, tsHost].sort());
    return { py: normalise(replies[py.hostname], "py"), ts: normalise(replies[tsHost], "ts") };
  }

  beforeAll(async () => {
    broker = transport === "redis" ? (await allocateRedisDb()).url : await amqpUrl();
    backend = (await allocateRedisDb()).url;
    py = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [pyQueue],
      pool: "prefork",
      concurrency: 1,
    });
    // interop_app.py's settings, as a TS app states them.
    app = new Celery({
      broker,
      backend,
      taskDefaultQueue: "celery",
      taskSerializer: "json",
      resultSerializer: "json",
      acceptContent: ["json", "msgpack", "yaml"],
      resultAcceptContent: ["json", "msgpack", "yaml"],
      resultExtended: true,
      brokerConnectionRetryOnStartup: true,
      workerPrefetchMultiplier: 1,
    });
    const registered = await pythonJson<Record<string, string[]>>(
      `
  from interop_app import app, emit
  emit(app.control.inspect(destination=[${JSON.stringify(py.hostname)}], timeout=3).registered("acks_late"))
  `,
      { brokerUrl: broker, backendUrl: backend },
    );
    for (const entry of registered[py.hostname] ?? []) {
      // "name [acks_late=True]": the same task options as the Python worker's.
      const [name = entry, attrs = ""] = entry.split(" [");
      app.task(
        name,
        (ctx, ...args: unknown[]) =>
          name === "interop.sleep"
            ? new Promise((resolve, reject) => {
                const timer = setTimeout(() => resolve(args[0]), Number(args[0]) * 1000);
                ctx.signal.addEventListener("abort", () => {
                  clearTimeout(timer);
                  reject(ctx.signal.reason);
                });
              })
            : (args[0] as number) + (args[1] as number),
        { acksLate: attrs.includes("acks_late=True") },
      );
    }
    ts = app.worker({ queues: [tsQueue], hostname: tsHost, concurrency: 1, withoutMingle: true });
    await ts.start();
    // The same three tasks on each worker, in this order (the ETA one first: an ETA task raises
    // the prefetch, so it is fetched whatever the others hold).
    ids = await pythonJson(
      `
  from interop_app import app, emit
  out = {}
  for side, queue in (("py", ${JSON.stringify(pyQueue)}), ("ts", ${JSON.stringify(tsQueue)})):
      eta = app.send_task("interop.add", (1, 2), queue=queue, countdown=600)
      sleep = app.send_task("interop.sleep", (60,), queue=queue)
      add = app.send_task("interop.add", (2, 3), queue=queue)
      out[side] = {"eta": eta.id, "sleep": sleep.id, "add": add.id}
  emit(out)
  `,
      { brokerUrl: broker, backendUrl: backend },
    );
    await until("both workers holding their three tasks", async () => {
      const held = await askBoth<Record<string, number>>(`
  emit({host: len(v) for host, v in by_host(i.query_task(*${JSON.stringify([...Object.values(ids.py), ...Object.values(ids.ts)])})).items()})
  `);
      return held[py.hostname] === 3 && held[tsHost] === 3;
    });
  }, 120_000);

  afterAll(async () => {
    await ts?.close({ timeoutMs: 2000 });
    // Its one process runs interop.sleep(60): a warm stop would wait for it.
    await py?.kill();
    await app?.close();
  });

  describe("replies", () => {
    it("ping, clock shape, registered (plain and with taskinfoitems), revoked", async () => {
      const r = await askBoth<Record<string, Record<string, unknown>>>(`
  emit({
    "ping": by_host(i.ping()),
    "registered": by_host(i.registered()),
    "registered_items": by_host(i.registered("name", "rate_limit", "acks_late", "ignore_result", "max_retries", "default_retry_delay", "serializer", "track_started", "time_limit", "soft_time_limit", "priority")),
    "revoked": by_host(i.revoked()),
  })
  `);
      for (const command of ["ping", "registered", "registered_items", "revoked"]) {
        const { py: p, ts: t } = pair(r[command] as Record<string, unknown>);
        expect(t, command).toEqual(p);
      }
      expect(String((r.registered_items?.[py.hostname] as string[] | undefined)?.[0])).toMatch(
        /^\S+ \[name=\S+ /,
      );
    });

    it("active, reserved, scheduled and query_task list the same requests", async () => {
      const r = await askBoth<Record<string, Record<string, unknown>>>(`
  emit({
    "active": by_host(i.active()),
    "active_safe": by_host(i.active(safe=True)),
    "reserved": by_host(i.reserved()),
    "scheduled": by_host(i.scheduled()),
    "query_task": by_host(i.query_task(*${JSON.stringify([...Object.values(ids.py), ...Object.values(ids.ts)])})),
  })
  `);
      for (const command of ["active", "active_safe", "reserved", "scheduled", "query_task"]) {
        const { py: p, ts: t } = pair(r[command] as Record<string, unknown>);
        expect(t, command).toEqual(p);
      }
    });

    it("active_queues: kombu's Queue.as_dict(recurse=True)", async () => {
      const r = await askBoth(`emit(by_host(i.active_queues()))`);
      const { py: p, ts: t } = pair(r);
      expect(t).toEqual(p);
    });

    it("stats: Celery's keys and value kinds; broker, prefetch_count and total equal", async () => {
      const r = await askBoth(`emit(by_host(i.stats()))`);
      const { py: p, ts: t } = pair(r) as { py: Record<string, unknown>; ts: Record<string, unknown> };
      // Per process: pid, uptime, clock, resource usage, pool child pids. The pool implementation
      // differs truly (Python's prefork pool, Celeriac's in-process async pool), and with it
      // `writes` (prefork's pipe-write counters; the async pool writes to no pipe: "N/A", which
      // Celery itself reports when a pool has no counters).
      const perProcess = (stats: Record<string, unknown>) => {
        const pool = stats.pool as Record<string, unknown>;
        return {
          ...stats,
          pid: typeof stats.pid,
          uptime: typeof stats.uptime,
          clock: /^\d+$/.test(String(stats.clock)),
          rusage: Object.entries(stats.rusage as Record<string, unknown>).map(([k, v]) => [k, typeof v]),
          pool: {
            ...pool,
            implementation: typeof pool.implementation,
            processes: (pool.processes as unknown[]).map((pid) => typeof pid),
            writes: "<per pool>",
          },
        };
      };
      expect(Object.keys(t)).toEqual(Object.keys(p));
      expect(perProcess(t)).toEqual(perProcess(p));
      expect(t.pool).toMatchObject({ implementation: "celeriac:async", writes: "N/A" });
      expect(typeof (p.pool as Record<string, unknown>).writes).toBe("object");
    });

    it("conf (with_defaults=False) and report: the settings given, censored, in Celery's layout", async () => {
      const r = await askBoth<Record<string, Record<string, unknown>>>(`
  emit({"conf": by_host(i.conf()), "conf_defaults": by_host(i.conf(with_defaults=True)), "report": by_host(i.report())})
  `);
      const conf = pair(r.conf as Record<string, unknown>) as {
        py: Record<string, unknown>;
        ts: Record<string, unknown>;
      };
      // `include` lists the Python modules the Python worker imported; a TS worker imports none.
      const { include, ...pyConf } = conf.py;
      expect([...(include as string[])].sort()).toEqual(["celery.app.builtins", "interop_app"]);
      expect(Object.keys(conf.ts)).toEqual(Object.keys(pyConf));
      expect(conf.ts).toEqual(pyConf);
      // with_defaults=True: Celery's whole table, same keys in the same order, same values but
      // `include` again.
      const full = pair(r.conf_defaults as Record<string, unknown>) as {
        py: Record<string, unknown>;
        ts: Record<string, unknown>;
      };
      expect(Object.keys(full.ts)).toEqual(Object.keys(full.py));
      expect(full.ts.include).toEqual([]);
      expect({ ...full.ts, include: "<modules>" }).toEqual({ ...full.py, include: "<modules>" });
      expect(full.ts.result_backend_max_retries).toBe("inf");
      const report = pair(r.report as Record<string, unknown>) as { py: { ok: string }; ts: { ok: string } };
      const lines = (text: string) => text.split("\n");
      const pyLines = lines(report.py.ok);
      const tsLines = lines(report.ts.ok);
      // Versions and platform differ per runtime; the layout (each line's label) and the settings do not.
      const label = (line: string) =>
        line.startsWith(" ")
          ? line.replace(/^(\s+)(kernel version:)?.*$/, "$1$2")
          : line.replace(/->.*$/, "->");
      const head = 7;
      expect(tsLines.slice(0, head).map(label)).toEqual(pyLines.slice(0, head).map(label));
      expect(tsLines[0]).toBe("");
      expect(tsLines[1]).toMatch(/^software -> celery:5\.7 \(celeriac \S+\) node:\S+$/);
      expect(tsLines[6]).toBe(pyLines[6]);
      const pySettings = pyLines.slice(head);
      const includeAt = pySettings.findIndex((l) => l.startsWith("include:"));
      expect(includeAt).toBeGreaterThan(0);
      expect(tsLines.slice(head)).toEqual([...pySettings.slice(0, includeAt), ""]);
    });

    it("control commands answer Python's texts", async () => {
      const r = await askBoth<Record<string, Record<string, unknown>>>(`
  c = app.control
  kw = {"reply": True, "destination": both, "timeout": 3}
  emit({
    "rate_limit": by_host(c.rate_limit("interop.add", "5/s", **kw)),
    "rate_limit_bad": by_host(c.rate_limit("interop.add", "x/y", **kw)),
    "rate_limit_unknown": by_host(c.rate_limit("no.such.task", "1/s", **kw)),
    "rate_limit_off": by_host(c.rate_limit("interop.add", None, **kw)),
    "time_limit": by_host(c.time_limit("interop.add", soft=10, hard=20, **kw)),
    "time_limit_unknown": by_host(c.time_limit("no.such.task", soft=1, **kw)),
    "enable_events": by_host(c.enable_events(**kw)),
    "disable_events": by_host(c.disable_events(**kw)),
    "disable_again": by_host(c.disable_events(**kw)),
    "heartbeat": by_host(c.heartbeat(**kw)),
    "add_consumer": by_host(c.add_consumer("replies-extra", **kw)),
    "cancel_consumer": by_host(c.cancel_consumer("replies-extra", **kw)),
    # The one slot runs interop.sleep: shrinking fails on both ("All processes busy!").
    "pool_shrink_busy": by_host(c.pool_shrink(1, **kw)),
    "pool_grow": by_host(c.pool_grow(1, **kw)),
    "autoscale": by_host(c.autoscale(3, 1, **kw)),
    "pool_restart": by_host(c.pool_restart(**kw)),
    # One id (a set of several prints in Python's per-process hash order).
    "revoke": by_host(c.revoke("replies-revoked-${process.pid}", **kw)),
    "revoke_terminate_unknown": by_host(c.revoke("replies-unknown-${process.pid}", terminate=True, **kw)),
    "unknown": by_host(c.broadcast("no_such_command", **kw)),
  })
  `);
      const both = Object.entries(r).map(([command, replies]) => ({ command, ...pair(replies) }));
      expect(both.map(({ command, ts: t }) => ({ command, reply: t }))).toEqual(
        both.map(({ command, py: p }) => ({ command, reply: p })),
      );
    });
  });
}

describe("inspect/control replies: TS worker == Python 5.7 worker (Redis)", () => repliesSuite("redis"));
describe("inspect/control replies: TS worker == Python 5.7 worker (RabbitMQ)", () => repliesSuite("amqp"));
