/**
 * Celery's map built-ins on a TS worker (issue 13, item 5): `celery.map`, `celery.starmap` and
 * `celery.chunks` (celery/app/builtins.py) for tasks the TS worker registers, and the TS client's
 * `xmap` / `xstarmap` / `chunks` (celery/canvas.py `_basemap`, `chunks`). Every workflow is built in
 * Python and run twice in the same test, once on a stock Celery 5.7 worker and once on a TS worker
 * that registers the same task names (python-interop/app/canvas_peer.py); what each stored is read
 * by Python and compared, ids replaced by their order of appearance.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chunks, s, xmap, xstarmap } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
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
let redis: Redis;
const pyQ = uniqueQueue("bipy");
const tsQ = uniqueQueue("bits");
const capQ = uniqueQueue("bicap");
const TS_HOST = "builtins-ts@localhost";

beforeAll(async () => {
  pair = await startWorkerPair({
    pyQ,
    tsQ,
    python: { extraArgs: ["-I", "canvas_peer"] },
    ts: async (urls) => {
      app = new Celery({ ...urls, taskDefaultQueue: tsQ, resultExtended: true });
      app.task("peer.identity", (_ctx, x: unknown) => x);
      app.task("peer.add", (_ctx, x: number, y: number) => x + y);
      app.task("peer.fail", (_ctx, ...args: unknown[]) => {
        throw new PythonError("ExpectedException", ["Task expected to fail", ...args], "canvas_peer");
      });
      tsWorker = app.worker({ queues: [tsQ], concurrency: 4, hostname: TS_HOST });
      return tsWorkerSide(tsWorker, app);
    },
  });
  ({ broker, backend } = pair);
  redis = new Redis(broker);
}, 90_000);

afterAll(async () => {
  redis?.disconnect();
  await pair?.close();
});

const PRELUDE = `
import json, re
from interop_app import app, emit
import canvas_peer as peer
from celery import group, signature
from celery.canvas import chunks, xmap, xstarmap
from celery.result import AsyncResult, GroupResult

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

def norm(value, queue):
    ids = {}
    text = json.dumps(value, default=repr, sort_keys=True).replace(queue, "<queue>")
    return json.loads(UUID.sub(lambda m: ids.setdefault(m.group(0), "<id%d>" % len(ids)), text))

def meta(task_id):
    m = dict(app.backend.get_task_meta(task_id))
    m["traceback"] = m.get("traceback") is not None
    m.pop("date_done", None)
    m.pop("worker", None)
    return m

def outcome(res, queue):
    if isinstance(res, GroupResult):
        value = res.get(timeout=30, propagate=False)
        metas = [meta(r.id) for r in res.results]
    else:
        value = res.get(timeout=30, propagate=False)
        metas = [meta(res.id)]
    if isinstance(value, BaseException):
        value = {"raised": type(value).__name__, "args": [repr(a) for a in value.args]}
    return norm({"value": value, "metas": metas}, queue)
`;

const env = () => ({ brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ });

/** Runs `body` (Python defining `run(Q)`) for the Python queue then the TS queue; returns both outcomes. */
async function both(body: string): Promise<{ py: unknown; ts: unknown }> {
  const [py, ts] = await pythonJson<[unknown, unknown]>(
    `${PRELUDE}\n${body}\nemit([outcome(run(${JSON.stringify(pyQ)}), ${JSON.stringify(pyQ)}), outcome(run(${JSON.stringify(tsQ)}), ${JSON.stringify(tsQ)})])`,
    env(),
  );
  return { py, ts };
}

describe("Python builds xmap / xstarmap / chunks, a TS worker runs them as a Python worker does", () => {
  it("Task.map: celery.map calls the task once per item, in order", async () => {
    const { py, ts } = await both(`
def run(Q):
    return peer.identity.map([1, "two", [3], {"4": None}]).apply_async(queue=Q)
`);
    expect((py as { value: unknown }).value).toEqual([1, "two", [3], { "4": null }]);
    expect(ts).toEqual(py);
  });

  it("Task.starmap: celery.starmap spreads each item as the arguments", async () => {
    const { py, ts } = await both(`
def run(Q):
    return peer.add.starmap([(1, 2), (3, 4), (5, 6)]).apply_async(queue=Q)
`);
    expect((py as { value: unknown }).value).toEqual([3, 7, 11]);
    expect(ts).toEqual(py);
  });

  it("Task.chunks: a group of celery.starmap parts of n items", async () => {
    const { py, ts } = await both(`
def run(Q):
    return peer.add.chunks(zip(range(7), range(7)), 3).apply_async(queue=Q)
`);
    expect((py as { value: unknown }).value).toEqual([[0, 2, 4], [6, 8, 10], [12]]);
    expect(ts).toEqual(py);
  });

  it("celery.chunks sent as a task: it sends the starmap group and stores its GroupResult tuple", async () => {
    const { py, ts } = await both(`
def run(Q):
    return app.send_task("celery.chunks", kwargs={"task": peer.add.s(), "it": [[1, 1], [2, 2], [3, 3]], "n": 2}, queue=Q)
`);
    // [[group id, None], [[[part id, None], None], ...]]: GroupResult.as_tuple() of two parts.
    const value = (py as { value: [unknown, unknown[]] }).value;
    expect(value[1]).toHaveLength(2);
    // Sent from inside the task, the group is also the task's child (add_trail), on both workers.
    const children = (py as { metas: { children: unknown[] }[] }).metas[0]?.children;
    expect(children).toHaveLength(1);
    expect(ts).toEqual(py);
  });

  it("a failing mapped task fails the map with its exception", async () => {
    const { py, ts } = await both(`
def run(Q):
    return peer.fail.map([7]).apply_async(queue=Q)
`);
    expect((py as { value: unknown }).value).toEqual({
      raised: "ExpectedException",
      args: ["'Task expected to fail'", "7"],
    });
    expect(ts).toEqual(py);
  });

  it("mapping a task the worker does not host fails with NotRegistered", async () => {
    const { py, ts } = await both(`
def run(Q):
    return xmap(signature("peer.not_here"), [1]).apply_async(queue=Q)
`);
    expect((py as { value: unknown }).value).toEqual({ raised: "NotRegistered", args: ["'peer.not_here'"] });
    expect(ts).toEqual(py);
  });

  it("xstarmap is routed by the mapped task's name (task_routes send it to the TS queue)", async () => {
    const out = await pythonJson<{ value: number[]; worker: string; queue: string }>(
      `
from interop_app import app, emit
import canvas_peer as peer
r = peer.add.starmap([(20, 22)]).apply_async()
v = r.get(timeout=30)
m = app.backend.get_task_meta(r.id)
emit({"value": v, "worker": m["worker"], "queue": m["queue"]})
`,
      { ...env(), config: { task_routes: { "peer.add": { queue: tsQ } } } },
    );
    expect(out).toEqual({ value: [42], worker: TS_HOST, queue: tsQ });
  });
});

