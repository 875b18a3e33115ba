/**
 * Errbacks and callbacks linked to groups and chords, as Celery's own integration tests build them
 * (celery t/integration/test_canvas.py, 5.7), run by a TS worker and by a stock Celery 5.7 worker
 * in the same test (issue 13, item 4 and the group/chord failures). Each workflow is built in
 * Python; the Python run and the TS run each use their own queue (every task, callback and errback
 * of the run goes there: the producer's default queue and each worker's), and what they leave
 * behind (the raised error, the errback's Redis effects, stored metas) is compared.
 *
 * The TS worker registers the same task names as python-interop/app/canvas_peer.py; its
 * `peer.errback_new_style` / `peer.errback_record` take `(request, exc, traceback)`, so it calls
 * them in-process with the failed request, as a Python worker does (Backend._call_task_errbacks).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, group, s, si } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { ErrbackRequest } from "../../src/index.js";
import { PythonError } from "../../src/worker/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { uniqueQueue } from "../support/services.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../support/worker-pair.js";

let broker: string;
let backend: string;
let pair: WorkerPair;
let app: Celery;
let tsWorker: Worker;
let records: Redis;
const pyQ = uniqueQueue("ebpy");
const tsQ = uniqueQueue("ebts");

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    python: { extraArgs: ["-I", "canvas_peer"], pool: "threads", concurrency: 4 },
    ts: async (urls) => {
      records = new Redis(urls.backend);
      app = new Celery({ ...urls, taskDefaultQueue: tsQ, resultExtended: true });
      app.task("peer.identity", (_ctx, x: unknown) => x);
      app.task("peer.add", (_ctx, x: number, y: number) => x + y);
      app.task("peer.fail", (_ctx, ...args: unknown[]) => {
        throw new PythonError("ExpectedException", ["Task expected to fail", ...args], "canvas_peer");
      });
      app.task("peer.redis_echo", async (ctx, message: string, redisKey?: string) => {
        await records.rpush(String(redisKey ?? ctx.kwargs.redis_key ?? "redis-echo"), message);
      });
      app.task("peer.redis_count", async (ctx, redisKey?: string) => {
        await records.incr(String(redisKey ?? ctx.kwargs.redis_key ?? "redis-count"));
      });
      app.task("peer.errback_old_style", async (_ctx, requestId: string) => {
        await records.incr(requestId);
        return requestId;
      });
      app.task(
        "peer.errback_new_style",
        async (_ctx, request: ErrbackRequest, _exc: unknown, _tb: unknown) => {
          await records.incr(request.id);
          return request.id;
        },
      );
      app.task(
        "peer.errback_record",
        async (_ctx, request: ErrbackRequest, exc: unknown, tb: unknown, ...stored: unknown[]) => {
          const e = exc as { excType?: string; name?: string; excArgs?: unknown[]; excMessage?: unknown[] };
          const seen = {
            id: request.id,
            task: request.task,
            exc_type: e.excType ?? e.name,
            exc_args: (e.excArgs ?? e.excMessage ?? []).map((a) =>
              typeof a === "string" ? `'${a}'` : String(a),
            ),
            traceback: tb !== null && tb !== undefined,
            stored,
          };
          await records.rpush(`errback:${request.id}`, JSON.stringify(seen, Object.keys(seen).sort()));
        },
      );
      tsWorker = app.worker({ queues: [tsQ], concurrency: 4, hostname: "errbacks-ts@localhost" });
      return tsWorkerSide(tsWorker, app, { closeFirst: async () => records.disconnect() });
    },
  });
  ({ broker, backend } = pair);
}, 90_000);

afterAll(async () => {
  await pair?.close();
});

const PRELUDE = `
import json, re, time, uuid
from interop_app import app, emit, _record_redis
import canvas_peer as peer
from canvas_peer import ExpectedException
from celery import chain, chord, group, signature

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
r = _record_redis()

def norm(value, queue, other):
    ids = {}
    text = json.dumps(value, default=repr, sort_keys=True).replace(queue, "<queue>").replace(other, "<other>")
    return json.loads(UUID.sub(lambda m: ids.setdefault(m.group(0), "<id%d>" % len(ids)), text))

def until(read, done, timeout=15):
    deadline = time.time() + timeout
    while True:
        value = read()
        if done(value) or time.time() > deadline:
            return value
        time.sleep(0.05)

def outcome(res):
    # get() raises a failed parent's error if it sees one while waiting, else the result's own:
    # waiting until the result is ready first makes that choice independent of timing.
    until(res.ready, bool, 20)
    try:
        return {"value": res.get(timeout=20)}
    except Exception as e:
        return {"raised": type(e).__name__, "args": [repr(a) for a in e.args]}

def echo(key, n=1):
    return [m.decode() for m in until(lambda: r.lrange(key, 0, -1), lambda v: len(v) >= n)]

def count(key, n=1):
    return int(until(lambda: r.get(key) or 0, lambda v: int(v) >= n))

def meta(task_id):
    m = dict(app.backend.get_task_meta(task_id))
    for k in ("date_done", "worker", "traceback"):
        m.pop(k, None)
    return m
`;

/** Runs `body` (Python defining `run()`, reading the queue from `Q`) on the Python queue, then on the TS queue. */
async function both(body: string): Promise<{ py: unknown; ts: unknown }> {
  // Q: this run's queue (Python's, then the TS worker's); O: the other language's, for mixed members.
  const runs = [
    [pyQ, tsQ],
    [tsQ, pyQ],
  ].map(
    ([q, o]) =>
      `app.conf.task_default_queue = Q = ${JSON.stringify(q)}\nO = ${JSON.stringify(o)}\nouts.append(norm(run(), Q, O))`,
  );
  const [py, ts] = await pythonJson<[unknown, unknown]>(
    `${PRELUDE}\n${body}\nouts = []\n${runs.join("\n")}\nemit(outs)`,
    { brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ },
  );
  return { py, ts };
}

