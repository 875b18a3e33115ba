/**
 * Canvas rules without a broker: dict shapes, partial application, and the messages a workflow
 * turns into (recorded by a publisher that keeps what it is given). The same behaviours run
 * against real Celery 5.7 workers in test/interop/canvas-*.test.ts.
 */
import { describe, expect, it } from "vitest";
import { applySignature, type CanvasPublisher } from "../../../src/canvas/apply.js";
import { chain, chord, group, s, si } from "../../../src/canvas/builders.js";
import { planErrbacks, planFailure, planSuccess } from "../../../src/canvas/continuation.js";
import { chordSizeOf, type ResultNode } from "../../../src/canvas/freeze.js";
import { chunks, xmap, xstarmap } from "../../../src/canvas/maps.js";
import type { PublishOptions } from "../../../src/canvas/options.js";
import { Chain, Chord, Group, Signature } from "../../../src/canvas/signature.js";
import { ConfigError } from "../../../src/errors.js";
import type { SignatureDict } from "../../../src/protocol/task-message.js";

interface Sent {
  name: string;
  args: unknown[];
  options: PublishOptions;
}

function recorder(): CanvasPublisher & { log: (Sent | { chordSize: [string, number] })[] } {
  const log: (Sent | { chordSize: [string, number] })[] = [];
  return {
    log,
    oid: "oid-1",
    publishTask: async (name, args, _kwargs, options) => {
      log.push({ name, args: [...args], options });
    },
    setChordSize: async (gid, size) => {
      log.push({ chordSize: [gid, size] });
    },
  };
}

const sent = (log: ReturnType<typeof recorder>["log"]) => log.filter((e): e is Sent => "name" in e);

describe("signatures", () => {
  it("s/si serialize as Celery's dict and parse back, compound types included", () => {
    expect(s("t.add", 1, 2).toDict()).toEqual({
      task: "t.add",
      args: [1, 2],
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: false,
    });
    expect(si("t.add", 1).immutable).toBe(true);
    const workflow = chain(s("a", 1), group(s("b"), si("c")), chord([s("d")], s("e")));
    const dict = workflow.toDict();
    expect(dict).toMatchObject({ task: "celery.chain", subtask_type: "chain", args: [], options: {} });
    const back = Signature.fromDict(JSON.parse(JSON.stringify(dict)) as SignatureDict);
    expect(back).toBeInstanceOf(Chain);
    const [a, g, c] = (back as Chain).tasks;
    expect(g).toBeInstanceOf(Group);
    expect(c).toBeInstanceOf(Chord);
    expect(a?.args).toEqual([1]);
    expect((c as Chord).body.task).toBe("e");
    expect(back.toDict()).toEqual(dict);
  });

  it("clone prepends partial args unless immutable, and keeps an existing group_id", () => {
    const sig = s("t", 2).set({ groupId: "g1", queue: "q" });
    const c = sig.clone([1], { k: true }, { group_id: "g2", priority: 3 });
    expect(c.args).toEqual([1, 2]);
    expect(c.kwargs).toEqual({ k: true });
    expect(c.options).toEqual({ group_id: "g1", queue: "q", priority: 3 });
    expect(si("t", 2).clone([1]).args).toEqual([2]);
    c.options.queue = "changed";
    expect(sig.options.queue).toBe("q");
  });

  it("freeze keeps an existing id and records reply_to/root/parent/group", () => {
    const sig = s("t");
    const id = sig.freeze({ replyTo: "r", rootId: "root", groupId: "g", groupIndex: 2 });
    expect(sig.freeze({ id: "other" })).toBe(id);
    expect(sig.options).toEqual({
      task_id: id,
      reply_to: "r",
      root_id: "root",
      group_id: "g",
      group_index: 2,
    });
  });

  it("chord size counts what completes the chord (chord._descend)", () => {
    expect(chordSizeOf(group(s("a"), group(s("b"), s("c")), chain(s("d"), s("e"))))).toBe(4);
  });
});

