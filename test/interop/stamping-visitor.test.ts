/**
 * The TS stamping visitor API against Celery 5.7's own: the same workflows, stamped with the same
 * visitor in Python (celery.canvas.StampingVisitor) and in TS (`sig.stamp(visitor)`), must come
 * out as the same signature dicts. No broker: Python only builds and stamps the dicts.
 *
 * Celery dedupes `stamped_headers` through a set (its order depends on the hash seed), so those
 * lists are compared sorted; everything else (values, list stamps with their duplicates, which
 * signatures got which stamps) must be equal.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Chain,
  Chord,
  Group,
  type Signature,
  type StampHeaders,
  type StampingVisitor,
  signature,
} from "../../src/canvas/index.js";
import { pythonJson } from "../support/celery.js";

/** The visitor, written twice: Python below, TS here. Stamps show where each hook ran. */
const PY_VISITOR = `
from celery.canvas import Signature, StampingVisitor, _chain, _chord, group, signature

def seen(headers):
    return sorted(k for k in headers if k != "stamped_headers")

class Visitor(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"on_sig": sig.task, "tags": ["s"], "seen": seen(headers)}
    def on_group_start(self, group, **headers):
        return {"grp": "g", "tags": ["g"]}
    def on_chain_start(self, chain, **headers):
        return {"chn": "c"}
    def on_chord_body(self, chord, **headers):
        return {"body": "b"}
    def on_callback(self, callback, **headers):
        return {"cb": callback.task}
    def on_errback(self, errback, **headers):
        return {"eb": errback.task, "seen_eb": seen(headers)}

class OnlySignature(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"n": 1, "tags": ["t"]}

def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "_regen":
        return [plain(v) for v in value]
    return value

s = lambda name, *args, **options: signature(name, args=args, **options)
`;

const seen = (headers: StampHeaders) =>
  Object.keys(headers)
    .filter((k) => k !== "stamped_headers")
    .sort();

const tsVisitor: StampingVisitor = {
  onSignature: (sig, headers) => ({ on_sig: sig.task, tags: ["s"], seen: seen(headers) }),
  onGroupStart: () => ({ grp: "g", tags: ["g"] }),
  onChainStart: () => ({ chn: "c" }),
  onChordBody: () => ({ body: "b" }),
  onCallback: (cb) => ({ cb: cb.task }),
  onErrback: (eb, headers) => ({ eb: eb.task, seen_eb: seen(headers) }),
};
const onlySignature: StampingVisitor = { onSignature: () => ({ n: 1, tags: ["t"] }) };

const s = (name: string, ...args: unknown[]) => signature(name, args);

/**
 * Each case: Python code building `wf` and stamping it, and the TS twin. Python's `_chain`/`group`
 * constructors are used so neither side reshapes the workflow (`|` would turn group | sig into a chord).
 */
const CASES: { name: string; py: string; ts: () => Signature }[] = [
  {
    name: "a signature with a callback and two errbacks",
    py: `wf = s("a", 1, link=s("cb1"), link_error=[s("eb1"), s("eb2")]); wf.stamp(Visitor())`,
    ts: () => signature("a", [1], {}, { link: s("cb1"), linkError: [s("eb1"), s("eb2")] }).stamp(tsVisitor),
  },
  {
    name: "a chain of three",
    py: `wf = _chain([s("a"), s("b"), s("c")]); wf.stamp(Visitor())`,
    ts: () => new Chain([s("a"), s("b"), s("c")]).stamp(tsVisitor),
  },
  {
    name: "a group of three (list stamps shared between members, as Python's lists are)",
    py: `wf = group([s("a"), s("b"), s("c")]); wf.stamp(Visitor())`,
    ts: () => new Group([s("a"), s("b"), s("c")]).stamp(tsVisitor),
  },
  {
    name: "a chord with a chain body",
    py: `wf = _chord(group([s("h1"), s("h2")]), _chain([s("b1"), s("b2")])); wf.stamp(Visitor())`,
    ts: () => new Chord(new Group([s("h1"), s("h2")]), new Chain([s("b1"), s("b2")])).stamp(tsVisitor),
  },
  {
    name: "a chain holding a group and a chord, with a link on the chain",
    py: `wf = _chain([s("a"), group([s("g1"), s("g2")]), _chord(group([s("h")]), s("body"))], link=s("done")); wf.stamp(Visitor())`,
    ts: () =>
      new Chain([s("a"), new Group([s("g1"), s("g2")]), new Chord(new Group([s("h")]), s("body"))], {
        link: s("done"),
      }).stamp(tsVisitor),
  },
  {
    name: "headers only (sig.stamp(k=v)), then a visitor on top",
    py: `wf = group([s("a"), s("b")]); wf.stamp(monitoring="m", level=2); wf.stamp(OnlySignature())`,
    ts: () => new Group([s("a"), s("b")]).stamp({ monitoring: "m", level: 2 }).stamp(onlySignature),
  },
  {
    name: "stamped twice, the second time with append_stamps",
    py: `wf = _chain([s("a"), s("b")]); wf.stamp(OnlySignature()); wf.stamp(OnlySignature(), append_stamps=True)`,
    ts: () =>
      new Chain([s("a"), s("b")]).stamp(onlySignature).stamp(onlySignature, {}, { appendStamps: true }),
  },
  {
    name: "headers and a visitor in one call",
    py: `wf = _chain([s("a", link=s("cb"))]); wf.stamp(Visitor(), tenant="t1")`,
    ts: () => new Chain([signature("a", [], {}, { link: s("cb") })]).stamp(tsVisitor, { tenant: "t1" }),
  },
];

