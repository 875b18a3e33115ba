/**
 * Redis Sentinel failover under load (issue 16, item 5a and 5c): a TS producer sends
 * FAILOVER_TASKS (2 000 in `npm test`, 10 000 with `npm run test:failover`) `interop.record`
 * tasks over `sentinel://` to a TS worker and a Python Celery 5.7 worker, both `acksLate`, and
 * ten countdown tasks; the master is SIGKILLed once a third are sent. After the Sentinels promote
 * a replica, every task must have run at least once (save the one message a Python worker's BRPOP
 * may have in flight at the kill, see below), Python must read SUCCESS for every result
 * (the result backend is the same Sentinel set) save at most the writes in flight at the kill
 * (Redis replication is asynchronous), and the countdown tasks must have run at or after their ETA. Lost runs, duplicate runs and times are printed (test/support/failover-load.ts).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Worker } from "../../src/worker/worker.js";
import { describeTrace, readAof, type TraceStep, takenBy, traceIds } from "../support/aof-trace.js";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import {
  describeFigures,
  FAILOVER_TASKS,
  registerRecordTasks,
  runFailoverLoad,
} from "../support/failover-load.js";
import { waitUntil } from "../support/process.js";
import type { RedisServer } from "../support/servers/redis.js";
import { type RedisSentinelSet, startRedisSentinel } from "../support/servers/redis-sentinel.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const PASSWORD = "failover-pw";
const queue = uniqueQueue("sentinel-load");
const runsKey = `runs:${queue}`;

let set: RedisSentinelSet;
let recordUrl: string;
let recorder: Redis;
let pyWorker: CeleryWorker;
let worker: Worker;
const apps: Celery[] = [];
const savedLogLevel = process.env.CELERIAC_LOG_LEVEL;

function tsApp(extra: ConstructorParameters<typeof Celery>[0] = {}): Celery {
  const url = set.url(2);
  const app = new Celery({
    broker: url,
    backend: url,
    // A message a worker took just before the kill, whose reply the kill swallowed, is in the new
    // master's `unacked` (when the take was replicated): restored after the visibility timeout, as
    // kombu restores it. 10 s and a sweep every 2 s bring it back within the test.
    brokerTransportOptions: {
      masterName: set.masterName,
      visibilityTimeout: 10,
      unackedRestoreInterval: 2,
      unackedRestoreThrottle: 1,
      unackedMutexExpire: 5,
      // A publish the old master acknowledged but had not copied yet would be lost at the kill
      // (replication is asynchronous): WAIT for one replica first (kombu does not).
      waitForReplicas: 1,
    },
    resultBackendTransportOptions: { masterName: set.masterName },
    taskDefaultQueue: queue,
    brokerConnectionMaxRetries: 1000,
    ...extra,
  });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  process.env.CELERIAC_LOG_LEVEL = "warn";
  // Two replicas: the promoted one still has a replica to WAIT for (waitForReplicas below).
  // Append-only files: a task that never ran is traced through the killed master's writes.
  set = await startRedisSentinel({ password: PASSWORD, replicas: 2, appendOnly: true });
  recordUrl = (await allocateRedisDb()).url;
  recorder = new Redis(recordUrl);
  const workerApp = tsApp({ taskAcksLate: true });
  registerRecordTasks(workerApp, recorder);
  worker = workerApp.worker({ concurrency: 16, hostname: `ts-${queue}@localhost`, withoutMingle: true });
  await worker.start();
  pyWorker = await startCeleryWorker({
    brokerUrl: set.url(2),
    backendUrl: set.url(2),
    recordUrl,
    defaultQueue: queue,
    pool: "threads",
    concurrency: 8,
    readyTimeoutMs: 60_000,
    config: {
      broker_transport_options: { master_name: set.masterName, visibility_timeout: 10 },
      result_backend_transport_options: { master_name: set.masterName },
      task_acks_late: true,
    },
  });
}, 120_000);

afterAll(async () => {
  await worker?.close({ timeoutMs: 10_000 }).catch(() => {});
  for (const app of apps) await app.close().catch(() => {});
  await pyWorker?.stop().catch(() => {});
  recorder?.disconnect();
  await set?.dispose();
  if (savedLogLevel === undefined) delete process.env.CELERIAC_LOG_LEVEL;
  else process.env.CELERIAC_LOG_LEVEL = savedLogLevel;
}, 60_000);

/** The promoted master's server (its append-only file holds what it replicated and what it ran since). */
async function promotedServer(): Promise<RedisServer> {
  const now = await set.currentMaster();
  const promoted = set.replicas.find((r) => `127.0.0.1:${r.port}` === now);
  if (!promoted) throw new Error(`the Sentinels name ${now}, which is none of the replicas`);
  return promoted;
}

