/**
 * The task API a handler reaches (issue 13, requirement 6 and the retry/parent items), judged
 * against a stock Celery 5.7 worker in the same test: a Python producer sends the same call to a
 * Python worker running the Python task (python-interop/app/request_tasks.py) and to a TS worker
 * running its TS twin of the same name, then compares what each stored and returned.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, group, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { TaskContext } from "../../src/worker/context.js";
import { Ignore, Reject } from "../../src/worker/errors.js";
import { processTask, threadedTask } from "../../src/worker/task-registry.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let pyWorker: CeleryWorker;
let stack: TsStack;
let tsWorker: Worker;
let app: Celery;
const pyQ = uniqueQueue("reqpy");
const tsQ = uniqueQueue("reqts");
const PY_HOST = "reqpy@localhost";
const CPU_TASKS = new URL("../support/ts-worker/cpu-tasks.ts", import.meta.url);
const PROCESS_TASKS = new URL("../support/ts-worker/process-tasks.ts", import.meta.url);
const TS_HOST = "reqts@localhost";

/** The TS twin of request_tasks._request_view: Celery's request field names, ctx's values. */
function requestView(ctx: TaskContext): Record<string, unknown> {
  return {
    id: ctx.id,
    args: ctx.args,
    kwargs: ctx.kwargs,
    retries: ctx.retries,
    delivery_info: {
      exchange: ctx.deliveryInfo.exchange,
      routing_key: ctx.deliveryInfo.routingKey,
      priority: ctx.deliveryInfo.priority,
      redelivered: ctx.deliveryInfo.redelivered,
    },
    properties: ctx.properties,
    reply_to: ctx.replyTo,
    correlation_id: ctx.correlationId,
    eta: ctx.eta?.toISOString() ?? null,
    expires: ctx.expires?.toISOString() ?? null,
    timelimit: ctx.timeLimit,
    group: ctx.groupId,
    group_index: ctx.groupIndex,
    chord: ctx.chord,
    root_id: ctx.rootId,
    parent_id: ctx.parentId,
    origin: ctx.origin,
    hostname: ctx.hostname,
    headers: Object.keys(ctx.headers).length > 0 ? ctx.headers : null,
    replaced_task_nesting: ctx.replacedTaskNesting,
    is_eager: ctx.isEager,
    // ctx gives [] where Celery gives None (no stamps), as for headers.
    stamped_headers: ctx.stampedHeaders.length > 0 ? ctx.stampedHeaders : null,
    stamps: ctx.stamps,
  };
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQ],
    hostname: PY_HOST,
    config: { imports: ["request_tasks"] },
  });
  stack = createTsStack({ broker, backend, resultExtended: true }, { lines: [] });
  stack.task("req.describe", (ctx) => requestView(ctx));
  stack.task("req.progress", async (ctx, total: number) => {
    await ctx.updateState("PROGRESS", { current: 1, total });
    throw new Ignore();
  });
  stack.task("req.progress_other", async (ctx, otherId: string) => {
    await ctx.updateState("PROGRESS", { for: otherId }, { taskId: otherId });
    return "ok";
  });
  stack.task(
    "req.reject_once",
    (ctx) => {
      if (!ctx.deliveryInfo.redelivered) throw new Reject("first delivery", true);
      const { exchange, routingKey, priority, redelivered } = ctx.deliveryInfo;
      return { exchange, routing_key: routingKey, priority, redelivered };
    },
    { acksLate: true },
  );
  stack.task(
    "req.reject_drop",
    () => {
      throw new Reject("dropped", false);
    },
    { acksLate: true },
  );
  stack.task(
    "req.retry_args",
    (ctx, x: number, y: number) => {
      if (ctx.retries === 0) ctx.retry({ args: [10, 20], countdown: 0 });
      return { x, y, args: ctx.args, kwargs: ctx.kwargs };
    },
    { params: ["x", "y"] },
  );
  stack.task(
    "req.retry_kwargs",
    (ctx, x: number, y: number, z = 0) => {
      if (ctx.retries === 0) ctx.retry({ kwargs: { y: 5, z: 7 }, countdown: 0 });
      return { x, y, z, args: ctx.args, kwargs: ctx.kwargs };
    },
    { params: ["x", "y", "z"] },
  );
  stack.task("req.retry_opts", (ctx) => {
    if (ctx.retries === 0)
      ctx.retry({
        countdown: 0,
        expires: 600,
        timeLimit: 30,
        softTimeLimit: 20,
        headers: { "x-retry": "yes" },
      });
    return requestView(ctx);
  });
  // Sent from inside the handler through the app: Celery's current_worker_task gives parent/root.
  stack.task("req.spawn", (_ctx, queue: string) => app.sendTask("req.describe", [1], {}, { queue }));
  stack.task("req.spawn_group", (_ctx, queue: string) =>
    applyAsync(app, group([0, 1].map((i) => s("req.describe", i).set({ queue })))),
  );
  stack.task("req.spawn_chain", (_ctx, queue: string) =>
    applyAsync(app, chain(s("req.describe", 1).set({ queue }), s("req.describe").set({ queue }))),
  );
  stack.task("req.grow", async (ctx, queue: string) => {
    await ctx.addToChord(s("req.describe", 9).set({ queue }));
    return "grown";
  });
  // The same update_state from a pool thread and a pool child process.
  stack.task("req.progress_other_thread", threadedTask(CPU_TASKS, "progressOther"));
  stack.task("req.progress_other_process", processTask(PROCESS_TASKS, "progressOther"));
  tsWorker = stack.worker({
    queues: [tsQ],
    concurrency: 4,
    hostname: TS_HOST,
    threads: 1,
    threadExecArgv: ["--import", "tsx"],
    processes: 1,
  });
  await tsWorker.start();
  app = new Celery({ broker, backend });
}, 90_000);

