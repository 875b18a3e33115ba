/**
 * Failover under load (issue 16, item 5), the part both brokers share: a TS producer sends N
 * `interop.record` tasks (each run RPUSHes its index to a list on a Redis that is not part of the
 * failover) plus a few countdown tasks, a broker node fails once a third of them are sent, and
 * then every task must have run at least once, every result must be SUCCESS as Python's
 * `backend.get_task_meta` reads it, and the countdown tasks must have run at or after their ETA.
 * Lost and duplicated runs are counted and printed.
 *
 * The producer re-sends a task whose publish failed during the failover with the SAME task id
 * (what an application does with a failed `send_task`); such re-sends are counted too.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { Celery } from "../../src/app.js";
import { type CeleryEnvOptions, pythonJson } from "./celery.js";
import { makeTempDir } from "./ports.js";

/** Tasks sent in `npm test`; the full figure (issue 16: 10 000) via CELERIAC_FAILOVER_TASKS. */
export const FAILOVER_TASKS = Number(process.env.CELERIAC_FAILOVER_TASKS ?? 2000);

export interface FailoverLoadOptions {
  producer: Celery;
  /** Redis holding the run list (not the one failing over). */
  recorder: Redis;
  runsKey: string;
  total: number;
  /** Publishes in flight at once. */
  window?: number;
  /** Starts the failure; resolves when the broker serves again (the time is reported). */
  fail(): Promise<void>;
  countdownTasks: number;
  countdownSeconds: number;
  /** How Python reaches the result backend (backendUrl and its settings). */
  python: CeleryEnvOptions;
  /** Longest wait for every task to have run, ms. */
  drainTimeoutMs?: number;
  /**
   * Stop waiting once no task has run for this long, ms (longer than the visibility timeout plus
   * a restore sweep, so a restored message still counts); default: wait the whole drainTimeoutMs.
   */
  quietMs?: number;
}

export interface FailoverFigures {
  /** The task ids sent, in order. */
  ids: string[];
  sent: number;
  runs: number;
  ran: number;
  lost: number;
  duplicates: number;
  resends: number;
  recoverMs: number;
  drainMs: number;
  notSucceeded: string[];
  /** Ids of the tasks that never ran. */
  missingIds: string[];
  countdownLateMs: number[];
  countdownMissing: number;
}

