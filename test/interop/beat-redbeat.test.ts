/**
 * RedBeat interop against a real Python RedBeat (celery-redbeat 2.4.2 on Celery 5.7, its own
 * pinned venv) on real Redis: both beats use one schema (entry hashes, `redbeat::schedule`,
 * `redbeat::statics`, `redbeat::lock`), only the lock holder sends, either takes over from the
 * other within the lock timeout after a SIGKILL, each reads the entries the other wrote, and a
 * lost lock stops the TS beat from sending. The beats send to a queue nobody consumes, so the
 * queue list is the record of who sent what (the `origin` header names the sending process).
 */
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BeatProcess,
  type QueuedMessage,
  queuedMessages,
  startPythonBeat,
  startTsBeat,
} from "../support/beat.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const LOCK_TIMEOUT = 3;
let url: string;
let redis: Redis;
const started: BeatProcess[] = [];

beforeEach(async () => {
  ({ url } = await allocateRedisDb());
  redis = new Redis(url);
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((b) => b.kill().catch(() => {})));
  redis.disconnect();
});

function pythonConfig(schedule: Record<string, unknown>) {
  return {
    redbeat_redis_url: url,
    redbeat_lock_timeout: LOCK_TIMEOUT,
    beat_max_loop_interval: 1,
    timezone: "UTC",
    beat_schedule: schedule,
  };
}

function tsConfig(schedule: Record<string, unknown>) {
  return {
    broker: url,
    redbeatRedisUrl: url,
    redbeatLockTimeout: LOCK_TIMEOUT,
    beatMaxLoopInterval: 1,
    beatScheduler: "redbeat.RedBeatScheduler",
    timezone: "UTC",
    beatSchedule: schedule,
  };
}

async function python(schedule: Record<string, unknown>): Promise<BeatProcess> {
  const beat = await startPythonBeat({
    brokerUrl: url,
    venv: "beat",
    scheduler: "redbeat.RedBeatScheduler",
    maxInterval: 1,
    config: pythonConfig(schedule),
  });
  started.push(beat);
  return beat;
}

async function ts(schedule: Record<string, unknown>): Promise<BeatProcess> {
  const beat = await startTsBeat({ config: tsConfig(schedule) });
  started.push(beat);
  return beat;
}

