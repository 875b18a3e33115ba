import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonShapeCache } from "../../../src/serialization/json-shape.js";

const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }));
const primitive = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
/** Everything JSON.stringify meets in a record, including what it skips, calls or refuses. */
const member = fc.oneof(
  primitive,
  fc.array(fc.oneof(primitive, fc.constant(undefined)), { maxLength: 3 }),
  fc.dictionary(text, fc.oneof(primitive, fc.constant(undefined)), { maxKeys: 3 }),
  fc.array(fc.array(primitive, { maxLength: 2 }), { maxLength: 2 }),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.constant(() => 1),
  fc.constant({ toJSON: () => "from toJSON" }),
);

/** Records over a few keys, in a few orders, so shapes repeat and change. */
const record = fc
  .array(fc.tuple(fc.constantFrom("id", "task", "lang", "stamps", "n", "ü", "toJSON"), member), {
    maxLength: 6,
  })
  .map((entries) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = v;
    return out;
  });

function stringifyOrError(r: Record<string, unknown>): string | undefined | Error {
  try {
    return JSON.stringify(r);
  } catch (err) {
    return err as Error;
  }
}

describe("JsonShapeCache", () => {
  it("writes JSON.stringify's text or declines, for any sequence of records", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("a", "b"), record), { maxLength: 15 }), (records) => {
        const cache = new JsonShapeCache({ variableKeys: new Set(["id"]) });
        for (const [shapeKey, r] of records) {
          const out = cache.stringify(r, shapeKey);
          if (out !== undefined) expect(out).toBe(stringifyOrError(r));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("takes the template path for task headers, a counter header included", () => {
    const cache = new JsonShapeCache({ variableKeys: new Set(["id", "argsrepr"]) });
    for (let i = 0; i < 5; i++) {
      const headers = {
        lang: "py",
        task: "t.add",
        id: `id-${i}`,
        timelimit: [null, null],
        argsrepr: `(${i}, 'é')`,
        counter: i,
        stamps: {},
      };
      expect(cache.stringify(headers, "t.add")).toBe(JSON.stringify(headers));
    }
  });

  it("ignores an enumerable key added to Object.prototype, as JSON.stringify does", () => {
    const cache = new JsonShapeCache({ variableKeys: new Set(["id"]) });
    const headers = (i: number) => ({ lang: "py", id: `id-${i}`, stamps: {} });
    expect(cache.stringify(headers(0), "k")).toBe(JSON.stringify(headers(0)));
    Object.defineProperty(Object.prototype, "polluted", {
      value: 1,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      for (let i = 1; i < 3; i++) {
        const out = cache.stringify(headers(i), "k");
        expect(out ?? JSON.stringify(headers(i))).toBe('{"lang":"py","id":"id-' + i + '","stamps":{}}');
      }
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    expect(cache.stringify(headers(3), "k")).toBe(JSON.stringify(headers(3)));
  });

  it("leaves out the omitted keys", () => {
    const cache = new JsonShapeCache({ variableKeys: new Set(["id"]), omitKeys: new Set(["priority"]) });
    for (const priority of [1, 2])
      expect(cache.members({ id: "x", priority, reply_to: "r" }, "k")).toBe('"id":"x","reply_to":"r"');
    expect(cache.members({ priority: 1 }, "k")).toBe("");
  });
});