afterAll(async () => {
  await tsWorker?.close({ timeoutMs: 5000 });
  await stack?.close();
  await app?.close();
  await pyWorker?.stop();
});

/** Runs `code` once per side with `Q` bound to that side's queue; returns `{py, ts}` of what it emitted as `out`. */
const bothSides = <T>(code: string) =>
  pythonJson<{ py: T; ts: T }>(
    `
import json, time
from interop_app import app, emit
from celery import chord
from celery.result import AsyncResult
out = {}
for side, Q in (("py", ${JSON.stringify(pyQ)}), ("ts", ${JSON.stringify(tsQ)})):
${code
  .trim()
  .split("\n")
  .map((line) => `    ${line}`)
  .join("\n")}
    out[side] = result
emit(out)
`,
    { brokerUrl: broker, backendUrl: backend },
  );

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * What must be equal between the two sides: keys sorted, each side's queue and node name
 * replaced by a placeholder, every UUID by `<uuid-n>` in order of first appearance (so
 * "root_id is the task's own id" still compares), an anonymous node name (`gen<pid>@host`:
 * the process that sent the message) by `<gen>`, and eta/expires (two calls, two clocks)
 * by `<datetime>` once they parse: {@link offsetsFrom} checks their values.
 */
function comparable(value: unknown, queue: string, host: string): unknown {
  const sortKeys = (v: unknown, key?: string): unknown => {
    if ((key === "eta" || key === "expires") && typeof v === "string" && !Number.isNaN(Date.parse(v)))
      return "<datetime>";
    if (Array.isArray(v)) return v.map((x) => sortKeys(x));
    if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, sortKeys(o[k], k)]),
      );
    }
    return v;
  };
  const ids = new Map<string, string>();
  const text = JSON.stringify(sortKeys(value))
    .replaceAll(queue, "<queue>")
    .replaceAll(host, "<host>")
    .replace(/gen\d+@[\w.-]+/g, "<gen>")
    .replace(UUID, (id) => {
      if (!ids.has(id)) ids.set(id, `<uuid-${ids.size + 1}>`);
      return ids.get(id) as string;
    });
  return JSON.parse(text);
}