/**
 * For each task that never ran: which consumer took it off the queue on the killed master (read
 * from that master's append-only file), whether the promoted master ever had it in `unacked`,
 * where it is now, and whether the Python worker logged receiving it. Printed, and returned.
 */
async function explainLost(
  ids: string[],
  onPromoted: Map<string, TraceStep[]>,
): Promise<{ id: string; by: string }[]> {
  if (ids.length === 0) return [];
  const killedWrites = readAof(set.master.dir);
  const onKilled = traceIds(killedWrites, ids);
  const promoted = await promotedServer();
  const live = new Redis(promoted.port ?? 0, "127.0.0.1", { password: PASSWORD, db: 2 });
  const out: { id: string; by: string }[] = [];
  try {
    const queued = (await live.lrange(queue, 0, -1)).join("\n");
    const unacked = Object.values(await live.hgetall("unacked")).join("\n");
    for (const id of ids) {
      const killedSteps = onKilled.get(id) ?? [];
      const promotedSteps = onPromoted.get(id) ?? [];
      const taker = takenBy(killedSteps);
      const where = queued.includes(id) ? "still queued" : unacked.includes(id) ? "in unacked" : "nowhere";
      const everUnacked = promotedSteps.some((s) => s.what === "recorded in unacked");
      const by =
        taker === "kombu BRPOP" && !everUnacked && where === "nowhere"
          ? "kombu BRPOP, never in unacked"
          : `${taker ?? "not taken on the killed master"}; now ${where} on the promoted master`;
      console.log(
        `[failover load] task ${id} never ran: ${by}; the Python worker logged it: ${pyWorker.logs().includes(id)}\n` +
          `  killed master (${killedWrites.length} writes): ${describeTrace(killedSteps)}\n` +
          `  promoted master: ${describeTrace(promotedSteps)}`,
      );
      out.push({ id, by });
    }
  } finally {
    live.disconnect();
  }
  return out;
}