async function sendWithRetry(
  producer: Celery,
  task: string,
  args: unknown[],
  options: Record<string, unknown>,
  onResend: () => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await producer.sendTask(task, args, null, options);
      return;
    } catch (err) {
      if (attempt >= 60) throw err;
      onResend();
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Python's view of the results: ids whose meta is not SUCCESS. */
async function pythonReads(
  ids: string[],
  countdownIds: string[],
  python: CeleryEnvOptions,
): Promise<{ notSucceeded: string[] }> {
  const file = join(makeTempDir("failover"), "ids.json");
  writeFileSync(file, JSON.stringify({ ids, countdownIds }));
  return pythonJson(
    `
import json, time
from interop_app import app, emit
data = json.load(open(${JSON.stringify(file)}))
pending = data["ids"] + data["countdownIds"]
deadline = time.time() + 30
while pending and time.time() < deadline:
    pending = [i for i in pending if app.backend.get_task_meta(i)["status"] != "SUCCESS"]
    if pending:
        time.sleep(0.5)
emit({"notSucceeded": pending})
`,
    { ...python, timeoutMs: 180_000 },
  );
}

export async function runFailoverLoad(o: FailoverLoadOptions): Promise<FailoverFigures> {
  const window = o.window ?? 200;
  const ids = Array.from({ length: o.total }, () => randomUUID());
  let resends = 0;
  let failure: Promise<number> | null = null;
  const countdownIds = Array.from({ length: o.countdownTasks }, () => randomUUID());
  const etas: number[] = [];
  for (let start = 0; start < o.total; start += window) {
    const end = Math.min(o.total, start + window);
    await Promise.all(
      ids
        .slice(start, end)
        .map((id, k) =>
          sendWithRetry(
            o.producer,
            "interop.record",
            [String(start + k), o.runsKey],
            { taskId: id },
            () => (resends += 1),
          ),
        ),
    );
    if (failure === null && end >= o.total / 3) {
      // Countdown tasks scheduled before the failover, due after it.
      for (const [k, id] of countdownIds.entries()) {
        etas.push(Date.now() + o.countdownSeconds * 1000);
        await sendWithRetry(
          o.producer,
          "interop.record_at",
          [`c${k}`, o.runsKey],
          { taskId: id, countdown: o.countdownSeconds },
          () => (resends += 1),
        );
      }
      const failedAt = Date.now();
      failure = o.fail().then(() => Date.now() - failedAt);
    }
  }
  const recoverMs = await (failure ?? Promise.resolve(0));
  const drainStart = Date.now();
  const expected = o.total + o.countdownTasks;
  const drainDeadline = drainStart + (o.drainTimeoutMs ?? 240_000);
  let tags: string[] = [];
  let lastChange = Date.now();
  for (;;) {
    const before = tags.length;
    tags = await o.recorder.lrange(o.runsKey, 0, -1);
    if (tags.length !== before) lastChange = Date.now();
    if (new Set(tags).size >= expected || Date.now() > drainDeadline) break;
    if (o.quietMs !== undefined && Date.now() - lastChange > o.quietMs) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const drainMs = Date.now() - drainStart;
  const ranTags = new Set(tags.filter((t) => !t.startsWith("c")));
  const ran = ranTags.size;
  const missingIds = ids.filter((_, i) => !ranTags.has(String(i)));
  const countdownRan = new Set(tags.filter((t) => t.startsWith("c"))).size;
  const read = await pythonReads(ids, countdownIds, o.python);
  // When each countdown task FIRST ran (interop.record_at: HSETNX by the worker that ran it); a
  // result's date_done would be the last run's, moved by any re-run after a restore.
  const firstRunAt = await o.recorder.hgetall(`${o.runsKey}:at`);
  const countdownLateMs = countdownIds.flatMap((_, k) => {
    const at = firstRunAt[`c${k}`];
    return at === undefined ? [] : [Math.round(Number(at) * 1000 - (etas[k] ?? 0))];
  });
  return {
    ids,
    sent: o.total,
    runs: tags.length,
    ran,
    lost: o.total - ran,
    duplicates: tags.length - new Set(tags).size,
    resends,
    recoverMs,
    drainMs,
    notSucceeded: read.notSucceeded,
    missingIds,
    countdownLateMs,
    countdownMissing: o.countdownTasks - countdownRan,
  };
}

export function describeFigures(broker: string, f: FailoverFigures): string {
  const late =
    f.countdownLateMs.length > 0
      ? `${Math.min(...f.countdownLateMs)}..${Math.max(...f.countdownLateMs)} ms`
      : "-";
  return (
    `[failover load] ${broker}: sent ${f.sent}, ran ${f.ran}, lost ${f.lost}, duplicate runs ${f.duplicates}, ` +
    `re-sent after a failed publish ${f.resends}, broker back ${f.recoverMs} ms after the failure, ` +
    `all run ${f.drainMs} ms after the last send, results not SUCCESS in Python ${f.notSucceeded.length}, ` +
    `countdown tasks missing ${f.countdownMissing}, first ran after their ETA by ${late}`
  );
}

/**
 * The TS worker's `interop.record` and `interop.record_at`, as python-interop/app/interop_app.py
 * defines them, also counting the TS worker's runs under `<key>:ts` and their ids under
 * `<key>:tsids` (which worker ran a task).
 */
export function registerRecordTasks(app: Celery, recorder: Redis): void {
  const record = async (id: string, tag: string, key: string) => {
    await recorder.incr(`${key}:ts`);
    await recorder.sadd(`${key}:tsids`, id);
    return recorder.rpush(key, tag);
  };
  app.task("interop.record", (ctx, tag: string, key: string) => record(ctx.id, tag, key));
  app.task("interop.record_at", async (ctx, tag: string, key: string) => {
    await recorder.hsetnx(`${key}:at`, tag, String(Date.now() / 1000));
    return record(ctx.id, tag, key);
  });
}