/** Seconds from `sent` to the view's eta and expires (Python's header string, TS's Date). */
const offsetsFrom = (view: Record<string, unknown>, sent: number) => [
  (Date.parse(view.eta as string) - sent * 1000) / 1000,
  (Date.parse(view.expires as string) - sent * 1000) / 1000,
];

const samePair = <T>(out: { py: T; ts: T }) => ({
  py: comparable(out.py, pyQ, PY_HOST),
  ts: comparable(out.ts, tsQ, TS_HOST),
});

describe("ctx.updateState: custom states as Task.update_state stores them", () => {
  it("PROGRESS with a dict meta: same stored meta, same AsyncResult.state / .info in Python", async () => {
    const out = await bothSides<{ state: string; info: unknown; meta: Record<string, unknown> }>(`
r = app.send_task("req.progress", (5,), queue=Q)
deadline = time.monotonic() + 20
while r.state == "PENDING" and time.monotonic() < deadline:
    time.sleep(0.05)
raw = json.loads(app.backend.get(app.backend.get_key_for_task(r.id)))
result = {"state": r.state, "info": r.info, "meta": raw}
`);
    expect(out.py.state).toBe("PROGRESS");
    expect(out.py.info).toEqual({ current: 1, total: 5 });
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });

  it("TS AsyncResult reads a PROGRESS state a Python task wrote (state and info)", async () => {
    const id = await pythonJson<string>(
      `
import time
from interop_app import app, emit
r = app.send_task("req.progress", (9,), queue=${JSON.stringify(pyQ)})
deadline = time.monotonic() + 20
while r.state == "PENDING" and time.monotonic() < deadline:
    time.sleep(0.05)
emit(r.id)
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    const result = app.asyncResult(id);
    expect(await result.state()).toBe("PROGRESS");
    expect(await result.info()).toEqual({ current: 1, total: 9 });
    expect(await result.ready()).toBe(false);
  });

  it("update_state(task_id=other): the other id gets this task's request fields", async () => {
    const out = await bothSides<{ ok: unknown; meta: Record<string, unknown> }>(`
other = "other-" + Q
ok = app.send_task("req.progress_other", (other,), queue=Q).get(timeout=20)
result = {"ok": ok, "meta": json.loads(app.backend.get(app.backend.get_key_for_task(other)))}
`);
    expect(out.py.meta.status).toBe("PROGRESS");
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });
});

describe("ctx.updateState from threadedTask / processTask handlers", () => {
  it("a pool thread and a pool child write the same meta as the in-process handler and Python", async () => {
    const out = await pythonJson<Record<string, Record<string, unknown>>>(
      `
import json
from interop_app import app, emit
out = {}
for side, name, queue in (("py", "req.progress_other", ${JSON.stringify(pyQ)}),
                          ("thread", "req.progress_other_thread", ${JSON.stringify(tsQ)}),
                          ("process", "req.progress_other_process", ${JSON.stringify(tsQ)})):
    other = "other-" + side + "-" + queue
    app.send_task(name, (other,), queue=queue).get(timeout=30)
    meta = json.loads(app.backend.get(app.backend.get_key_for_task(other)))
    meta.pop("name")
    out[side] = meta
emit(out)
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    // Each side wrote its own "other-<side>-<queue>" id.
    const sameIds = (side: string) =>
      JSON.parse(JSON.stringify(out[side]).replaceAll(`other-${side}-`, "other-"));
    const py = comparable(sameIds("py"), pyQ, PY_HOST) as Record<string, unknown>;
    expect(py.status).toBe("PROGRESS");
    expect(py.result).toEqual({ for: "other-<queue>" });
    for (const side of ["thread", "process"]) expect(comparable(sameIds(side), tsQ, TS_HOST)).toEqual(py);
  });
});

describe("ctx: the fields of Celery's Request", () => {
  it("a call with eta, expires, time limits, priority, headers and app_id: same request on both sides", async () => {
    const out = await bothSides<{ sent: number; view: Record<string, unknown> }>(`
sent = time.time()
r = app.signature("req.describe", args=(1, "a"), kwargs={"k": 2}).stamp(tenant="acme").apply_async(
    queue=Q, countdown=0.3, expires=600, time_limit=30, soft_time_limit=20, priority=3,
    headers={"x-trace": "abc"}, app_id="billing")
result = {"sent": sent, "view": r.get(timeout=20)}
`);
    expect((out.py.view.properties as Record<string, unknown>).app_id).toBe("billing");
    for (const side of [out.py, out.ts]) {
      const [eta = Number.NaN, expires = Number.NaN] = offsetsFrom(side.view, side.sent);
      expect(eta).toBeGreaterThanOrEqual(0.29);
      expect(eta).toBeLessThan(5);
      expect(expires).toBeGreaterThanOrEqual(599.99);
      expect(expires).toBeLessThan(605);
    }
    const pair = samePair({ py: out.py.view, ts: out.ts.view });
    expect(pair.ts).toEqual(pair.py);
  });

  it("a chord header member and its body: group, group_index, chord, parent and root ids", async () => {
    const out = await bothSides<Record<string, unknown>>(`
c = chord([app.signature("req.describe", args=(7,), queue=Q)], app.signature("req.describe", queue=Q)).apply_async()
body = c.get(timeout=20)
result = {"member": body["args"][0][0], "body": body}
`);
    const member = out.py.member as Record<string, unknown>;
    expect(member.chord).not.toBeNull();
    expect(member.group_index).toBe(0);
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });
});

describe("Reject, as a Celery 5.7 worker handles it (acks_late tasks)", () => {
  it("Reject(requeue=True) redelivers with delivery_info.redelivered true", async () => {
    const out = await bothSides<Record<string, unknown>>(`
result = app.send_task("req.reject_once", queue=Q).get(timeout=20)
`);
    expect(out.py.redelivered).toBe(true);
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });

  it("Reject(requeue=False) stores FAILURE celery.exceptions.Reject with the same meta", async () => {
    const out = await bothSides<Record<string, unknown>>(`
r = app.send_task("req.reject_drop", queue=Q)
try:
    r.get(timeout=20)
    raised = None
except Exception as e:
    raised = [type(e).__module__, type(e).__name__, list(e.args)]
meta = json.loads(app.backend.get(app.backend.get_key_for_task(r.id)))
meta.pop("traceback")
meta["date_done"] = meta["date_done"] is not None
result = {"raised": raised, "meta": meta}
`);
    expect(out.py.raised).toEqual(["celery.exceptions", "Reject", ["dropped", false]]);
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });
});

describe("ctx.retry as Celery 5.7's Task.retry", () => {
  it("retry(args=...) after a call made with kwargs drops the kwargs the new args cover", async () => {
    const out = await bothSides<Record<string, unknown>>(`
result = app.send_task("req.retry_args", (), {"x": 1, "y": 2}, queue=Q).get(timeout=20)
`);
    expect(out.py).toEqual({ x: 10, y: 20, args: [10, 20], kwargs: {} });
    expect(out.ts).toEqual(out.py);
  });

  it("retry(kwargs=...) replaces an inherited positional arg; other keywords stay keywords", async () => {
    const out = await bothSides<Record<string, unknown>>(`
result = app.send_task("req.retry_kwargs", (1, 2), queue=Q).get(timeout=20)
`);
    expect(out.py).toEqual({ x: 1, y: 5, z: 7, args: [1, 5], kwargs: { z: 7 } });
    expect(out.ts).toEqual(out.py);
  });

  it("a positional arg and a keyword for the same parameter: TypeError, as Python calls fun(*args, **kwargs)", async () => {
    const out = await bothSides<[string, string]>(`
try:
    app.send_task("req.retry_args", (1,), {"x": 2, "y": 3}, queue=Q).get(timeout=20)
    result = ["no error", ""]
except Exception as e:
    result = [type(e).__name__, str(e)]
`);
    expect(out.py[0]).toBe("TypeError");
    expect(out.py[1]).toMatch(/got multiple values for argument 'x'/);
    expect(out.ts[0]).toBe(out.py[0]);
    expect(out.ts[1]).toMatch(/got multiple values for argument 'x'/);
  });

  it("retry(expires=, time_limit=, soft_time_limit=, headers=): the retried request carries them", async () => {
    const out = await bothSides<{ sent: number; view: Record<string, unknown> }>(`
sent = time.time()
r = app.send_task("req.retry_opts", queue=Q, headers={"x-orig": "1"})
result = {"sent": sent, "view": r.get(timeout=20)}
`);
    expect(out.py.view.headers).toEqual({ "x-retry": "yes" });
    expect(out.py.view.timelimit).toEqual([30, 20]);
    for (const side of [out.py, out.ts]) {
      const expires = offsetsFrom(side.view, side.sent)[1] ?? Number.NaN;
      expect(expires).toBeGreaterThanOrEqual(599.99);
      expect(expires).toBeLessThan(605);
    }
    const pair = samePair({ py: out.py.view, ts: out.ts.view });
    expect(pair.ts).toEqual(pair.py);
  });
});

describe("tasks sent from inside a task, and a returned result (Celery's current_worker_task, as_tuple)", () => {
  for (const name of ["req.spawn", "req.spawn_group", "req.spawn_chain"]) {
    it(`${name}: parent/root of what it sent, its children, and the result handle it returned`, async () => {
      const out = await bothSides<Record<string, unknown>>(`
r = app.send_task(${JSON.stringify(name)}, (Q,), queue=Q)
returned = r.get(timeout=20)
meta = json.loads(app.backend.get(app.backend.get_key_for_task(r.id)))
meta["date_done"] = meta["date_done"] is not None
ids = [returned[0][0]] if returned[1] is None else [t[0][0] for t in returned[1]]
views = [AsyncResult(i).get(timeout=20) for i in ids]
result = {"id": r.id, "returned": returned, "meta": meta, "views": views}
`);
      const views = out.py.views as Record<string, unknown>[];
      expect(views.length).toBeGreaterThan(0);
      for (const view of views) expect(view.root_id).toBe(out.py.id);
      expect((out.py.meta as Record<string, unknown>).children).not.toEqual([]);
      const pair = samePair(out);
      expect(pair.ts).toEqual(pair.py);
    });
  }

  it("req.grow: a task added to its chord (add_to_chord) joins the children and gets this task as parent", async () => {
    const out = await bothSides<Record<string, unknown>>(`
c = chord([app.signature("req.grow", (Q,), queue=Q)], app.signature("req.describe", queue=Q)).apply_async()
body = c.get(timeout=20)
grow_id = c.parent.results[0].id
meta = json.loads(app.backend.get(app.backend.get_key_for_task(grow_id)))
meta["date_done"] = meta["date_done"] is not None
# The added task takes the adder's group_index: the join's order of the two is arrival order.
result = {"grow_id": grow_id, "meta": meta, "header_results": sorted(body["args"][0], key=lambda v: isinstance(v, dict))}
`);
    const added = (out.py.header_results as unknown[])[1] as Record<string, unknown>;
    expect(added.parent_id).toBe(out.py.grow_id);
    expect((out.py.meta as Record<string, unknown>).children).toHaveLength(1);
    const pair = samePair(out);
    expect(pair.ts).toEqual(pair.py);
  });
});
