/**
 * Stamps and bytes in workflows a Python producer builds and a TS worker forwards (issue 13):
 * a stock Celery 5.7 worker on `pyQ`, a TS worker (this process) on `tsQ`, one Redis broker and
 * backend. Forwarded messages are sent to capture queues nobody consumes; a Python snippet reads
 * them back with kombu and they are compared with what the Python worker forwarded for the same
 * workflow in the same test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let broker: string;
let backend: string;
let pyWorker: CeleryWorker;
let stack: TsStack;
let tsWorker: Worker;
const pyQ = uniqueQueue("stpy");
const tsQ = uniqueQueue("stts");
const logLines: string[] = [];

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQ],
    defaultQueue: pyQ,
    config: { imports: ["stamping_tasks"] },
  });
  stack = createTsStack({ broker, backend, resultExtended: true }, { lines: logLines });
  stack.task("ts.add", (_ctx, a: number, b: number) => a + b);
  // interop.echo's twin: [args, kwargs] as received.
  stack.task("ts.echo", (ctx, ...args: unknown[]) => [args, ctx.kwargs]);
  // Twins of python-interop/app/stamping_tasks.py.
  stack.task("stamps.view", (ctx) => ({ stamped_headers: ctx.stampedHeaders, stamps: ctx.stamps }));
  stack.task("stamps.retry_to", (ctx, queue: string) => {
    if (ctx.retries === 0) ctx.retry({ queue, countdown: 0 });
    return { stamped_headers: ctx.stampedHeaders, stamps: ctx.stamps };
  });
  tsWorker = stack.worker({ queues: [tsQ], concurrency: 4, hostname: "stamps-ts@localhost" });
  await tsWorker.start();
});

afterAll(async () => {
  await tsWorker?.close({ timeout: 5000 });
  await stack?.close();
  await pyWorker?.stop();
});

const env = () => ({ brokerUrl: broker, backendUrl: backend, defaultQueue: pyQ });
const q = (name: string) => JSON.stringify(name);

/**
 * Python helpers prefixed to every snippet: `captured(queue, n)` waits for `n` messages on a queue
 * nobody consumes and returns them as kombu decodes them (raw headers, body reprs, embed).
 */
const PY_PRELUDE = `
import base64, json, time
from kombu.serialization import loads
from interop_app import app, emit
from celery import chain, signature
from celery.canvas import StampingVisitor

def captured(queue, n=1, timeout=30):
    client = app.connection_for_write().default_channel.client
    deadline = time.time() + timeout
    while client.llen(queue) < n:
        if time.time() > deadline:
            raise TimeoutError(f"{queue}: {client.llen(queue)} of {n} messages")
        time.sleep(0.05)
    out = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, embed = loads(body, envelope["content-type"], envelope["content-encoding"])
        out.append({"headers": envelope["headers"], "args": repr(args), "kwargs": repr(kwargs),
                    "embed": repr(_without_ids(embed))})
    return out

def _without_ids(value):
    # Frozen ids and the capture queue differ per workflow; everything else must be the same.
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("task_id", "root_id", "parent_id", "reply_to", "queue")}
    if isinstance(value, (list, tuple)):
        return [_without_ids(v) for v in value]
    return value

class Monitoring(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "mon-1", "tags": ["a", "b"]}

def sig(name, args, queue, **options):
    return app.signature(name, args=args, queue=queue, **options)
`;

/** Headers that differ per message whoever sends it (ids, the sending node). */
const VOLATILE = ["id", "root_id", "parent_id", "origin"];
function stable(headers: Record<string, unknown>, alsoVolatile: string[] = []): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([k]) => !VOLATILE.includes(k) && !alsoVolatile.includes(k))
      .map(([k, v]) => [k, k === "stamped_headers" && Array.isArray(v) ? [...v].sort() : v]),
  );
}

interface StampView {
  stamped_headers: string[] | null;
  stamps: Record<string, unknown> | null;
}

/** Celery dedupes stamped_headers through a set: compare them sorted. */
const sortedView = (v: StampView | undefined) => ({
  ...v,
  stamped_headers: [...(v?.stamped_headers ?? [])].sort(),
});

interface Captured {
  headers: Record<string, unknown>;
  args: string;
  kwargs: string;
  /** repr of the embed without ids and queue names. */
  embed: string;
}