describe("TS builds xmap / xstarmap / chunks", () => {
  it("the signature dicts equal Python's", async () => {
    const fromPython = await pythonJson<unknown>(
      `
from interop_app import app, emit
import canvas_peer as peer
from celery.canvas import chunks
emit([peer.identity.map([1, 2]), peer.add.starmap([[1, 2]]), peer.add.chunks([[1, 2], [3, 4], [5, 6]], 2),
      chunks(peer.add.s(), [[1, 2], [3, 4], [5, 6]], 2).group()])
`,
      env(),
    );
    const fromTs = [
      xmap(s("peer.identity"), [1, 2]),
      xstarmap(s("peer.add"), [[1, 2]]),
      chunks(
        s("peer.add"),
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        2,
      ),
      chunks(
        s("peer.add"),
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        2,
      ).group(),
    ].map((sig) => sig.toDict());
    expect(JSON.parse(JSON.stringify(fromTs))).toEqual(fromPython);
  });

  it("the messages equal Python's on the wire (headers, body, properties)", async () => {
    const fromPython = await pythonJson<unknown[]>(
      `
import base64, json, redis
from interop_app import app, emit
import canvas_peer as peer
peer.identity.map([1, 2]).apply_async(queue=${JSON.stringify(capQ)})
peer.add.starmap([[1, 2]]).apply_async(queue=${JSON.stringify(capQ)})
peer.add.chunks([[1, 2], [3, 4], [5, 6]], 2).apply_async(queue=${JSON.stringify(capQ)})
client = redis.Redis.from_url(${JSON.stringify(broker)})
emit([m.decode() for m in reversed(client.lrange(${JSON.stringify(capQ)}, 0, -1))])
`,
      env(),
    );
    await redis.del(capQ);
    await applyAsync(app, xmap(s("peer.identity"), [1, 2]), [], {}, { queue: capQ });
    await applyAsync(app, xstarmap(s("peer.add"), [[1, 2]]), [], {}, { queue: capQ });
    await applyAsync(
      app,
      chunks(
        s("peer.add"),
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        2,
      ),
      [],
      {},
      { queue: capQ },
    );
    const fromTs = (await redis.lrange(capQ, 0, -1)).reverse();
    await redis.del(capQ);
    expect(fromTs.map(comparable)).toEqual(fromPython.map((m) => comparable(m as string)));
  });

  it("a TS-built xmap, xstarmap and chunks run on the TS worker; Python reads the results", async () => {
    const map = await applyAsync(app, xmap(s("peer.identity"), ["a", "b"]));
    const star = await applyAsync(
      app,
      xstarmap(s("peer.add"), [
        [1, 2],
        [3, 4],
      ]),
    );
    const parts = await applyAsync(
      app,
      chunks(
        s("peer.add"),
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        2,
      ),
    );
    const ids = { map: map.id, star: star.id, parts: parts.id, children: parts.results.map((r) => r.id) };
    const read = await pythonJson<unknown>(
      `
from interop_app import app, emit
from celery.result import AsyncResult, GroupResult
ids = ${JSON.stringify(ids)}
emit({
    "map": AsyncResult(ids["map"], app=app).get(timeout=30),
    "star": AsyncResult(ids["star"], app=app).get(timeout=30),
    "parts": GroupResult(ids["parts"], [AsyncResult(i, app=app) for i in ids["children"]]).get(timeout=30),
    "worker": app.backend.get_task_meta(ids["map"])["worker"],
})
`,
      env(),
    );
    expect(read).toEqual({ map: ["a", "b"], star: [3, 7], parts: [[2, 4], [6]], worker: TS_HOST });
  });
});

/** A Redis message as JSON with the values that differ per send (ids, origin, delivery tag) blanked. */
function comparable(raw: string): unknown {
  const msg = JSON.parse(raw) as {
    body: string;
    headers: Record<string, unknown>;
    properties: Record<string, unknown>;
  } & Record<string, unknown>;
  const ids = new Map<string, string>();
  const blank = (text: string) =>
    text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `<id${ids.size}>`);
      return ids.get(id) as string;
    });
  const body = JSON.parse(Buffer.from(msg.body, "base64").toString("utf8")) as unknown;
  const headers = { ...msg.headers, origin: "<origin>" };
  const properties = { ...msg.properties, delivery_tag: "<tag>" };
  return JSON.parse(blank(JSON.stringify({ ...msg, body, headers, properties })));
}
