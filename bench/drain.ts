/**
 * The worker measurement every worker figure shares: fill queues through the built package, start
 * one worker, wait until every result is stored, and take the rate from the stored metas
 * (tasks / (last date_done - first date_done)), as Celery's own backend records them, so worker
 * start-up and the polling here do not count. Peak RSS is sampled every 100 ms meanwhile.
 */
import { Redis } from "ioredis";
import { cpuMs, type Proc, runProcJson, sampleRss } from "./common.js";

/** One stored SUCCESS meta: task id and date_done in ms (microseconds kept as the fraction). */
export interface Done {
  id: string;
  at: number;
}

/** Celery writes `2026-12-06T12:00:00.123456+00:00` (or naive UTC); celery-node `...123Z`. */
export function parseDateDone(text: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.exec(text);
  if (!m?.[1]) throw new Error(`unexpected date_done ${JSON.stringify(text)}`);
  return Date.parse(`${m[1]}${m[3] ?? "Z"}`) + Number(m[2] ?? 0) * 1000;
}

/** Every SUCCESS meta in a backend database. */
export async function readDone(backendUrl: string): Promise<Done[]> {
  const redis = new Redis(backendUrl);
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", "celery-task-meta-*", "COUNT", 2000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const done: Done[] = [];
    for (let i = 0; i < keys.length; i += 2000) {
      const values = await redis.mget(...keys.slice(i, i + 2000));
      for (const value of values) {
        if (value === null) continue;
        const meta = JSON.parse(value) as { status: string; task_id: string; date_done: string };
        if (meta.status === "SUCCESS") done.push({ id: meta.task_id, at: parseDateDone(meta.date_done) });
      }
    }
    return done.sort((a, b) => a.at - b.at);
  } finally {
    redis.disconnect();
  }
}

export async function flushDb(url: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** Fills `queues` with `perQueue` tasks each (ids `<prefix>.<queue index>.<n>`). */
export async function fill(
  broker: string,
  backend: string,
  queues: readonly string[],
  perQueue: number,
  prefix = "t",
): Promise<void> {
  await runProcJson("fill.mjs", [queues.join(","), String(perQueue), prefix], {
    BENCH_BROKER: broker,
    BENCH_BACKEND: backend,
  });
}

/** Tasks left out of {@link DrainResult.warmRate}: V8 compiles the worker's code meanwhile. */
export const WARM_UP_TASKS = 3000;

export interface DrainResult {
  rate: number;
  /**
   * The rate after the first {@link WARM_UP_TASKS} results (null when fewer than twice that ran):
   * what a worker that has been running a while sustains. Reported beside `rate`, which counts all.
   */
  warmRate: number | null;
  seconds: number;
  peakRssMb: number;
  peakMainRssMb: number;
  /**
   * CPU ms of the worker's processes per task, from the first stored result to the last one seen
   * (start-up excluded).
   */
  cpuMsPerTask: number;
  done: Done[];
}

/**
 * Starts the worker on an already filled queue and waits for `expected` stored results (10 min at
 * most); the backend database must hold no other metas.
 */
export async function drain(start: () => Proc, backend: string, expected: number): Promise<DrainResult> {
  const proc = start();
  const stopSampling = sampleRss(proc.child.pid ?? 0);
  const pid = proc.child.pid ?? 0;
  const redis = new Redis(backend);
  let cpu = { from: 0, atStored: 0, to: 0, atEnd: 0 };
  try {
    const deadline = Date.now() + 600_000;
    for (;;) {
      const stored = await redis.dbsize();
      if (stored > 0 && cpu.atStored === 0) cpu = { ...cpu, from: cpuMs(pid), atStored: stored };
      if (stored >= expected) {
        cpu = { ...cpu, to: cpuMs(pid), atEnd: stored };
        break;
      }
      if (proc.child.exitCode !== null || proc.child.signalCode !== null)
        throw new Error(`${proc.name} exited early (${stored}/${expected} results):\n${proc.stderr()}`);
      if (Date.now() > deadline) throw new Error(`${proc.name}: ${stored}/${expected} results after 600 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    redis.disconnect();
    await proc.kill();
  }
  const rss = stopSampling();
  const done = await readDone(backend);
  if (done.length < expected)
    throw new Error(`${proc.name}: only ${done.length}/${expected} SUCCESS results`);
  const first = done[0]?.at ?? 0;
  const last = done[done.length - 1]?.at ?? 0;
  const seconds = (last - first) / 1000;
  return {
    rate: done.length / seconds,
    warmRate: warmRateOf(done),
    seconds,
    peakRssMb: rss.treeMb,
    peakMainRssMb: rss.mainMb,
    cpuMsPerTask: (cpu.to - cpu.from) / Math.max(1, cpu.atEnd - cpu.atStored),
    done,
  };
}

/** Results per second from the one after the first WARM_UP_TASKS to the last. */
function warmRateOf(done: readonly Done[]): number | null {
  if (done.length < 2 * WARM_UP_TASKS) return null;
  const from = done[WARM_UP_TASKS - 1]?.at ?? 0;
  const to = done[done.length - 1]?.at ?? 0;
  return (done.length - WARM_UP_TASKS) / ((to - from) / 1000);
}