describe("bytes in a forwarded signature", () => {
  it("bytes in a callback, a chain's later steps and their links are re-sent as the Python worker re-sends them", async () => {
    const capTs = uniqueQueue("capts");
    const capPy = uniqueQueue("cappy");
    const out = await pythonJson<{ ts: Captured[]; py: Captured[]; results: unknown[] }>(
      `${PY_PRELUDE}
blobs = (b"\\x00\\xff", b"abc")
blob_kwargs = {"blob": b"\\x01\\x02", "text": b"caf\\xc3\\xa9"}
# Registered nowhere: both workers send it as send_task does; nobody consumes the queues.
captured_sig = lambda queue, **options: sig("stamps.captured", blobs, queue, kwargs=blob_kwargs, **options)

def workflow(first, queue, cap):
    later = captured_sig(cap, link=captured_sig(cap))
    return chain(sig(first, ("v",), queue, link=captured_sig(cap)), captured_sig(cap), later)

r1 = workflow("ts.echo", ${q(tsQ)}, ${q(capTs)}).apply_async()
r2 = workflow("interop.echo", ${q(pyQ)}, ${q(capPy)}).apply_async()
results = [r1.parent.parent.get(timeout=30), r2.parent.parent.get(timeout=30)]
emit({"ts": captured(${q(capTs)}, 2), "py": captured(${q(capPy)}, 2), "results": results})
`,
      env(),
    );
    expect(out.results[0]).toEqual(out.results[1]);
    expect(out.ts).toHaveLength(2);
    // The link (sent first) and the next chain step, whose embed holds the last step and its link.
    for (const [i, ts] of out.ts.entries()) {
      const py = out.py[i];
      expect(ts.args).toBe(py?.args);
      expect(ts.kwargs).toBe(py?.kwargs);
      expect(ts.embed).toBe(py?.embed);
      expect(stable(ts.headers)).toEqual(stable(py?.headers ?? {}));
    }
    expect(out.ts[0]?.args).toBe("[[['v'], {}], b'\\x00\\xff', b'abc']");
    expect(out.ts[1]?.kwargs).toBe("{'blob': b'\\x01\\x02', 'text': b'caf\\xc3\\xa9'}");
    expect(out.ts[1]?.embed).toContain("'args': [b'\\x00\\xff', b'abc']");
  });
});