/** stamped_headers sorted at every depth; a chord's unstamped header group shown as its task list (TS writes the list form). */
function normal(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normal);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === "stamped_headers" && Array.isArray(v)) out[k] = [...v].sort();
    else if (k === "header" && isEmptyGroupDict(v))
      out[k] = normal((v as { kwargs: { tasks: unknown } }).kwargs.tasks);
    else out[k] = normal(v);
  }
  return out;
}

function isEmptyGroupDict(v: unknown): boolean {
  const d = v as { subtask_type?: unknown; options?: Record<string, unknown> } | null;
  return (
    d !== null &&
    typeof d === "object" &&
    d.subtask_type === "group" &&
    Object.keys(d.options ?? {}).length === 0
  );
}

let pythonStamped: Record<string, unknown>;

beforeAll(async () => {
  const body = CASES.map((c, i) => `def case_${i}():\n    ${c.py}\n    return plain(wf)\n`).join("\n");
  pythonStamped = await pythonJson<Record<string, unknown>>(
    `${PY_VISITOR}\n${body}\nimport json\nprint(json.dumps({str(i): globals()[f"case_{i}"]() for i in range(${CASES.length})}))\n`,
  );
});

describe("sig.stamp(visitor) matches celery.canvas stamping", () => {
  for (const [i, c] of CASES.entries()) {
    it(c.name, () => {
      const ts = JSON.parse(JSON.stringify(c.ts().toDict()));
      expect(normal(ts)).toEqual(normal(pythonStamped[String(i)]));
    });
  }
});

describe("stamped TS workflows on the wire", () => {
  it("a visitor's stamps become the stamped_headers / stamps headers of every task sent", async () => {
    const { toPublishOptions } = await import("../../src/canvas/options.js");
    const wf = new Group([s("a"), s("b")]).stamp({ onSignature: (sig) => ({ who: sig.task }) });
    const sent = wf.tasks.map((t) => toPublishOptions(t.options));
    expect(sent.map((o) => [o.stampedHeaders, o.stamps])).toEqual([
      [["who"], { who: "a" }],
      [["who"], { who: "b" }],
    ]);
  });
});

describe("stamps are immutable options in a merge (Signature._merge)", () => {
  it("merging options into a stamped signature keeps its stamps, as Python's _merge does", async () => {
    const incoming = { priority: 9, tenant: "other", queue: "q", stamped_headers: ["x"] };
    const py = await pythonJson<Record<string, unknown>>(`
import json
from celery import signature
s = signature("a"); s.stamp(priority="stamped", tenant="t1")
print(json.dumps(s._merge((), {}, ${JSON.stringify(incoming)})[2]))
`);
    const ts = signature("a").stamp({ priority: "stamped", tenant: "t1" }).merge([], {}, incoming).options;
    expect(normal(ts)).toEqual(normal(py));
  });
});
