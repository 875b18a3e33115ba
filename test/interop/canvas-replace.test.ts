/**
 * `ctx.replace(sig)` and `ctx.addToChord(sig)` (issue 13 items 1 and 2) end to end: Python builds
 * each workflow and reads its result with `AsyncResult.get()`, once with the replacing (or
 * chord-growing) task run by a stock Celery 5.7 worker (`interop.replace_with`, which calls
 * `self.replace`) and once by the TS worker (`ts.replace_with`, which calls `ctx.replace`), in the
 * same test; the two outcomes must be equal. The replacements' own steps alternate between the
 * two languages. One Redis broker + backend; the Python worker runs 4 threads so chords can
 * overlap as they would in production.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Signature } from "../../src/canvas/signature.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { SignatureDict } from "../../src/protocol/task-message.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../support/worker-pair.js";

let broker: string;
let backend: string;
let pair: WorkerPair;
let stack: TsStack;
let tsWorker: Worker;
let app: Celery;
let redis: Redis;
const pyQ = uniqueQueue("rpy");
const tsQ = uniqueQueue("rts");
const TS_HOST = "replace-ts@localhost";

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    python: { pool: "threads", concurrency: 4 },
    ts: async (urls) => {
      ({ broker, backend } = urls);
      // The TS side routes celery.accumulate to its own queue, so a group replacement made by the
      // TS worker is collected by the TS built-in; Python's goes to the default (Python) queue.
      stack = createTsStack(
        {
          broker,
          backend,
          resultExtended: true,
          taskDefaultQueue: pyQ,
          taskRoutes: { "celery.accumulate": { queue: tsQ } },
        },
        { lines: [] },
      );
      app = new Celery({ broker, backend, taskDefaultQueue: pyQ });
      stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
      stack.task("ts.mul", (_ctx, a: number, b: number) => a * b);
      stack.task("ts.xsum", (_ctx, values: number[]) => values.reduce((x, y) => x + y, 0));
      stack.task("ts.fail", (_ctx, kind: string, ...args: unknown[]) => {
        throw new PythonError(kind, args);
      });
      stack.task("ts.sleep", async (_ctx, seconds: number) => {
        await new Promise((r) => setTimeout(r, seconds * 1000));
        return seconds;
      });
      stack.task("ts.replace_with", (ctx) => ctx.replace(ctx.kwargs.replacement as SignatureDict));
      stack.task("ts.nesting", (ctx) => ({
        nesting: ctx.replacedTaskNesting,
        id: ctx.id,
        group: ctx.groupId,
        group_index: ctx.groupIndex,
        in_chord: ctx.chord !== null,
      }));
      stack.task("ts.grow_chord", async (ctx) => {
        const replacement = ctx.kwargs.replacement as SignatureDict;
        if (ctx.kwargs.lazy === true) {
          const sig: Signature = await ctx.addToChord(replacement, true);
          await applyAsync(app, sig);
        } else {
          await ctx.addToChord(replacement);
        }
        return 0;
      });
      tsWorker = stack.worker({ queues: [tsQ], concurrency: 8, hostname: TS_HOST });
      return tsWorkerSide(tsWorker, stack);
    },
  });
  redis = new Redis(backend);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await pair?.close();
});

/**
 * The Python side of every scenario: `task(name, *args, q=...)` is the interop (Python) or ts.
 * (TS) twin of a task on that language's queue; `R(sig, via)` the replacing task on `via`'s
 * worker; `G(sig, via)` the chord-growing task.
 */
const prelude = () => `
import time
from interop_app import app, emit, _record_redis
from celery import chain, group, chord
from celery.result import AsyncResult
PY, TS = ${JSON.stringify(pyQ)}, ${JSON.stringify(tsQ)}
def task(name, *args, q=PY, **kwargs):
    return app.signature(("interop." if q == PY else "ts.") + name, args=args, kwargs=kwargs, queue=q)
def R(replacement, via):
    return task("replace_with", q=PY if via == "py" else TS, replacement=replacement)
def G(replacement, via, lazy=False):
    return task("grow_chord", q=PY if via == "py" else TS, replacement=replacement, lazy=lazy)
def other(via):
    return TS if via == "py" else PY
def run(sig):
    res = sig.apply_async()
    return res, res.get(timeout=30)
def outcome(fn):
    try:
        return {"value": fn()}
    except Exception as exc:
        return {"error": [type(exc).__name__, str(exc)]}
def wait_list(key, until):
    deadline = time.time() + 20
    while True:
        items = [i.decode() for i in _record_redis().lrange(key, 0, -1)]
        if until(items) or time.time() > deadline:
            return items
        time.sleep(0.05)
def both(scenarios):
    emit({name: {via: outcome(lambda: fn(via)) for via in ("py", "ts")} for name, fn in scenarios.items()})
`;