const CASES: [string, string][] = [
  [
    "group link: the callback runs after the first member",
    `
def run():
    key, msg = str(uuid.uuid4()), "called"
    g = group(peer.identity.si(42), peer.identity.si(1337))
    g.link(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(g.delay()), "echo": echo(key)}
`,
  ],
  [
    "group link_error, the first member fails",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    g = group(peer.fail.s(), peer.identity.si(42))
    g.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(g.delay()), "echo": echo(key)}
`,
  ],
  [
    "group link_error, the last member fails",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    g = group(peer.identity.si(42), peer.fail.s())
    g.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(g.delay()), "echo": echo(key)}
`,
  ],
  [
    "group with a mutable old-style errback",
    `
def run():
    f = peer.fail.s()
    fid = f.freeze().id
    g = group(f, peer.identity.si(42))
    g.link_error(peer.errback_old_style.s())
    return {"out": outcome(g.delay()), "count": count(fid)}
`,
  ],
  [
    "group with a mutable new-style errback (called in-process)",
    `
def run():
    f = peer.fail.s()
    fid = f.freeze().id
    g = group(f, peer.identity.si(42))
    g.link_error(peer.errback_new_style.s())
    return {"out": outcome(g.delay()), "count": count(fid)}
`,
  ],
  [
    "group where several members fail: the errback runs once per failure",
    `
def run():
    key = str(uuid.uuid4())
    g = group(*(peer.identity.si(42) for _ in range(3)), *(peer.fail.s() for _ in range(4)))
    g.link_error(peer.redis_count.si(redis_key=key))
    return {"out": outcome(g.delay()), "count": count(key, 4)}
`,
  ],
  [
    "chord with a failing simple header member: immutable errback",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    c = chord((peer.fail.s(),), peer.identity.s())
    c.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(c.delay()), "echo": echo(key)}
