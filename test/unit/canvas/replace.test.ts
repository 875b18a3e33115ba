/**
 * `Task.replace` and the `|` algebra it uses, without a broker. The same shapes are compared
 * with what real Celery 5.7 builds in test/interop/replace-shape.test.ts, and run end to end
 * against Python workers in test/interop/canvas-replace.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chain, group, s } from "../../../src/canvas/builders.js";
import { pipe } from "../../../src/canvas/compose.js";
import {
  ImproperlyConfigured,
  type ReplacedRequest,
  replacementSignature,
} from "../../../src/canvas/replace.js";
import { Chain, Chord, Group, Signature } from "../../../src/canvas/signature.js";
import { ConfigError } from "../../../src/errors.js";
import { accumulate } from "../../../src/worker/builtin-tasks.js";

const request = (over: Partial<ReplacedRequest> = {}): ReplacedRequest => ({
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

describe("pipe (Celery's |)", () => {
  it("task | task is a chain; task | chain splices the chain", () => {
    const c = pipe(s("a"), chain(s("b"), s("c")));
    expect(c).toBeInstanceOf(Chain);
    expect((c as Chain).tasks.map((t) => t.task)).toEqual(["a", "b", "c"]);
  });

  it("group | task is a chord; an empty group on the right changes nothing", () => {
    const c = pipe(group(s("a"), s("b")), s("body"));
    expect(c).toBeInstanceOf(Chord);
    expect((c as Chord).body.task).toBe("body");
    const g = group(s("a"), s("b"));
    expect(pipe(g, group())).toBe(g);
  });

  it("chord | task extends the body; chain ending in a group upgrades it to a chord", () => {
    const c = pipe(new Chord(group(s("a"), s("b")), s("body")), s("next")) as Chord;
    expect(c.body).toBeInstanceOf(Chain);
    expect((c.body as Chain).tasks.map((t) => t.task)).toEqual(["body", "next"]);
    const up = pipe(chain(s("x"), group(s("a"), s("b"))), s("y")) as Chain;
    expect(up.tasks[1]).toBeInstanceOf(Chord);
    expect((up.tasks[1] as Chord).body.task).toBe("y");
  });

  it("a chain's link_error goes to every step when it is unchained", () => {
    const c = chain(s("a"), s("b"));
    c.linkError(s("err"));
    const out = pipe(c, s("c")) as Chain;
    expect(out.tasks.map((t) => Array.isArray(t.options.link_error))).toEqual([true, true, false]);
  });

  it("a one-member group is unrolled to its member", () => {
    const out = pipe(s("a"), group(s("b"))) as Chain;
    expect(out.tasks.map((t) => t.task)).toEqual(["a", "b"]);
  });
});

describe("replacementSignature (Task.replace)", () => {
  it("a task takes over the id, root id, group/chord membership and nesting + 1", () => {
    const body = s("body").toDict();
    const sig = replacementSignature(
      request({ groupId: "g", groupIndex: 2, chord: body, replacedTaskNesting: 1 }),
      s("new", 1),
      "oid",
    );
    expect(sig.options).toMatchObject({
      task_id: "replaced-id",
      reply_to: "oid",
      group_id: "g",
      group_index: 2,
      chord: body,
      root_id: "root-id",
      replaced_task_nesting: 2,
    });
  });

  it("the input signature is not changed", () => {
    const input = s("new");
    replacementSignature(request(), input, "oid");
    expect(input.options).toEqual({});
  });

  it("a chain: its last step gets the id, callbacks move to the last step, every step is nested", () => {
    const sig = replacementSignature(
      request({ callbacks: [s("cb").toDict()], errbacks: [s("eb").toDict()] }),
      chain(s("a"), s("b")),
      "oid",
    ) as Chain;
    expect(sig.tasks[1]?.id).toBe("replaced-id");
    expect(sig.tasks[0]?.id).not.toBe("replaced-id");
    expect(((sig.tasks[1] as Signature).options.link as Signature[]).map((l) => l.task)).toEqual(["cb"]);
    expect(sig.options.link).toBeUndefined();
    expect((sig.options.link_error as Signature[]).map((l) => l.task)).toEqual(["eb"]);
    expect(sig.tasks.map((t) => t.options.replaced_task_nesting)).toEqual([1, 1]);
  });

  it("a group becomes chord(group, celery.accumulate(index=0)) whose body has the id", () => {
    const sig = replacementSignature(request(), group(s("a"), s("b")), "oid") as Chord;
    expect(sig).toBeInstanceOf(Chord);
    expect(sig.body.task).toBe("celery.accumulate");
    expect(sig.body.kwargs).toEqual({ index: 0 });
    expect(sig.body.id).toBe("replaced-id");
    expect(sig.header.tasks.every((t) => t.options.chord === sig.body)).toBe(true);
  });

  it("a chain ending in a group ends in chord(group, accumulate)", () => {
    const sig = replacementSignature(request(), chain(s("a"), group(s("b"), s("c"))), "oid") as Chain;
    const last = sig.tasks[1] as Chord;
    expect(last).toBeInstanceOf(Chord);
    expect(last.body.task).toBe("celery.accumulate");
    expect(last.body.id).toBe("replaced-id");
  });

  it("the rest of the replaced task's chain follows, keeping its ids", () => {
    const rest = [s("third").set({ taskId: "t3" }).toDict(), s("second").set({ taskId: "t2" }).toDict()];
    const sig = replacementSignature(request({ chain: rest }), s("new"), "oid") as Chain;
    expect(sig.tasks.map((t) => [t.task, t.id])).toEqual([
      ["new", "replaced-id"],
      ["second", "t2"],
      ["third", "t3"],
    ]);
    expect(sig.tasks.map((t) => t.options.replaced_task_nesting)).toEqual([1, 1, 1]);
  });

  it("a chord followed by the replaced task's chain: the steps extend the chord body", () => {
    const rest = [s("next").set({ taskId: "t2" }).toDict()];
    const sig = replacementSignature(
      request({ chain: rest }),
      new Chord(new Group([s("a"), s("b")]), s("body")),
      "oid",
    ) as Chord;
    expect(sig).toBeInstanceOf(Chord);
    expect((sig.body as Chain).tasks.map((t) => [t.task, t.id])).toEqual([
      ["body", "replaced-id"],
      ["next", "t2"],
    ]);
  });

  it("refuses an empty chain and a signature already part of a chord, as Celery does", () => {
    expect(() => replacementSignature(request(), new Chain([]), "oid")).toThrow(ImproperlyConfigured);
    expect(() => replacementSignature(request(), new Chain([]), "oid")).toThrow(
      "Cannot replace with an empty chain",
    );
    const inChord = new Signature("x", [], {}, { chord: s("body").toDict() });
    expect(() => replacementSignature(request(), inChord, "oid")).toThrow(
      "A signature replacing a task must not be part of a chord",
    );
    const err = new ImproperlyConfigured("m");
    expect([err.excType, err.excModule, err.excArgs]).toEqual([
      "ImproperlyConfigured",
      "celery.exceptions",
      ["m"],
    ]);
  });

  it("accepts a signature dict from the wire", () => {
    const sig = replacementSignature(request(), Signature.fromDict(s("new", 2).toDict()), "oid");
    expect(sig.toDict()).toMatchObject({ task: "new", args: [2] });
  });
});

describe("hostile replacement input", () => {
  it("anything a handler may pass is a signature, or a clear ConfigError / ImproperlyConfigured", () => {
    const dictLike = fc.record(
      {
        task: fc.oneof(fc.string(), fc.constant("celery.chain"), fc.integer()),
        args: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.jsonValue()),
        kwargs: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), fc.jsonValue()),
        options: fc.oneof(
          fc.dictionary(fc.constantFrom("chord", "task_id", "link", "queue"), fc.jsonValue()),
          fc.jsonValue(),
        ),
        subtask_type: fc.constantFrom(null, "chain", "group", "chord", "xmap", 7),
        immutable: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(dictLike, fc.jsonValue()), (input) => {
        try {
          const sig = replacementSignature(request(), Signature.fromDict(input as never), "oid");
          expect(JSON.parse(JSON.stringify(sig.toDict()))).toMatchObject({ task: expect.any(String) });
        } catch (err) {
          expect(err instanceof ConfigError || err instanceof ImproperlyConfigured).toBe(true);
        }
      }),
      { seed: 1313, numRuns: 300 },
    );
  });
});

describe("celery.accumulate", () => {
  it("returns args[index] with Python indexing, or all args without an index", () => {
    expect(accumulate({ kwargs: { index: 0 } }, [1, 2], "x")).toEqual([1, 2]);
    expect(accumulate({ kwargs: { index: -1 } }, 1, 2, 3)).toBe(3);
    expect(accumulate({ kwargs: {} }, 1, 2)).toEqual([1, 2]);
    expect(() => accumulate({ kwargs: { index: 5 } }, 1)).toThrow("tuple index out of range");
    expect(() => accumulate({ kwargs: { index: "0" } }, 1)).toThrow(/TypeError|tuple indices/);
  });

  it("any index within range picks that argument (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 8 }), fc.nat(), (args, n) => {
        const i = n % args.length;
        expect(accumulate({ kwargs: { index: i } }, ...args)).toBe(args[i]);
        expect(accumulate({ kwargs: { index: i - args.length } }, ...args)).toBe(args[i]);
      }),
      { seed: 13 },
    );
  });
});