type Outcome = { value: unknown } | { error: [string, string] };

async function scenarios(body: string): Promise<Record<string, { py: Outcome; ts: Outcome }>> {
  return pythonJson(prelude() + body, { brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ });
}

/** Every scenario's TS outcome equals the Python worker's; returns the Python values to check. */
function sameAsPython(results: Record<string, { py: Outcome; ts: Outcome }>): Record<string, Outcome> {
  const pyOnly: Record<string, Outcome> = {};
  for (const [name, { py, ts }] of Object.entries(results)) {
    expect({ name, outcome: ts }).toEqual({ name, outcome: py });
    pyOnly[name] = py;
  }
  return pyOnly;
}

describe("ctx.replace: the TS worker replaces a task as a Python 5.7 worker does", () => {
  it("replaced by a task, a chain, a group, a chord (steps on both languages)", async () => {
    const got = sameAsPython(
      await scenarios(`
both({
    "task": lambda v: run(R(task("add", 2, 3, q=other(v)), v))[1],
    "chain": lambda v: run(R(chain(task("add", 1, 2), task("mul", 10, q=TS)), v))[1],
    "group": lambda v: run(R(group(task("add", 1, 1), task("add", 2, 2, q=TS)), v))[1],
    "chord": lambda v: run(R(chord([task("add", 1, 1), task("add", 2, 2, q=TS)], task("xsum", q=TS)), v))[1],
    "chain ending in a group": lambda v: run(R(chain(task("add", 1, 1, q=TS), group(task("mul", 2), task("mul", 3, q=TS))), v))[1],
    "immutable replacement": lambda v: run(R(app.signature("interop.add", args=(4, 4), queue=PY, immutable=True), v))[1],
})
`),
    );
    expect(got).toEqual({
      task: { value: 5 },
      chain: { value: 30 },
      group: { value: [2, 4] },
      chord: { value: 6 },
      "chain ending in a group": { value: [4, 6] },
      "immutable replacement": { value: 8 },
    });
  });

  it("inside a chain, a group, a chord header and a chord body", async () => {
    const got = sameAsPython(
      await scenarios(`
both({
    "chain step by chain": lambda v: run(chain(task("add", 1, 1), R(chain(task("add", 5, 5, q=TS), task("mul", 2)), v), task("mul", 3, q=TS)))[1],
    "chain step by group": lambda v: run(chain(task("add", 1, 1), R(group(task("add", 1, 1), task("add", 2, 2, q=TS)), v), task("xsum")))[1],
    "chain step by chord": lambda v: run(chain(task("add", 1, 1, q=TS), R(chord([task("add", 3, 3), task("add", 4, 4, q=TS)], task("xsum")), v), task("mul", 2, q=TS)))[1],
    "last chain step by task": lambda v: run(chain(task("add", 1, 1), R(task("add", 7, 7, q=TS), v)))[1],
    "group members": lambda v: run(group(task("add", 1, 1), R(task("add", 2, 2, q=TS), v), R(group(task("add", 3, 3, q=TS), task("add", 4, 4)), v)))[1],
    "chord header members": lambda v: run(chord([task("add", 1, 1), R(chain(task("add", 2, 2, q=TS), task("mul", 10)), v), R(group(task("add", 1, 1), task("add", 2, 2, q=TS)), v)], task("echo")))[1],
    "chord body by chain": lambda v: run(chord([task("add", 1, 1), task("add", 2, 2, q=TS)], R(chain(task("add", 1, 1), task("mul", 5, q=TS)), v)))[1],
    "chord body by group": lambda v: run(chord([task("add", 1, 1), task("add", 2, 2, q=TS)], R(group(task("add", 1, 1, q=TS), task("add", 2, 2)), v)))[1],
})
`),
    );
    expect(got).toEqual({
      "chain step by chain": { value: 60 },
      "chain step by group": { value: 6 },
      "chain step by chord": { value: 28 },
      "last chain step by task": { value: 14 },
      "group members": { value: [2, 4, [6, 8]] },
      "chord header members": { value: [[[2, 40, [2, 4]]], {}] },
      "chord body by chain": { value: 10 },
      "chord body by group": { value: [2, 4] },
    });
  });

  it("replaced_task_nesting counts up through replacements on both languages; id and membership kept", async () => {
    const got = sameAsPython(
      await scenarios(`
def leaf_of(res, value):
    return {**value, "id": value["id"] == res.id, "group": value["group"] is not None}
def nested(v, leaf_q):
    res, value = run(R(R(R(task("nesting", q=leaf_q), v), other(v)), v))
    return leaf_of(res, value)
def in_group(v):
    res, value = run(group(task("add", 1, 1), R(R(task("nesting", q=other(v)), other(v)), v)))
    return [value[0], leaf_of(res.results[1], value[1])]
def in_header(v):
    res, value = run(chord([R(task("nesting", q=TS), v), task("nesting")], task("echo")))
    parts = value[0][0]
    return [x["nesting"] for x in parts] + [x["in_chord"] for x in parts] + [x["group_index"] for x in parts]
both({
    "three deep, Python leaf": lambda v: nested(v, PY),
    "three deep, TS leaf": lambda v: nested(v, TS),
    "in a group": in_group,
    "in a chord header": in_header,
})
`),
    );
    const leaf = { nesting: 3, id: true, group: false, group_index: null, in_chord: false };
    expect(got).toEqual({
      "three deep, Python leaf": { value: leaf },
      "three deep, TS leaf": { value: leaf },
      "in a group": { value: [2, { nesting: 2, id: true, group: true, group_index: 1, in_chord: false }] },
      "in a chord header": { value: [1, 0, true, true, 0, 1] },
    });
  });

  it("callbacks, errbacks and chain stamps of the replaced task carry over as in Celery", async () => {
    const got = sameAsPython(
      await scenarios(`
def callback(v):
    key = "replace:cb:" + v
    res, value = run(R(chain(task("add", 2, 3, q=other(v)), task("mul", 10)), v).set(link=task("record", key=key)))
    return [value, wait_list(key, lambda items: len(items) >= 1)]
def errback(v):
    sig = R(task("fail", "ValueError", "boom", q=other(v)), v).set(link_error=task("record_failed"))
    res = sig.apply_async()
    try:
        res.get(timeout=30)
        return "no error"
    except Exception as exc:
        return [type(exc).__name__, str(exc), res.id in wait_list("interop:failed", lambda items: res.id in items)]
def stamps_of_replaced(v):
    # Celery 5.7's Task.replace does not copy the replaced request's stamps onto the replacement.
    res, value = run(R(task("headers"), v).set(stamped_headers=["mystamp"], mystamp="m1"))
    return value["request"]["stamps"]
def stamps_of_next_step(v):
    # A step after the replaced one keeps the stamps in its own options.
    step = task("headers").set(stamped_headers=["mystamp"], mystamp="m2")
    res, value = run(chain(task("add", 1, 1), R(task("add", 2, 2, q=other(v)), v), step))
    return [value["args"], value["request"]["stamps"]]
both({"callback": callback, "errback": errback, "stamps of the replaced task": stamps_of_replaced,
      "stamps of the next chain step": stamps_of_next_step})
`),
    );
    expect(got).toEqual({
      callback: { value: [50, ["50"]] },
      errback: { value: ["ValueError", "boom", true] },
      "stamps of the replaced task": { value: {} },
      "stamps of the next chain step": { value: [[4], { mystamp: "m2" }] },
    });
  });

  it("refused signatures fail the task with ImproperlyConfigured; the replaced task stores nothing of its own", async () => {
    const got = sameAsPython(
      await scenarios(`
def meta(v):
    res, value = run(R(task("add", 20, 22, q=TS), v))
    m = AsyncResult(res.id)._get_task_meta()
    return [value, m["status"], m["name"], m["args"]]
def stores_nothing(v):
    # The replacement stores no result either (ignore_result): once its callback ran, the
    # replaced id must still be PENDING, i.e. the replaced task wrote no state of its own.
    key = "replace:quiet:" + v
    res = R(task("add", 1, 2, q=TS).set(ignore_result=True, link=task("record", key=key)), v).apply_async()
    return [wait_list(key, lambda items: len(items) >= 1), AsyncResult(res.id).state]
both({
    "replaced task stores nothing": stores_nothing,
    "empty chain": lambda v: run(R(chain(), v))[1],
    "signature already in a chord": lambda v: run(R(task("add", 1, 1).set(chord=task("xsum")), v))[1],
    "stored meta is the replacement's": meta,
})
`),
    );
    expect(got).toEqual({
      "empty chain": { error: ["ImproperlyConfigured", "Cannot replace with an empty chain"] },
      "signature already in a chord": {
        error: ["ImproperlyConfigured", "A signature replacing a task must not be part of a chord"],
      },
      "stored meta is the replacement's": { value: [42, "SUCCESS", "ts.add", [20, 22]] },
      "replaced task stores nothing": { value: [["3"], "PENDING"] },
    });
  });

  it("a group replacement is collected by celery.accumulate where the last member's worker routes it (TS built-in here)", async () => {
    // The last header member to finish sends the accumulate body through its own app's routes:
    // Python's to the default (Python) queue, the TS app's to the TS queue.
    const workers = await pythonJson<Record<string, string>>(
      `${prelude()}
out = {}
for via in ("py", "ts"):
    q = PY if via == "py" else TS
    res, value = run(R(group(task("add", 1, 1, q=q), task("add", 2, 2, q=q)), via))
    m = AsyncResult(res.id)._get_task_meta()
    out[via] = [value, m["name"], m["worker"]]
emit(out)
`,
      { brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ },
    );
    expect(workers).toEqual({
      py: [[2, 4], "celery.accumulate", pair.py.hostname],
      ts: [[2, 4], "celery.accumulate", TS_HOST],
    });
  });
});