`,
  ],
  [
    "chord with a failing simple body: immutable errback",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    c = chord((peer.identity.si(42),), peer.fail.s())
    c.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(c.delay()), "echo": echo(key)}
`,
  ],
  [
    "chord with a failing header member: mutable old-style errback gets the body id",
    `
def run():
    c = chord((peer.fail.s(),), peer.identity.s())
    c.link_error(peer.errback_old_style.s())
    bid = c.body.freeze().id
    return {"out": outcome(c.delay()), "count": count(bid)}
`,
  ],
  [
    "chord with a failing header member: mutable new-style errback gets the body's request",
    `
def run():
    c = chord((peer.fail.s(),), peer.identity.s())
    c.link_error(peer.errback_new_style.s())
    bid = c.body.freeze().id
    return {"out": outcome(c.delay()), "count": count(bid)}
`,
  ],
  [
    "chord with a header chain failing before its end: immutable errback",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    c = chord((chain(peer.identity.si(42), peer.fail.s(), peer.identity.si(42)),), peer.identity.s())
    c.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(c.delay()), "echo": echo(key)}
`,
  ],
  [
    "chord with a header group where several fail: the body errback runs once",
    `
def run():
    key, msg = str(uuid.uuid4()), "errback"
    c = chord(group(peer.fail.s(), peer.identity.si(1), peer.fail.s()), peer.identity.s())
    c.link_error(peer.redis_echo.si(msg, redis_key=key))
    return {"out": outcome(c.delay()), "echo": echo(key)}
`,
  ],
  [
    "chord whose body is a group: a header failure reaches every body member's errback",
    `
def run():
    a, b = peer.identity.s(), peer.identity.s()
    a.link_error(peer.errback_old_style.s())
    b.link_error(peer.errback_old_style.s())
    c = chord((peer.fail.s(),), group(a, b))
    res = c.delay()
    out = outcome(res)
    ids = [x.id for x in res.results]
    metas = [meta(i) for i in ids + [res.id]]
    # Celery stores these without a request, so their children are those of whatever task the
    # storing worker is running (here the failed header task: its errback groups): a Python
    # worker quirk (Backend.current_task_children) the TS worker does not copy.
    for m in metas:
        m.pop("children", None)
    return {"out": out, "counts": [count(i) for i in ids], "metas": metas}
`,
  ],
  [
    "nested chord whose tail is a group inside a chain",
    `
def run():
    sig = chord(group(chain(peer.identity.s(42), group(peer.identity.s(), peer.identity.s()))), peer.identity.s())
    return {"out": outcome(sig.delay())}
`,
  ],
  [
    "new-style errback sees the failed request, the exception and a traceback",
    `
def run():
    f = peer.fail.s("x", 7)
    fid = f.freeze().id
    f.link_error(peer.errback_record.s("stored"))
    out = outcome(f.delay())
    seen = [json.loads(m) for m in echo("errback:" + fid)]
    return {"out": out, "seen": seen}
`,
  ],
  [
    "chord with a header chain failing at its end, then with that chain as the body: new-style errback",
    `
def run():
    seen = []
    for header_fails in (True, False):
        child = chain(peer.identity.si(42), peer.fail.s())
        c = chord((child,), peer.identity.s()) if header_fails else chord((peer.identity.si(42),), child)
        c.link_error(peer.errback_new_style.s())
        bid = c.body.freeze().id
        seen.append({"out": outcome(c.delay()), "count": count(bid)})
    return seen
`,
  ],
  [
    "chord whose body is a group where several fail: a mutable errback once per failed member",
    `
def run():
    fails = [peer.fail.s() for _ in range(3)]
    ids = [f.freeze().id for f in fails]
    c = chord((peer.identity.si(42),), group(peer.identity.si(1), *fails))
    c.link_error(peer.errback_new_style.s())
    return {"out": outcome(c.delay()), "counts": [count(i) for i in ids]}
`,
  ],
  [
    "chord whose header group has several failures: the body's immutable errback runs once",
    `
def run():
    key = str(uuid.uuid4())
    c = chord((group(peer.identity.si(42), *(peer.fail.s() for _ in range(3))),), peer.identity.s())
    c.link_error(peer.redis_count.si(redis_key=key))
    out = outcome(c.delay())
    return {"out": out, "count": count(key)}
`,
  ],
  [
    "chord .j entries on error: the first failed member in header order is reported with its repr",
    `
def run():
    header = (peer.identity.si(1), peer.fail.s({"k": [1, 2.5]}, None, "\u00e9\\n'q'", 2**70), peer.fail.s("later"))
    res = chord(header, peer.identity.s()).delay()
    until(res.ready, bool, 20)
    return {"body": meta(res.id), "members": [meta(m.id)["status"] for m in res.parent.results]}
