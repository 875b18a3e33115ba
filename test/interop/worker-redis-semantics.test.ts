/**
 * Celery semantics of the TS worker as Python observes them: autoretry with
 * backoff, max retries, soft and hard time limits, rate limits, eta,
 * expires, priorities, and poison messages mixed into good ones.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelope } from "../../src/transports/redis/envelope.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let stack: TsStack;
let worker: Worker;
const queue = uniqueQueue("tsw-sem");
const calls = new Map<string, number>();
const starts = new Map<string, number[]>();
const ran = new Set<string>();

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  stack = createTsStack({ broker, backend, resultExtended: true }, { lines: [] });
  stack.task(
    "ts.flaky",
    (ctx) => {
      calls.set(ctx.id, (calls.get(ctx.id) ?? 0) + 1);
      throw new PythonError("KeyError", ["still failing"]);
    },
    { autoretryFor: ["KeyError"], retryBackoff: 1, retryJitter: false, maxRetries: 2 },
  );
  stack.task(
    "ts.retry_forever",
    (ctx) => {
      ctx.retry({ countdown: 0 });
    },
    { maxRetries: 0 },
  );
  stack.task(
    "ts.soft",
    async (ctx, cleanUp: boolean) => {
      try {
        await abortableSleep(10_000, ctx.signal);
        return "slept";
      } catch (err) {
        if (cleanUp) return "cleaned up";
        throw err;
      }
    },
    { softTimeLimit: 0.3 },
  );
  stack.task("ts.hang", () => new Promise(() => undefined), { timeLimit: 0.5 });
  stack.task(
    "ts.limited",
    (ctx) => {
      const list = starts.get("limited") ?? [];
      list.push(performance.now());
      starts.set("limited", list);
      return ctx.id;
    },
    { rateLimit: "5/s" },
  );
  stack.task("ts.when", (ctx) => [Date.now(), ctx.eta?.getTime() ?? null]);
  stack.task("ts.mark", (ctx) => {
    ran.add(ctx.id);
    return "ran";
  });
  stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
  worker = stack.worker({ queues: [queue], concurrency: 8, hostname: "tsw-sem@localhost" });
  await worker.start();
});

afterAll(async () => {
  await worker?.close({ timeoutMs: 5000 });
  await stack?.close();
});

const py = <T>(code: string) =>
  pythonJson<T>(
    `
import json, time
from datetime import datetime, timedelta, timezone
from interop_app import app, emit
Q = ${JSON.stringify(queue)}
def raw_meta(task_id):
    raw = app.backend.get(app.backend.get_key_for_task(task_id))
    return json.loads(raw) if raw else {"status": "PENDING"}
def error_of(r):
    try:
        r.get(timeout=30)
        return ["none", "", []]
    except Exception as e:
        return [type(e).__module__, type(e).__name__, list(e.args)]
${code}
`,
    { brokerUrl: broker, backendUrl: backend },
  );

describe("TS worker semantics seen from Python", () => {
  it("autoretries with backoff, then fails with the original error after maxRetries", async () => {
    const out = await py<{ error: [string, string, unknown[]]; retries: number; id: string }>(`
r = app.send_task("ts.flaky", (), queue=Q)
err = error_of(r)
emit({"error": err, "retries": raw_meta(r.id)["retries"], "id": r.id})
`);
    expect(out.error).toEqual(["builtins", "KeyError", ["still failing"]]);
    expect(out.retries).toBe(2);
    expect(calls.get(out.id)).toBe(3);
  });

  it("raises MaxRetriesExceededError when retry() is called past maxRetries without exc", async () => {
    const out = await py<[string, string, unknown[]]>(`
emit(error_of(app.send_task("ts.retry_forever", (), queue=Q)))
`);
    expect(out[0]).toBe("celery.exceptions");
    expect(out[1]).toBe("MaxRetriesExceededError");
    expect(String(out[2][0])).toContain("Can't retry ts.retry_forever");
  });

  it("soft time limit: the signal aborts and the failure is SoftTimeLimitExceeded; a handler may clean up", async () => {
    const out = await py<{ failed: [string, string, unknown[]]; cleaned: string }>(`
failed = error_of(app.send_task("ts.soft", (False,), queue=Q))
cleaned = app.send_task("ts.soft", (True,), queue=Q).get(timeout=30)
emit({"failed": failed, "cleaned": cleaned})
`);
    expect(out.failed).toEqual(["billiard.exceptions", "SoftTimeLimitExceeded", []]);
    expect(out.cleaned).toBe("cleaned up");
  });

  it("hard time limit: the task is abandoned with TimeLimitExceeded, also from the message's time_limit", async () => {
    const out = await py<{ own: [string, string, unknown[]]; header: [string, string, unknown[]] }>(`
own = error_of(app.send_task("ts.hang", (), queue=Q))
header = error_of(app.send_task("ts.soft", (False,), queue=Q, time_limit=1, soft_time_limit=5))
emit({"own": own, "header": header})
`);
    expect(out.own).toEqual(["billiard.exceptions", "TimeLimitExceeded", [0.5]]);
    expect(out.header).toEqual(["billiard.exceptions", "TimeLimitExceeded", [1]]);
  });

  it("rate limit: tasks of a '5/s' task start at least 1/5 s apart", async () => {
    starts.set("limited", []);
    await py(`
rs = [app.send_task("ts.limited", (), queue=Q) for _ in range(6)]
emit([r.get(timeout=30) for r in rs])
`);
    const times = starts.get("limited") ?? [];
    expect(times).toHaveLength(6);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(190);
  });

  it("countdown: the task does not run before its eta", async () => {
    const out = await py<{ ran: [number, number]; sent_ms: number }>(`
sent_ms = int(time.time() * 1000)
r = app.send_task("ts.when", (), queue=Q, countdown=1.5)
emit({"ran": r.get(timeout=30), "sent_ms": sent_ms})
`);
    const [ranAt, eta] = out.ran;
    expect(eta - out.sent_ms).toBeGreaterThanOrEqual(1490);
    expect(ranAt).toBeGreaterThanOrEqual(eta);
  });

  it("expires: an expired task is not run and Python sees REVOKED / TaskRevokedError('expired')", async () => {
    const out = await py<{ state: string; error: [string, string, unknown[]]; id: string }>(`
r = app.send_task("ts.mark", (), queue=Q, expires=datetime.now(timezone.utc) - timedelta(seconds=5))
err = error_of(r)
emit({"state": r.state, "error": err, "id": r.id})
`);
    expect(out.state).toBe("REVOKED");
    expect(out.error).toEqual(["celery.exceptions", "TaskRevokedError", ["expired"]]);
    expect(ran.has(out.id)).toBe(false);
  });

  it("priorities: with a backlog, bucket 0 (Redis's highest) drains before bucket 9", async () => {
    const prioQueue = uniqueQueue("tsw-prio");
    const order: number[] = [];
    stack.task("ts.prio", (_ctx, p: number) => {
      order.push(p);
      return p;
    });
    const ids = await py<string[]>(`
emit([app.send_task("ts.prio", (p,), queue=${JSON.stringify(prioQueue)}, priority=p).id for p in (9, 9, 6, 3, 0, 0)])
`);
    const prioWorker = stack.worker({
      queues: [prioQueue],
      concurrency: 1,
      prefetchMultiplier: 1,
      hostname: "prio@localhost",
    });
    await prioWorker.start();
    try {
      await py(`
from celery.result import AsyncResult
emit([AsyncResult(i, app=app).get(timeout=30) for i in json.loads(${JSON.stringify(JSON.stringify(ids))})])
`);
    } finally {
      await prioWorker.close({ timeoutMs: 5000 });
    }
    expect(order).toEqual([0, 0, 3, 6, 9, 9]);
  });

  it("poison messages in a stream of good ones: each is rejected or discarded, every good task succeeds", async () => {
    const poisonQueue = uniqueQueue("tsw-poison");
    const headersFor = (id: string): Record<string, unknown> => ({
      lang: "py",
      task: "ts.add",
      id,
      root_id: id,
      parent_id: null,
      group: null,
    });
    const envelope = (body: string, contentType: string, headers: Record<string, unknown>) =>
      encodeEnvelope({
        body: new TextEncoder().encode(body),
        contentType,
        contentEncoding: "utf-8",
        headers,
        properties: { correlation_id: String(headers.id ?? ""), delivery_mode: 2, priority: 0 },
        exchange: "",
        routingKey: poisonQueue,
      });
    const poisons = [
      "this is not json at all",
      JSON.stringify({ body: "x", properties: {} }),
      envelope("[[1,2],{},null]", "application/x-python-serialize", headersFor(randomUUID())),
      envelope("[[1,2],{},null]", "application/json; charset=utf-8", headersFor(randomUUID())),
      envelope("[[1,2],{}]", "application/json", headersFor(randomUUID())),
      envelope("{not json", "application/json", headersFor(randomUUID())),
      envelope("[[1,2],{},null]", "application/json", {
        ...headersFor(randomUUID()),
        compression: "application/x-gzip",
      }),
      envelope("[[1,2],{},null]", "application/json", { lang: "py", task: "ts.add" }),
      envelope('["not a list",{},null]', "application/json", headersFor(randomUUID())),
      envelope("[[1,2],{},null]", "application/json", { ...headersFor(randomUUID()), eta: "yesterday" }),
    ];
    const ids = await py<string[]>(`
import redis as redislib
r = redislib.Redis.from_url(${JSON.stringify(broker)})
poisons = json.loads(${JSON.stringify(JSON.stringify(poisons))})
ids = []
for i in range(30):
    ids.append(app.send_task("ts.add", (i, 1), queue=${JSON.stringify(poisonQueue)}).id)
    if i % 3 == 0 and poisons:
        r.lpush(${JSON.stringify(poisonQueue)}, poisons.pop())
emit(ids)
`);
    const poisonWorker = stack.worker({
      queues: [poisonQueue],
      concurrency: 4,
      hostname: "poison@localhost",
    });
    await poisonWorker.start();
    let values: number[];
    try {
      values = await py<number[]>(`
from celery.result import AsyncResult
emit([AsyncResult(i, app=app).get(timeout=30) for i in json.loads(${JSON.stringify(JSON.stringify(ids))})])
`);
    } finally {
      await poisonWorker.close({ timeoutMs: 5000 });
    }
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const redis = new Redis(broker, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.llen(poisonQueue)).toBe(0);
      expect(await redis.hlen("unacked")).toBe(0);
      expect(await redis.zcard("unacked_index")).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