describe("a workflow stamped in Python", () => {
  it("a stamped chain across TS and Python steps completes (no 'stamps has no value' hang)", async () => {
    const value = await pythonJson<number>(
      `${PY_PRELUDE}
c = chain(sig("ts.add", (1, 2), ${q(tsQ)}), sig("interop.add", (3,), ${q(pyQ)}), sig("ts.add", (4,), ${q(tsQ)}))
c.stamp(visitor=Monitoring())
emit(c.apply_async().get(timeout=30))
`,
      env(),
    );
    expect(value).toBe(10);
  });

  it("ctx.stamps / ctx.stampedHeaders show what a Python task's request shows, on every step", async () => {
    const views = await pythonJson<StampView[]>(
      `${PY_PRELUDE}
c = chain(sig("stamps.view", (), ${q(tsQ)}), sig("stamps.view", (), ${q(pyQ)}), sig("stamps.view", (), ${q(tsQ)}))
c.stamp(visitor=Monitoring())
r = c.apply_async()
emit([r.parent.parent.get(timeout=30), r.parent.get(timeout=30), r.get(timeout=30)])
`,
      env(),
    );
    const [firstTs, py, forwardedTs] = views.map(sortedView);
    expect(py).toEqual({
      stamped_headers: ["monitoring_id", "tags"],
      stamps: { monitoring_id: "mon-1", tags: ["a", "b"] },
    });
    expect(firstTs).toEqual(py);
    expect(forwardedTs).toEqual(py);
  });

  it("the stored meta (result_extended) carries the stamps as a Python worker stores them", async () => {
    const metas = await pythonJson<Record<string, unknown>[]>(
      `${PY_PRELUDE}
out = []
for queue in (${q(tsQ)}, ${q(pyQ)}):
    s1 = sig("stamps.view", (), queue)
    s1.stamp(visitor=Monitoring())
    r = s1.apply_async()
    r.get(timeout=30)
    meta = app.backend.get_task_meta(r.id)
    out.append({k: v for k, v in meta.items() if k not in ("task_id", "date_done", "worker", "queue")})
emit(out)
`,
      env(),
    );
    const [ts, py] = metas.map((m) => ({
      ...m,
      stamped_headers: [...((m.stamped_headers as string[]) ?? [])].sort(),
      result: sortedView(m.result as StampView),
    }));
    expect(py).toMatchObject({
      stamped_headers: ["monitoring_id", "tags"],
      monitoring_id: "mon-1",
      tags: ["a", "b"],
    });
    expect(ts).toEqual(py);
  });

  it("a retry keeps the stamps: the TS worker re-sends the headers a Python worker re-sends", async () => {
    const capTs = uniqueQueue("capts");
    const capPy = uniqueQueue("cappy");
    const out = await pythonJson<{ ts: Captured[]; py: Captured[] }>(
      `${PY_PRELUDE}
for name, queue, cap in (("stamps.retry_to", ${q(tsQ)}, ${q(capTs)}), ("stamps.retry_to", ${q(pyQ)}, ${q(capPy)})):
    s1 = sig(name, (cap,), queue)
    s1.stamp(visitor=Monitoring())
    s1.apply_async()
emit({"ts": captured(${q(capTs)}), "py": captured(${q(capPy)})})
`,
      env(),
    );
    const [ts] = out.ts;
    const [py] = out.py;
    expect(py?.headers.retries).toBe(1);
    expect(py?.headers.stamps).toEqual({ monitoring_id: "mon-1", tags: ["a", "b"] });
    // eta is "now" at each retry; argsrepr shows each one's capture queue.
    const differ = ["eta", "argsrepr"];
    expect(stable(ts?.headers ?? {}, differ)).toEqual(stable(py?.headers ?? {}, differ));
  });

  it("the TS worker forwards a stamped chain step with the headers the Python worker sends", async () => {
    const capTs = uniqueQueue("capts");
    const capPy = uniqueQueue("cappy");
    const out = await pythonJson<{ ts: Captured[]; py: Captured[] }>(
      `${PY_PRELUDE}
class Monitoring(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "mon-1", "tags": ["a", "b"], "n": 7}

# The captured step's task is registered nowhere, so both workers send it as send_task does.
ts_chain = chain(sig("ts.add", (1, 2), ${q(tsQ)}), sig("stamps.captured", (10,), ${q(capTs)}))
py_chain = chain(sig("interop.add", (1, 2), ${q(pyQ)}), sig("stamps.captured", (10,), ${q(capPy)}))
for c in (ts_chain, py_chain):
    c.stamp(visitor=Monitoring())
r1, r2 = ts_chain.apply_async(), py_chain.apply_async()
r1.parent.get(timeout=30), r2.parent.get(timeout=30)
emit({"ts": captured(${q(capTs)}), "py": captured(${q(capPy)})})
`,
      env(),
    );
    const [ts] = out.ts;
    const [py] = out.py;
    expect(py?.headers.stamped_headers).toBeTruthy();
    expect(py?.headers.stamps).toMatchObject({ monitoring_id: "mon-1" });
    expect(stable(ts?.headers ?? {})).toEqual(stable(py?.headers ?? {}));
    expect(ts?.args).toBe(py?.args);
    expect(ts?.kwargs).toBe(py?.kwargs);
  });

  it("a step naming a stamp with no value fails the chain (stored and logged), as Python's KeyError does", async () => {
    const out = await pythonJson<{ ts: string[]; py: string[] }>(
      `${PY_PRELUDE}
def run(first, queue):
    bad = sig("interop.add", (10,), ${q(pyQ)}, stamped_headers=["nope"])
    r = chain(sig(first, (1, 2), queue), bad).apply_async()
    try:
        r.get(timeout=30)
        return ["no error"]
    except Exception as exc:
        # get() follows parents: it can raise the first step's FAILURE before the worker stored
        # the same FAILURE on the failed chain's last step (Backend.mark_as_failure stores its own
        # meta first, then each remaining chain step's), so wait for that second store.
        deadline = time.monotonic() + 10
        while r.state == "PENDING" and time.monotonic() < deadline:
            time.sleep(0.05)
        return [r.state, r.parent.state, type(exc).__name__, str(exc)]
emit({"ts": run("ts.add", ${q(tsQ)}), "py": run("interop.add", ${q(pyQ)})})
`,
      env(),
    );
    // Both callers get the failure; Python's worker stores KeyError('nope'), the TS worker a
    // ConfigError naming the stamp.
    expect(out.py.slice(0, 2)).toEqual(["FAILURE", "FAILURE"]);
    expect(out.ts.slice(0, 2)).toEqual(out.py.slice(0, 2));
    expect(out.ts[3]).toContain("nope");
    expect(logLines.join("\n")).toMatch(/raised unexpected: .*nope/);
  });
});