`,
  ],
  [
    "chord .j entries on error: an expired (revoked) header member",
    `
from datetime import datetime, timedelta, timezone
def run():
    past = datetime.now(timezone.utc) - timedelta(seconds=30)
    res = chord((peer.identity.si(1).set(expires=past), peer.identity.si(2)), peer.identity.s()).delay()
    until(res.ready, bool, 20)
    return {"body": meta(res.id)}
`,
  ],
  [
    "mixed: a group failing on both workers calls each failed task's new-style errback once",
    `
def run():
    f1, f2 = peer.fail.s().set(queue=O), peer.fail.s()
    ids = [f1.freeze().id, f2.freeze().id]
    g = group(f1, peer.identity.si(1).set(queue=O), f2)
    g.link_error(peer.errback_new_style.s())
    return {"out": outcome(g.delay()), "counts": [count(i) for i in ids]}
`,
  ],
  [
    "mixed: a chord with a group body, header and body members on both workers",
    `
def run():
    a, b = peer.identity.s().set(queue=O), peer.identity.s()
    a.link_error(peer.errback_old_style.s())
    b.link_error(peer.errback_old_style.s())
    c = chord((peer.identity.si(1).set(queue=O), peer.fail.s()), group(a, b))
    res = c.delay()
    out = outcome(res)
    ids = [x.id for x in res.results]
    metas = [meta(i) for i in ids + [res.id]]
    for m in metas:
        m.pop("children", None)
    return {"out": out, "counts": [count(i) for i in ids], "metas": metas}
`,
  ],
  [
    "mixed: a nested chord whose tail group runs on both workers keeps its shape",
    `
def run():
    tail = group(peer.identity.s().set(queue=O), peer.identity.s())
    sig = chord(group(chain(peer.identity.s(42).set(queue=O), tail)), peer.identity.s())
    return {"out": outcome(sig.delay())}
`,
  ],
];

describe("errbacks and callbacks of groups and chords: the TS worker does what a Python worker does", () => {
  for (const [name, body] of CASES) {
    it(name, async () => {
      const { py, ts } = await both(body);
      expect(ts).toEqual(py);
    });
  }
});

describe("the same workflows built in TS", () => {
  it("a nested chord whose tail is a group inside a chain: the body gets [[42, 42]], as from Python", async () => {
    const fromPython = await pythonJson<unknown>(
      `
from interop_app import app, emit
import canvas_peer as peer
from celery import chain, chord, group
app.conf.task_default_queue = ${JSON.stringify(pyQ)}
sig = chord(group(chain(peer.identity.s(42), group(peer.identity.s(), peer.identity.s()))), peer.identity.s())
emit(sig.delay().get(timeout=20))
`,
      { brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ },
    );
    const res = await applyAsync(
      app,
      chord(
        group(chain(s("peer.identity", 42), group(s("peer.identity"), s("peer.identity")))),
        s("peer.identity"),
      ),
    );
    expect(fromPython).toEqual([[42, 42]]);
    expect(await res.get({ timeoutMs: 20_000 })).toEqual(fromPython);
  });

  it("a TS errback taking (request, exc, traceback) linked from TS is called in-process", async () => {
    const failing = si("peer.fail", "ts");
    failing.linkError(s("peer.errback_record", "kept"));
    const res = await applyAsync(app, failing);
    await expect(res.get({ timeoutMs: 20_000 })).rejects.toMatchObject({ excType: "ExpectedException" });
    // Its own connection: a BLPOP on `records` would hold up the errback's RPUSH on it.
    const waiter = records.duplicate();
    const seen = await waiter.blpop(`errback:${res.id}`, 20).finally(() => waiter.disconnect());
    expect(JSON.parse(seen?.[1] ?? "null")).toEqual({
      exc_args: ["'Task expected to fail'", "'ts'"],
      exc_type: "ExpectedException",
      id: res.id,
      stored: ["kept"],
      task: "peer.fail",
      traceback: true,
    });
  });
});