describe("applying workflows", () => {
  it("chain: first task sent with the remaining frozen steps reversed; result is the last step", async () => {
    const pub = recorder();
    const node = await applySignature(pub, chain(s("a", 1), s("b"), s("c")));
    const [first, ...rest] = sent(pub.log);
    expect(rest).toEqual([]);
    expect(first?.name).toBe("a");
    const remaining = first?.options.chain ?? [];
    expect(remaining.map((d) => d.task)).toEqual(["c", "b"]);
    for (const d of remaining) expect(d.options).toMatchObject({ reply_to: "oid-1" });
    expect(node.id).toBe(remaining[0]?.options.task_id);
    expect(node.parent?.id).toBe(remaining[1]?.options.task_id);
    expect(node.parent?.parent?.id).toBe(first?.options.taskId);
  });

  it("group: every member with the group id and its index", async () => {
    const pub = recorder();
    const node = await applySignature(pub, group(s("a"), s("b")), [7]);
    const msgs = sent(pub.log);
    expect(msgs.map((m) => [m.name, m.args, m.options.groupId, m.options.groupIndex])).toEqual([
      ["a", [7], node.id, 0],
      ["b", [7], node.id, 1],
    ]);
    expect(pub.log.some((e) => "chordSize" in e)).toBe(false);
  });

  it("chord: chord size stored before the last header message; header embeds the frozen body", async () => {
    const pub = recorder();
    const node = await applySignature(pub, chord([s("a"), s("b"), s("c")], s("sum")));
    const kinds = pub.log.map((e) => ("chordSize" in e ? `size:${e.chordSize[1]}` : (e as Sent).name));
    expect(kinds).toEqual(["a", "b", "size:3", "c"]);
    const header = node.parent as ResultNode;
    for (const m of sent(pub.log)) {
      expect(m.options.groupId).toBe(header.id);
      expect(m.options.chord).toMatchObject({
        task: "sum",
        options: { task_id: node.id, group_id: header.id },
      });
    }
  });

  it("chain(task, group, task) is upgraded to a chord step in embed.chain", async () => {
    const pub = recorder();
    const node = await applySignature(pub, chain(s("a"), group(s("b"), s("c")), s("d")));
    const [first] = sent(pub.log);
    expect(first?.options.chain?.map((d) => [d.task, d.subtask_type])).toEqual([["celery.chord", "chord"]]);
    const chordDict = first?.options.chain?.[0] as SignatureDict;
    expect((chordDict.kwargs.body as SignatureDict).options.task_id).toBe(node.id);
  });

  it("xmap/xstarmap send one built-in message routed as the mapped task, partial args dropped", async () => {
    const pub = recorder();
    await applySignature(pub, xmap(s("ts.double", 99), [1, 2]), ["parent value"], {}, { queue: "q" });
    await applySignature(pub, xstarmap(s("ts.add"), [[1, 2]]));
    const [map, star] = sent(pub.log);
    expect(map).toMatchObject({
      name: "celery.map",
      args: [],
      options: { routeName: "ts.double", queue: "q" },
    });
    expect(map?.options.ignoreResult).toBe(false);
    expect(star).toMatchObject({ name: "celery.starmap", args: [], options: { routeName: "ts.add" } });
    // Celery's _basemap passes no subtask_type: a dict read back is a plain signature.
    expect(xmap(s("ts.double"), [1]).toDict().subtask_type).toBeNull();
  });

  it("chunks: n-sized starmap parts, the last one shorter, sent as a group", async () => {
    const sig = chunks(
      s("ts.add"),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ],
      2,
    );
    expect(sig.group().tasks.map((t) => t.kwargs.it)).toEqual([
      [
        [1, 1],
        [2, 2],
      ],
      [
        [3, 3],
        [4, 4],
      ],
      [[5, 5]],
    ]);
    const pub = recorder();
    const node = await applySignature(pub, sig);
    expect(node.kind).toBe("group");
    expect(sent(pub.log).map((m) => [m.name, m.options.groupIndex, m.options.routeName])).toEqual([
      ["celery.starmap", 0, "ts.add"],
      ["celery.starmap", 1, "ts.add"],
      ["celery.starmap", 2, "ts.add"],
    ]);
  });

  it("refuses a chunk size that is not a positive integer, and a non-iterable", () => {
    for (const n of [0, -1, 1.5, Number.NaN]) {
      expect(() => chunks(s("ts.add"), [[1, 1]], n)).toThrow(/chunks needs a chunk size n >= 1/);
    }
    expect(() => xmap(s("ts.add"), 5 as unknown as number[])).toThrow(ConfigError);
  });
});

describe("continuations (celery/app/trace.py rules)", () => {
  const request = {
    id: "t1",
    rootId: "r1",
    parentId: null,
    groupId: null,
    groupIndex: null,
    errbacks: null,
    chord: null,
  };

  it("one callback gets the value prepended; the next chain step pops chain[-1]", () => {
    const plan = planSuccess(
      { ...request, callbacks: [s("cb", 1).toDict()], chain: [s("last").toDict(), s("next").toDict()] },
      42,
    );
    expect(plan.map((p) => [p.sig.task, p.args, p.options.parent_id, p.options.root_id])).toEqual([
      ["cb", [42], "t1", "r1"],
      ["next", [42], "t1", "r1"],
    ]);
    expect(((plan[1]?.options.chain ?? []) as SignatureDict[]).map((d) => d.task)).toEqual(["last"]);
  });

  it("several callbacks: group callbacks alone, the rest as one group", () => {
    const plan = planSuccess(
      { ...request, callbacks: [s("a").toDict(), group(s("g")).toDict(), s("b").toDict()], chain: null },
      1,
    );
    expect(
      plan.map((p) => [p.sig.task, p.sig instanceof Group ? p.sig.tasks.map((t) => t.task) : []]),
    ).toEqual([
      ["celery.group", ["g"]],
      ["celery.group", ["a", "b"]],
    ]);
  });

  it("errbacks are sent as a group with the failed id first; failed chains descend into chord bodies", () => {
    const [eb] = planErrbacks("t9", null, [s("on_err").toDict()]);
    expect(eb?.args).toEqual(["t9"]);
    expect(eb?.options).toEqual({ parent_id: "t9", root_id: "t9" });
    const step = s("next");
    step.freeze({ replyTo: "r" });
    const c = chord([s("h")], s("body"));
    c.body.freeze({ replyTo: "r" });
    const steps = planFailure([c.toDict(), step.toDict()]);
    expect(steps.map((x) => x.sig.task)).toEqual(["celery.chord", "next", "body"]);
    expect(steps.map((x) => x.id)).toEqual([null, step.id, c.body.id]);
  });
});
