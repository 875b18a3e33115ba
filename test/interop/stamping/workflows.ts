/**
 * Stamps and bytes in workflows: a Python producer builds and stamps them, the TS worker runs and
 * forwards their steps, and what it forwards, stores and shows a task is compared with what the
 * Python worker does for the same workflow in the same test; a workflow stamped in TS reaches the
 * Python worker with its stamps.
 */
import { describe, expect, it } from "vitest";
import { chain, signature } from "../../../src/canvas/index.js";
import { applyAsync } from "../../../src/client/canvas-apply.js";
import { pythonJson } from "../../support/celery.js";
import { uniqueQueue } from "../../support/services.js";
import type { StampingFixture } from "./suite.js";

const q = (name: string) => JSON.stringify(name);

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

export function defineStampedWorkflows(fx: StampingFixture): void {
  const label = fx.profile.label;

  describe(`bytes in a forwarded signature (${label})`, () => {
    it("bytes in a callback, a chain's later steps and their links are re-sent as the Python worker re-sends them", async () => {
      const capTs = uniqueQueue("capts");
      const capPy = uniqueQueue("cappy");
      const out = await pythonJson<{ ts: Captured[]; py: Captured[]; results: unknown[] }>(
        `${fx.prelude()}
capture_queues(${q(capTs)}, ${q(capPy)})
blobs = (b"\\x00\\xff", b"abc")
blob_kwargs = {"blob": b"\\x01\\x02", "text": b"caf\\xc3\\xa9"}
# Registered nowhere: both workers send it as send_task does; nobody consumes the queues.
captured_sig = lambda queue, **options: sig("stamps.captured", blobs, queue, kwargs=blob_kwargs, **options)

def workflow(first, queue, cap):
    later = captured_sig(cap, link=captured_sig(cap))
    return chain(sig(first, ("v",), queue, link=captured_sig(cap)), captured_sig(cap), later)

r1 = workflow("ts.echo", ${q(fx.tsQ)}, ${q(capTs)}).apply_async()
r2 = workflow("interop.echo", ${q(fx.pyQ)}, ${q(capPy)}).apply_async()
results = [r1.parent.parent.get(timeout=30), r2.parent.parent.get(timeout=30)]
emit({"ts": captured(${q(capTs)}, 2), "py": captured(${q(capPy)}, 2), "results": results})
`,
        fx.env(),
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

  describe(`a workflow stamped in Python (${label})`, () => {
    it("a stamped chain across TS and Python steps completes (no 'stamps has no value' hang)", async () => {
      const value = await pythonJson<number>(
        `${fx.prelude()}
c = chain(sig("ts.add", (1, 2), ${q(fx.tsQ)}), sig("interop.add", (3,), ${q(fx.pyQ)}), sig("ts.add", (4,), ${q(fx.tsQ)}))
c.stamp(visitor=Monitoring())
emit(c.apply_async().get(timeout=30))
`,
        fx.env(),
      );
      expect(value).toBe(10);
    });

    it("ctx.stamps / ctx.stampedHeaders show what a Python task's request shows, on every step (TS -> Python -> TS)", async () => {
      // Two visitors: Monitoring, and one whose stamps hold an int, None and a nested dict.
      const runs = await pythonJson<StampView[][]>(
        `${fx.prelude()}
class Typed(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "typed-1", "tags": ["a", 2, None], "nested": {"k": [1.5]}}

out = []
for visitor in (Monitoring(), Typed()):
    c = chain(sig("stamps.view", (), ${q(fx.tsQ)}), sig("stamps.view", (), ${q(fx.pyQ)}), sig("stamps.view", (), ${q(fx.tsQ)}))
    c.stamp(visitor=visitor)
    r = c.apply_async()
    out.append([r.parent.parent.get(timeout=30), r.parent.get(timeout=30), r.get(timeout=30)])
emit(out)
`,
        fx.env(),
      );
      const expected = [
        { stamped_headers: ["monitoring_id", "tags"], stamps: { monitoring_id: "mon-1", tags: ["a", "b"] } },
        {
          stamped_headers: ["monitoring_id", "nested", "tags"],
          stamps: { monitoring_id: "typed-1", tags: ["a", 2, null], nested: { k: [1.5] } },
        },
      ];
      expect(runs).toHaveLength(2);
      for (const [i, views] of runs.entries()) {
        const [firstTs, py, forwardedTs] = views.map(sortedView);
        expect(py).toEqual(expected[i]);
        expect(firstTs).toEqual(py);
        expect(forwardedTs).toEqual(py);
      }
    });

    it("the stored meta (result_extended) carries the stamps as a Python worker stores them", async () => {
      const metas = await pythonJson<Record<string, unknown>[]>(
        `${fx.prelude()}
out = []
for queue in (${q(fx.tsQ)}, ${q(fx.pyQ)}):
    s1 = sig("stamps.view", (), queue)
    s1.stamp(visitor=Monitoring())
    r = s1.apply_async()
    r.get(timeout=30)
    meta = app.backend.get_task_meta(r.id)
    out.append({k: v for k, v in meta.items() if k not in ("task_id", "date_done", "worker", "queue")})
emit(out)
`,
        fx.env(),
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
        `${fx.prelude()}
capture_queues(${q(capTs)}, ${q(capPy)})
for name, queue, cap in (("stamps.retry_to", ${q(fx.tsQ)}, ${q(capTs)}), ("stamps.retry_to", ${q(fx.pyQ)}, ${q(capPy)})):
    s1 = sig(name, (cap,), queue)
    s1.stamp(visitor=Monitoring())
    s1.apply_async()
emit({"ts": captured(${q(capTs)}), "py": captured(${q(capPy)})})
`,
        fx.env(),
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
        `${fx.prelude()}
capture_queues(${q(capTs)}, ${q(capPy)})
class Monitoring(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "mon-1", "tags": ["a", "b"], "n": 7}

# The captured step's task is registered nowhere, so both workers send it as send_task does.
ts_chain = chain(sig("ts.add", (1, 2), ${q(fx.tsQ)}), sig("stamps.captured", (10,), ${q(capTs)}))
py_chain = chain(sig("interop.add", (1, 2), ${q(fx.pyQ)}), sig("stamps.captured", (10,), ${q(capPy)}))
for c in (ts_chain, py_chain):
    c.stamp(visitor=Monitoring())
r1, r2 = ts_chain.apply_async(), py_chain.apply_async()
r1.parent.get(timeout=30), r2.parent.get(timeout=30)
emit({"ts": captured(${q(capTs)}), "py": captured(${q(capPy)})})
`,
        fx.env(),
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
        `${fx.prelude()}
def run(first, queue):
    bad = sig("interop.add", (10,), ${q(fx.pyQ)}, stamped_headers=["nope"])
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
emit({"ts": run("ts.add", ${q(fx.tsQ)}), "py": run("interop.add", ${q(fx.pyQ)})})
`,
        fx.env(),
      );
      // Both callers get the failure; Python's worker stores KeyError('nope'), the TS worker a
      // ConfigError naming the stamp.
      expect(out.py.slice(0, 2)).toEqual(["FAILURE", "FAILURE"]);
      expect(out.ts.slice(0, 2)).toEqual(out.py.slice(0, 2));
      expect(out.ts[3]).toContain("nope");
      expect(fx.tsLog.join("\n")).toMatch(/raised unexpected: .*nope/);
    });
  });

  describe(`a workflow stamped in TS (${label})`, () => {
    it("reaches the Python worker with its stamps, and the TS step sees its own", async () => {
      const view = (queue: string) => signature("stamps.view", [], {}, { queue });
      const wf = chain(view(fx.tsQ), view(fx.pyQ)).stamp({
        onSignature: (sig) => ({ step: sig.options.queue, run: "r-7" }),
      });
      const res = await applyAsync(fx.app, wf);
      const last = (await res.get({ timeoutMs: 30_000 })) as StampView;
      const first = (await res.parent?.get({ timeoutMs: 30_000 })) as StampView;
      expect(sortedView(last)).toEqual({
        stamped_headers: ["run", "step"],
        stamps: { step: fx.pyQ, run: "r-7" },
      });
      expect(sortedView(first)).toEqual({
        stamped_headers: ["run", "step"],
        stamps: { step: fx.tsQ, run: "r-7" },
      });
    });
  });
}