async function waitForMessages(queue: string, count: number, what: string): Promise<QueuedMessage[]> {
  await waitUntil(what, async () => (await redis.llen(queue)) >= count, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  return queuedMessages(redis, queue);
}

/** Who sent each message, in order, with runs of the same sender collapsed: ["py", "ts"]. */
function senders(messages: QueuedMessage[], pythonPid: number | undefined): string[] {
  const who = messages.map((m) =>
    m.headers.origin === `gen${pythonPid}@${String(m.headers.origin).split("@")[1]}` ? "py" : "ts",
  );
  return who.filter((w, i) => i === 0 || who[i - 1] !== w);
}

async function runCount(name: string): Promise<number> {
  const meta = JSON.parse((await redis.hget(`redbeat:${name}`, "meta")) ?? "{}") as {
    total_run_count?: number;
  };
  return meta.total_run_count ?? 0;
}

describe("RedBeat: Python RedBeat 2.4 and TS beat on one Redis schedule", { timeout: 90_000 }, () => {
  it("only the lock holder sends; TS takes over after the Python beat is SIGKILLed; no run sent twice", async () => {
    const queue = uniqueQueue("redbeat-takeover");
    const entry = { tick: { task: "proj.tick", schedule: 1, options: { queue } } };
    const py = await python(entry);
    await py.waitFor(/beat: Acquired lock/);
    await waitForMessages(queue, 2, "python sends");
    const tsBeat = await ts(entry);
    await tsBeat.waitFor(/is held by another beat/);
    await waitForMessages(queue, (await redis.llen(queue)) + 3, "python keeps sending");
    expect(senders(await queuedMessages(redis, queue), py.child.pid)).toEqual(["py"]);

    await py.kill();
    await tsBeat.waitFor(/beat: Acquired lock/, (LOCK_TIMEOUT + 5) * 1000);
    await waitForMessages(queue, (await redis.llen(queue)) + 3, "ts sends after the takeover");
    await tsBeat.stop();
    expect(await redis.exists("redbeat::lock")).toBe(0); // released on a graceful stop

    const messages = await queuedMessages(redis, queue);
    expect(senders(messages, py.child.pid)).toEqual(["py", "ts"]);
    // Every send was counted in meta before it went out, by whichever beat sent it: a run sent
    // twice would show as more messages than runs. (The SIGKILL may fall between the count and
    // the publish of one run: then there is one run more than messages.)
    const runs = await runCount("tick");
    expect(runs - messages.length).toBeGreaterThanOrEqual(0);
    expect(runs - messages.length).toBeLessThanOrEqual(1);
    expect(messages.every((m) => m.headers.celery_beat_task === true && m.headers.task === "proj.tick")).toBe(
      true,
    );
  });

  it("the Python RedBeat takes over after the TS beat is SIGKILLed", async () => {
    const queue = uniqueQueue("redbeat-reverse");
    const entry = { tick: { task: "proj.tick", schedule: 1, options: { queue } } };
    const tsBeat = await ts(entry);
    await tsBeat.waitFor(/beat: Acquired lock/);
    await waitForMessages(queue, 2, "ts sends");
    const py = await python(entry);
    await waitForMessages(queue, (await redis.llen(queue)) + 3, "ts keeps sending");
    expect(senders(await queuedMessages(redis, queue), py.child.pid)).toEqual(["ts"]);

    await tsBeat.kill();
    await py.waitFor(/beat: Acquired lock/, (LOCK_TIMEOUT + 5) * 1000);
    await waitForMessages(queue, (await redis.llen(queue)) + 3, "python sends after the takeover");
    await py.stop();
    const messages = await queuedMessages(redis, queue);
    expect(senders(messages, py.child.pid)).toEqual(["ts", "py"]);
    const runs = await runCount("tick");
    expect(runs - messages.length).toBeGreaterThanOrEqual(0);
    expect(runs - messages.length).toBeLessThanOrEqual(1);
  });

  it("each reads the entries the other wrote: statics, dynamic entries, crontab/interval, options, run times", async () => {
    const q1 = uniqueQueue("redbeat-schema");
    const q2 = uniqueQueue("redbeat-dynamic");
    const tsBeat = await ts({
      every: {
        task: "proj.every",
        schedule: 2.5,
        args: [1, "a"],
        options: { queue: q1, priority: 3, expires: 60 },
      },
      cron: {
        task: "proj.cron",
        schedule: { crontab: { minute: "*/5", hour: "8-17", dayOfWeek: "mon-fri" } },
        kwargs: { x: 1 },
        options: { queue: q1, headers: { tenant: "acme" } },
      },
    });
    await tsBeat.waitFor(/beat: Acquired lock/);
    // Priority 3 on Redis: kombu's priority list for step 3.
    await waitForMessages(`${q1}\x06\x163`, 1, "ts sends proj.every");
    await tsBeat.stop();

    // Python RedBeat reads the TS-written entries, and adds a dynamic one (its documented API) and an rrule one.
    const read = await pythonJson<Record<string, Record<string, unknown>>>(
      `
      from datetime import datetime, timezone
      from interop_app import app, emit
      from celery.schedules import schedule
      from redbeat.schedulers import RedBeatSchedulerEntry
      from redbeat.schedules import rrule
      out = {}
      for name in ("every", "cron"):
          e = RedBeatSchedulerEntry.from_key("redbeat:" + name, app=app)
          out[name] = {"schedule": repr(e.schedule), "task": e.task, "args": list(e.args), "kwargs": e.kwargs,
                       "options": e.options, "last_run_at": e.last_run_at and e.last_run_at.timestamp(),
                       "total_run_count": e.total_run_count}
      RedBeatSchedulerEntry("dyn", "proj.dyn", schedule(run_every=1), args=[7], options={"queue": ${JSON.stringify(q2)}}, app=app).save()
      # Last run long ago, so its score is due now and the TS beat meets it on its first tick.
      RedBeatSchedulerEntry("rr", "proj.rrule", rrule("MINUTELY"), app=app,
                            last_run_at=datetime(2020, 1, 1, tzinfo=timezone.utc)).save()
      emit(out)
      `,
      { brokerUrl: url, celeryVersion: "beat", config: pythonConfig({}) },
    );
    expect(read.every).toMatchObject({
      schedule: "<freq: 2.50 seconds>",
      task: "proj.every",
      args: [1, "a"],
      options: { queue: q1, priority: 3, expires: 60 },
    });
    expect(read.every?.total_run_count).toBeGreaterThanOrEqual(1);
    expect(typeof read.every?.last_run_at).toBe("number");
    expect(read.cron).toMatchObject({
      schedule: "<crontab: */5 8-17 * * mon-fri (m/h/dM/MY/d)>",
      kwargs: { x: 1 },
      options: { queue: q1, headers: { tenant: "acme" } },
    });
    expect(await redis.smembers("redbeat::statics")).toEqual(expect.arrayContaining(["every", "cron"]));

    // TS restarted without "cron": the dynamic entry fires, the rrule one is reported and left alone,
    // the removed static is deleted (RedBeatScheduler.setup_schedule).
    const again = await ts({
      every: {
        task: "proj.every",
        schedule: 2.5,
        args: [1, "a"],
        options: { queue: q1, priority: 3, expires: 60 },
      },
    });
    await again.waitFor(/beat: Acquired lock/);
    const dyn = await waitForMessages(q2, 1, "ts sends the Python-created entry");
    expect(dyn[0]?.headers.task).toBe("proj.dyn");
    expect(dyn[0]?.body).toEqual([[7], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    await again.waitFor(/Cannot use schedule entry redbeat:rr: schedule type "rrule" is not supported/);
    await again.stop();
    expect(await redis.exists("redbeat:cron")).toBe(0);
    expect(await redis.zscore("redbeat::schedule", "redbeat:cron")).toBeNull();
    expect(await redis.exists("redbeat:rr")).toBe(1);
    // Python reads the run TS recorded for its dynamic entry.
    const dynRead = await pythonJson<{ count: number; last: number | null }>(
      `
      from interop_app import app, emit
      from redbeat.schedulers import RedBeatSchedulerEntry
      e = RedBeatSchedulerEntry.from_key("redbeat:dyn", app=app)
      emit({"count": e.total_run_count, "last": e.last_run_at and e.last_run_at.timestamp()})
      `,
      { brokerUrl: url, celeryVersion: "beat", config: pythonConfig({}) },
    );
    expect(dynRead.count).toBeGreaterThanOrEqual(1);
    expect(typeof dynRead.last).toBe("number");
  });

  it("a lost lock: the TS beat says so, sends nothing while another holder has it, then takes it back", async () => {
    const queue = uniqueQueue("redbeat-lost");
    const tsBeat = await ts({ tick: { task: "proj.tick", schedule: 1, options: { queue } } });
    await tsBeat.waitFor(/beat: Acquired lock/);
    await waitForMessages(queue, 1, "ts sends");
    // Another process takes the lock (as after a long pause of ours past the TTL).
    await redis.set("redbeat::lock", "intruder", "PX", 60_000);
    await tsBeat.waitFor(/Lost the RedBeat lock redbeat::lock/);
    const before = await redis.llen(queue);
    await new Promise((r) => setTimeout(r, 2500)); // > two ticks of the 1 s entry
    expect(await redis.llen(queue)).toBe(before);
    await redis.del("redbeat::lock");
    await waitUntil(
      "ts acquires again",
      async () => (tsBeat.logs().match(/beat: Acquired lock/g) ?? []).length === 2,
      {
        timeoutMs: 10_000,
        child: tsBeat.child,
      },
    );
    await waitForMessages(queue, before + 1, "ts sends again");
    await tsBeat.stop();
  });
});
