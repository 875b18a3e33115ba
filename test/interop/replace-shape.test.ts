/**
 * The signature `ctx.replace(sig)` sends, compared with the one real Celery 5.7's `Task.replace`
 * builds for the same request and signature: Python pushes the same request onto a bound task,
 * calls `self.replace(sig)` with `on_replace` capturing the signature instead of sending it, and
 * prints it; the TS side builds its own with `replacementSignature`. Random task ids are numbered
 * in the order a key-sorted walk meets them, so equal shapes compare equal.
 * Nothing is sent (Redis is only named as the backend Celery requires for chords); the runs end to end are canvas-replace.test.ts.
 */
import { describe, expect, it } from "vitest";
import { chain, group, s, si } from "../../src/canvas/builders.js";
import {
  chordMemberSignature,
  type ReplacedRequest,
  replacementSignature,
} from "../../src/canvas/replace.js";
import { Chain, Chord, Group, Signature } from "../../src/canvas/signature.js";
import type { SignatureDict } from "../../src/protocol/task-message.js";
import { pythonJson } from "../support/celery.js";
import { allocateRedisDb } from "../support/services.js";

interface Case {
  name: string;
  request: Partial<ReplacedRequest>;
  sig: SignatureDict;
}

const frozen = (sig: Signature, id: string, extra: Record<string, unknown> = {}): SignatureDict => {
  sig.options.task_id = id;
  Object.assign(sig.options, extra);
  return sig.toDict();
};

const body = frozen(s("t.body"), "chord-body-id", { group_id: "outer-group" });
const chainRest = [frozen(s("t.third"), "third-id"), frozen(s("t.second"), "second-id")];

const CASES: Case[] = [
  { name: "task by task", request: {}, sig: s("t.new", 1).toDict() },
  { name: "task by immutable task", request: { replacedTaskNesting: 2 }, sig: si("t.new", 1).toDict() },
  { name: "task by chain", request: {}, sig: chain(s("t.a", 1), s("t.b")).toDict() },
  { name: "task by group", request: {}, sig: group(s("t.a", 1), s("t.b", 2)).toDict() },
  {
    name: "task by chord",
    request: {},
    sig: new Chord(new Group([s("t.a", 1), s("t.b", 2)]), s("t.sum")).toDict(),
  },
  {
    name: "chain ending in a group",
    request: {},
    sig: chain(s("t.a", 1), group(s("t.b"), s("t.c"))).toDict(),
  },
  { name: "chain step by task", request: { chain: chainRest }, sig: s("t.new").toDict() },
  { name: "chain step by chain", request: { chain: chainRest }, sig: chain(s("t.a"), s("t.b")).toDict() },
  { name: "chain step by group", request: { chain: chainRest }, sig: group(s("t.a"), s("t.b")).toDict() },
  {
    name: "chain step by chord",
    request: { chain: chainRest },
    sig: new Chord(new Group([s("t.a"), s("t.b")]), s("t.sum")).toDict(),
  },
  {
    name: "group member by task",
    request: { groupId: "outer-group", groupIndex: 1 },
    sig: s("t.new").toDict(),
  },
  {
    name: "chord header member by chain",
    request: { groupId: "outer-group", groupIndex: 0, chord: body },
    sig: chain(s("t.a"), s("t.b")).toDict(),
  },
  {
    name: "chord header member by group",
    request: { groupId: "outer-group", groupIndex: 2, chord: body },
    sig: group(s("t.a"), s("t.b")).toDict(),
  },
  {
    name: "task with callbacks and errbacks by chain",
    request: { callbacks: [s("t.cb").toDict()], errbacks: [s("t.eb").toDict()] },
    sig: chain(s("t.a"), s("t.b")).toDict(),
  },
  {
    name: "task with callbacks and errbacks by group",
    request: { callbacks: [s("t.cb").toDict()], errbacks: [s("t.eb").toDict()] },
    sig: group(s("t.a"), s("t.b")).toDict(),
  },
  {
    name: "task with a callback by a chord, inside a chain",
    request: { callbacks: [s("t.cb").toDict()], chain: chainRest },
    sig: new Chord(new Group([s("t.a"), s("t.b")]), s("t.sum")).toDict(),
  },
  {
    name: "stamps on the replacement and on the rest of the chain are kept",
    request: { chain: [frozen(s("t.next"), "next-id", { stamped_headers: ["k"], k: "v1" })] },
    sig: new Signature("t.new", [], {}, { stamped_headers: ["k"], k: "v2" }).toDict(),
  },
  { name: "empty chain (refused)", request: {}, sig: new Chain([]).toDict() },
  {
    name: "signature with a chord option (refused)",
    request: {},
    sig: new Signature("t.x", [], {}, { chord: body }).toDict(),
  },
];