describe("ctx.addToChord: the chord waits for the added task, as 5.7 counts it on Redis", () => {
  it("added task, lazily added task, a chord added to a chord, and a task outside any chord", async () => {
    const got = sameAsPython(
      await scenarios(`
both({
    "task": lambda v: run(chord([task("add", 1, 1), G(task("add", 10, 10, q=other(v)), v)], task("xsum")))[1],
    "lazy": lambda v: run(chord([task("add", 1, 1, q=TS), G(task("add", 5, 5), v, lazy=True)], task("xsum", q=TS)))[1],
    "chord added to a chord": lambda v: run(chord([task("add", 1, 1), G(chord([task("add", 1, 1, q=TS), task("add", 2, 2)], task("xsum", q=TS)), v)], task("xsum")))[1],
    "not in a chord": lambda v: run(G(task("add", 1, 1), v))[1],
})
`),
    );
    expect(got).toEqual({
      task: { value: 22 },
      lazy: { value: 12 },
      "chord added to a chord": { value: 8 },
      "not in a chord": { error: ["ValueError", "Current task is not member of any chord"] },
    });
  });

  it("the .t key counts the added part while the chord waits (same value from both workers)", async () => {
    const seen: Record<string, { t: string | null; s: string | null }> = {};
    for (const via of ["py", "ts"] as const) {
      const started = await pythonJson<{ gid: string; id: string }>(
        `${prelude()}
res = chord([task("add", 1, 1), G(task("sleep", 1.5, q=other("${via}")), "${via}")], task("echo")).apply_async()
emit({"gid": res.parent.id, "id": res.id})
`,
        { brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ },
      );
      const tKey = `celery-taskset-meta-${started.gid}.t`;
      const sKey = `celery-taskset-meta-${started.gid}.s`;
      // The added task sleeps 1.5 s after .t was incremented: read the keys in that window.
      let t: string | null | undefined = null;
      let s: string | null | undefined = null;
      for (let i = 0; i < 200 && t === null; i++) {
        [t, s] = await redis.mget(tKey, sKey);
        if (t === null) await new Promise((r) => setTimeout(r, 25));
      }
      seen[via] = { t: t ?? null, s: s ?? null };
      const body = await app.asyncResult(started.id).get({ timeoutMs: 30_000 });
      // echo gets the three parts: the header member, the grower's 0 and the added task's 1.5.
      expect(JSON.stringify(body)).toMatch(/^\[\[\[2, ?(0, ?1\.5|1\.5, ?0)\]\],\{\}\]$/);
    }
    expect(seen.ts).toEqual(seen.py);
    expect(seen.py).toEqual({ t: "1", s: "2" });
  });
});