describe("Redis Sentinel: the master killed under load", () => {
  it(`${FAILOVER_TASKS} acksLate tasks to TS and Python workers: every task runs, Python reads every result, countdown tasks run after`, async () => {
    const producer = tsApp({
      // Ride out the promotion (~2.5 s): kombu's publish retry policy, stretched.
      taskPublishRetryPolicy: { maxRetries: 40, intervalStart: 0, intervalStep: 0.2, intervalMax: 0.5 },
    });
    const before = await set.currentMaster();
    const figures = await runFailoverLoad({
      producer,
      recorder,
      runsKey,
      total: FAILOVER_TASKS,
      countdownTasks: 10,
      countdownSeconds: 8,
      // Everything runs ~5-20 s after the last send; a lost task must not cost CI the 240 s
      // default: nothing new for 25 s (visibility timeout 10 s + a 2 s sweep, twice) ends the wait.
      drainTimeoutMs: 120_000,
      quietMs: 25_000,
      python: {
        backendUrl: set.url(2),
        config: { result_backend_transport_options: { master_name: set.masterName } },
      },
      async fail() {
        await set.master.kill();
        await waitUntil(
          "the Sentinels promote the replica",
          async () => (await set.currentMaster()) !== before,
          {
            timeoutMs: 30_000,
            intervalMs: 100,
          },
        );
      },
    });
    console.log(describeFigures("Redis Sentinel (master SIGKILLed)", figures));
    expect(set.replicas.map((r) => `127.0.0.1:${r.port}`)).toContain(await set.currentMaster());
    // Both workers took part.
    const tsRuns = Number(await recorder.get(`${runsKey}:ts`));
    console.log(
      `[failover load] runs by the TS worker ${tsRuns}, by the Python worker ${figures.runs - tsRuns}`,
    );
    expect(tsRuns).toBeGreaterThan(0);
    expect(figures.runs - tsRuns).toBeGreaterThan(0);
    // Every take, replayed from the promoted master's append-only file (what it replicated from
    // the killed master, then what it ran): for each task that ran once, the consumer whose take
    // the file shows must be the worker that ran it, or the trace of a lost task proves nothing.
    const onPromoted = traceIds(readAof((await promotedServer()).dir), figures.ids);
    const runsOf = new Map<string, number>();
    for (const tag of await recorder.lrange(runsKey, 0, -1)) runsOf.set(tag, (runsOf.get(tag) ?? 0) + 1);
    const tsIds = new Set(await recorder.smembers(`${runsKey}:tsids`));
    let byScript = 0;
    const disagree: string[] = [];
    figures.ids.forEach((id, i) => {
      if (runsOf.get(String(i)) !== 1) return;
      const taker = takenBy(onPromoted.get(id) ?? []);
      if (taker === "celeriac take script") byScript++;
      if ((taker === "celeriac take script") !== tsIds.has(id) || taker === null)
        disagree.push(`${id}: ${taker}`);
    });
    console.log(
      `[failover load] append-only file of the promoted master: ${byScript} tasks taken by Celeriac's take script, run by the TS worker; disagreeing with the worker that ran them: ${disagree.length}`,
    );
    expect(disagree).toEqual([]);
    const lostByWhom = await explainLost(figures.missingIds, onPromoted);
    // Lost = 0 for everything but kombu's own window: a task that Celeriac's worker took (its
    // take script pops and records in `unacked` in one step), or that nobody took, is never lost.
    expect(lostByWhom.filter((l) => l.by !== "kombu BRPOP, never in unacked")).toEqual([]);
    // The Python worker pops with BRPOP and records the message in `unacked` with a second
    // command once the reply is in (kombu/transport/redis.py `Channel._brpop_read`, then
    // `QoS.append` from kombu/transport/virtual/base.py `Channel.basic_consume._callback`, 5.7.0).
    // A pop the killed master ran and replicated, whose reply the kill swallowed, is in neither
    // place on the promoted master. kombu sends the next BRPOP only after that record, and
    // replication keeps order, so at most one message per Python worker falls in the window.
    expect(lostByWhom.length).toBeLessThanOrEqual(1);
    // Redis replicates asynchronously: a result the old master acknowledged in the last moments
    // before the SIGKILL, not yet copied to the replica, is gone after the promotion (Celery's
    // own workers have the same window). At most the results being written at the kill can be
    // lost: one per running task of the two workers (16 + 8). Measured 0 and 1 in 2 000.
    const byTs = await Promise.all(
      figures.notSucceeded.map((id) => recorder.sismember(`${runsKey}:tsids`, id)),
    );
    console.log(
      `[failover load] results lost in the failover: ${figures.notSucceeded.length} (written by the TS worker: ${byTs.filter(Boolean).length})`,
    );
    expect(figures.notSucceeded.length).toBeLessThanOrEqual(24);
    expect(figures.countdownMissing).toBe(0);
    // Each countdown task first ran at or after its ETA (the time the worker that ran it recorded).
    expect(figures.countdownLateMs).toHaveLength(10);
    for (const late of figures.countdownLateMs) expect(late).toBeGreaterThanOrEqual(0);
  }, 600_000);

  it("waitForReplicas above the replicas the master has: the publish fails naming the option, nothing silently unreplicated", async () => {
    // After the failover the master has one replica left.
    const producer = tsApp({
      brokerTransportOptions: { masterName: set.masterName, waitForReplicas: 2 },
      taskPublishRetryPolicy: { maxRetries: 1, intervalStart: 0, intervalStep: 0, intervalMax: 0 },
    });
    const err = await producer.sendTask("interop.add", [1, 2]).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/1 of 2 replica\(s\) \(waitForReplicas\)/);
  }, 30_000);
});