const request = (over: Partial<ReplacedRequest>): ReplacedRequest => ({
  id: "replaced-id",
  rootId: "root-id",
  groupId: null,
  groupIndex: null,
  chord: null,
  callbacks: null,
  errbacks: null,
  chain: null,
  replacedTaskNesting: 0,
  ...over,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Sorted keys, tuples as lists, fresh uuids numbered in walk order. */
function normalize(value: unknown, ids = new Map<string, string>()): unknown {
  if (typeof value === "string" && UUID.test(value)) {
    if (!ids.has(value)) ids.set(value, `uuid-${ids.size + 1}`);
    return ids.get(value);
  }
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = normalize((value as Record<string, unknown>)[key], ids);
    return out;
  }
  return value;
}

const PYTHON = `
import json
from interop_app import app, emit
from celery import signature

cases = json.loads(CASES_JSON)
captured = {}

@app.task(bind=True, name="shape.replaced")
def replaced(self):
    pass

def capture(sig):
    captured["sig"] = sig

replaced.on_replace = capture
out = {"oid": app.thread_oid, "results": []}
for case in cases:
    r = case["request"]
    replaced.push_request(
        id="replaced-id", root_id="root-id", group=r.get("groupId"), group_index=r.get("groupIndex"),
        chord=r.get("chord"), callbacks=r.get("callbacks"), errbacks=r.get("errbacks"),
        chain=r.get("chain"), replaced_task_nesting=r.get("replacedTaskNesting", 0),
    )
    try:
        replaced.replace(signature(case["sig"], app=app))
        out["results"].append({"sig": json.loads(json.dumps(captured.pop("sig"), default=list))})
    except Exception as exc:
        out["results"].append({"error": [type(exc).__name__, type(exc).__module__, str(exc)]})
    finally:
        replaced.pop_request()

@app.task(bind=True, name="shape.member")
def member(self):
    pass

out["grown"] = []
for grow in GROW_JSON_CASES:
    member.push_request(id="member-id", root_id="root-id", group="outer-group", group_index=1, chord=BODY)
    try:
        sig = member.add_to_chord(signature(grow, app=app), lazy=True)
        out["grown"].append({"sig": json.loads(json.dumps(sig, default=list)),
                             "t": int(app.backend.client.get("celery-taskset-meta-outer-group.t"))})
    finally:
        member.pop_request()
emit(out)
`;

/** What `ctx.addToChord` adds, from a header member at index 1 of "outer-group". */
const GROW_CASES: SignatureDict[] = [
  s("t.added", 1).toDict(),
  chain(s("t.a"), s("t.b")).toDict(),
  group(s("t.a"), s("t.b")).toDict(),
  new Chord(new Group([s("t.a"), s("t.b")]), s("t.sum")).toDict(),
];

interface PythonShapes {
  oid: string;
  results: ({ sig: unknown } | { error: string[] })[];
  grown: { sig: unknown; t: number }[];
}
let py: PythonShapes;

describe("ctx.replace builds the signature Celery 5.7's Task.replace builds", () => {
  it("for every case, field by field (ids numbered, reply_to = the worker's oid)", async () => {
    const snippet = PYTHON.replace("CASES_JSON", JSON.stringify(JSON.stringify(CASES)))
      .replace("GROW_JSON_CASES", `json.loads(${JSON.stringify(JSON.stringify(GROW_CASES))})`)
      .replace("BODY", `json.loads(${JSON.stringify(JSON.stringify(body))})`);
    // Celery checks a chord-capable backend is configured before freezing a chain holding a chord;
    // add_to_chord INCRs .t there (a fresh db, so each count starts at 0).
    const backendUrl = (await allocateRedisDb()).url;
    py = await pythonJson<PythonShapes>(snippet, { backendUrl });
    expect(py.results).toHaveLength(CASES.length);
    CASES.forEach((c, i) => {
      let ours: unknown;
      try {
        ours = { sig: replacementSignature(request(c.request), Signature.fromDict(c.sig), py.oid).toDict() };
      } catch (err) {
        const e = err as { excType: string; excModule: string; message: string };
        ours = { error: [e.excType, e.excModule, e.message] };
      }
      expect({ case: c.name, ...(normalize(ours) as object) }).toEqual({
        case: c.name,
        ...(normalize(py.results[i]) as object),
      });
    });
  });

  it("ctx.addToChord's signature is Task.add_to_chord's (chord membership, frozen); .t counts each", () => {
    expect(py.grown.map((g) => g.t)).toEqual([1, 2, 3, 4]);
    GROW_CASES.forEach((d, i) => {
      const ours = chordMemberSignature(
        { rootId: "root-id", groupId: "outer-group", groupIndex: 1, chord: body },
        Signature.fromDict(structuredClone(d)),
        py.oid,
      ).toDict();
      expect({ i, sig: normalize(ours) }).toEqual({ i, sig: normalize(py.grown[i]?.sig) });
    });
  });
});
