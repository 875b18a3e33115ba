/**
 * `revoke_by_stamped_headers` answered by a TS worker as a Celery 5.7 worker answers it: the same
 * command (from TS `app.control.revokeByStampedHeaders` and from the `celery` CLI) goes to a
 * prefork Python worker and a TS worker, and their replies, stored metas and log lines are
 * compared. Tasks are stamped in TS (`sig.stamp({...})`), so the stamps a TS producer sends are
 * the ones both workers revoke by.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { type Signature, signature } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { AsyncResult } from "../../src/client/result.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, runCeleryCli, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let app: Celery;
let pyWorker: CeleryWorker;
let stack: TsStack;
let tsWorker: Worker;
const pyQ = uniqueQueue("rvpy");
const tsQ = uniqueQueue("rvts");
const TS_HOST = `stamps-ts-${process.pid}@localhost`;
const tsLog: string[] = [];
const T = { timeoutMs: 30_000 };

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQ],
    pool: "prefork",
    concurrency: 2,
    config: { imports: ["stamping_tasks"] },
  });
  stack = createTsStack({ broker, backend }, { lines: tsLog });
  // stamping_tasks.sleep's twin; ctx.signal ends it when terminated.
  stack.task("stamps.sleep", async (ctx, seconds: number) => {
    await sleep(seconds * 1000, undefined, { signal: ctx.signal }).catch(() => undefined);
    return seconds;
  });
  tsWorker = stack.worker({ queues: [tsQ], concurrency: 2, hostname: TS_HOST });
  await tsWorker.start();
  app = new Celery({ broker, backend });
}, 90_000);

afterAll(async () => {
  await app?.control.close();
  await app?.close();
  await tsWorker?.close({ timeout: 5000 });
  await stack?.close();
  await pyWorker?.stop();
});

const hosts = () => [pyWorker.hostname, TS_HOST];

/** The replies of both workers to one command, by worker: `{py, ts}`. */
async function revokeByStamp(headers: Record<string, unknown>, terminate = false) {
  const replies = await app.control.revokeByStampedHeaders(headers, {
    destination: hosts(),
    terminate,
    reply: true,
    timeout: 5,
  });
  const merged = Object.assign({}, ...replies) as Record<string, unknown>;
  return { py: merged[pyWorker.hostname], ts: merged[TS_HOST] };
}

const sleeper = (queue: string, seconds: number, options: Record<string, unknown> = {}): Signature =>
  signature("stamps.sleep", [seconds], {}, { queue, ...options });

/** The stored meta of a finished task without what differs per task (ids, dates, tracebacks). */
async function outcome(r: AsyncResult) {
  await r.get({ ...T, propagate: false });
  const meta = await r.meta();
  return { status: meta.status, result: meta.result };
}

async function until<V>(what: string, read: () => Promise<V | undefined>): Promise<V> {
  for (let i = 0; i < 300; i++) {
    const v = await read();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("revoke_by_stamped_headers", () => {
  it("flags the stamps and answers Celery's reply text; hello still carries revoked ids only", async () => {
    const { py, ts } = await revokeByStamp({ mon: "flag-1", batch: ["b1", "b2"] });
    expect(py).toEqual({
      ok: "headers {'mon': 'flag-1', 'batch': ['b1', 'b2']} flagged as revoked, but not terminated",
    });
    expect(ts).toEqual(py);
    // Celery 5.7's mingle `hello` sends revoked ids and the clock, never the revoked stamps.
    const hello = await app.control.inspect({ destination: hosts() }).hello("someone-else@localhost", []);
    const keys = (host: string) => Object.keys((hello?.[host] ?? {}) as object).sort();
    expect(keys(pyWorker.hostname)).toEqual(["clock", "revoked"]);
    expect(keys(TS_HOST)).toEqual(keys(pyWorker.hostname));
  });

  it("the celery CLI's key=value form gets the same reply from both workers", async () => {
    const run = await runCeleryCli(broker, [
      "control",
      "revoke_by_stamped_headers",
      "mon=cli-1",
      "-d",
      hosts().join(","),
    ]);
    expect(run.code).toBe(0);
    const line = (host: string) => run.out.split("\n").find((l) => l.includes(host)) ?? run.out;
    expect(line(pyWorker.hostname)).toContain("OK");
    const text = "headers {'mon': 'cli-1'} flagged as revoked, but not terminated";
    expect(run.out.split(text).length - 1).toBe(2);
  });

  it("a queued (ETA) task carrying a revoked stamp is discarded when due, on both workers; others run", async () => {
    const send = (queue: string, mon: string) =>
      applyAsync(app, sleeper(queue, 0, { countdown: 3 }).stamp({ mon }));
    const revokedPy = await send(pyQ, "eta-1");
    const revokedTs = await send(tsQ, "eta-1");
    const keptPy = await send(pyQ, "eta-other");
    const keptTs = await send(tsQ, "eta-other");
    const { py, ts } = await revokeByStamp({ mon: "eta-1" });
    expect(ts).toEqual(py);
    const [rPy, rTs, kPy, kTs] = await Promise.all([revokedPy, revokedTs, keptPy, keptTs].map(outcome));
    expect(rPy).toEqual({
      status: "REVOKED",
      result: { exc_type: "TaskRevokedError", exc_message: ["revoked"], exc_module: "celery.exceptions" },
    });
    expect(rTs).toEqual(rPy);
    expect(kPy).toEqual({ status: "SUCCESS", result: 0 });
    expect(kTs).toEqual(kPy);
    const discarded = (id: string) => `stamps.sleep[${id}] (revoked by header: {'mon': 'eta-1'})`;
    expect(pyWorker.logs()).toContain(`Discarding revoked task: ${discarded(revokedPy.id)}`);
    expect(tsLog.join("\n")).toContain(`Discarding revoked task: ${discarded(revokedTs.id)}`);
  });

  it("with terminate, the running tasks carrying the stamp are terminated; the reply is Celery's", async () => {
    const runPy = await applyAsync(app, sleeper(pyQ, 60).stamp({ mon: "run-1" }));
    const runTs = await applyAsync(app, sleeper(tsQ, 60).stamp({ mon: "run-1" }));
    const inspect = app.control.inspect({ destination: hosts() });
    const active = await until("both tasks running", async () => {
      const reply = (await inspect.active()) ?? {};
      const find = (host: string, id: string) =>
        (reply[host] as { id: string }[] | undefined)?.find((t) => t.id === id);
      const py = find(pyWorker.hostname, runPy.id);
      const ts = find(TS_HOST, runTs.id);
      return py && ts ? { py, ts } : undefined;
    });
    // A request's inspect entry shows no stamps in either (celery/worker/request.py Request.info).
    expect(Object.keys(active.ts).sort()).toEqual(Object.keys(active.py).sort());

    const none = await revokeByStamp({ mon: "not-running" }, true);
    expect(none.py).toEqual({ ok: "headers {'mon': 'not-running'} were not terminated" });
    expect(none.ts).toEqual(none.py);

    const { py, ts } = await revokeByStamp({ mon: "run-1" }, true);
    expect(py).toEqual({ ok: "headers defaultdict(<class 'set'>, {'mon': {'run-1'}}) revoked" });
    expect(ts).toEqual(py);
    const [tPy, tTs] = await Promise.all([runPy, runTs].map(outcome));
    expect(tPy).toEqual({
      status: "REVOKED",
      result: { exc_type: "TaskRevokedError", exc_message: ["terminated"], exc_module: "celery.exceptions" },
    });
    expect(tTs).toEqual(tPy);
  });
});
