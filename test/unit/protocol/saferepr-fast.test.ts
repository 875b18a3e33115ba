import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pyFloatRepr } from "../../../src/protocol/py-float.js";
import { pyNumberRepr } from "../../../src/protocol/py-scalar-repr.js";
import { PyTuple, saferepr, safereprStreamed } from "../../../src/protocol/saferepr.js";
import { PyDecimal, PyUUID } from "../../../src/serialization/pytypes.js";
import { jsDate, pyDateTime } from "../serialization/arbitraries.js";

/**
 * `saferepr` answers short values without the token stream (shortRepr); the stream
 * (`safereprStreamed`, the port of celery/utils/saferepr.py that the golden tests in
 * saferepr.test.ts pin to real Celery output) is the reference it must match exactly,
 * for every value, budget, depth and algorithm (5.7 balanced, 5.2-5.6).
 */

// Text that exercises quoting and Python's code-point length: quotes, backslashes, astral
// characters (two UTF-16 units, one code point) and lone surrogates.
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: fc.constantFrom("'", '"', "\\", " ", "a", "é", "😀", "\ud800", "\n"), maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
);

const scalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1e21, 1e16, 0.1, Number.MAX_SAFE_INTEGER + 2),
  text,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  jsDate,
  pyDateTime,
  fc.constant(new PyDecimal("1.10")),
  fc.constant(new PyUUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000004")),
  fc.uint8Array({ maxLength: 6 }),
);

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    tie("list"),
    tie("tuple"),
    tie("dict"),
    tie("other"),
  ),
  list: fc.array(tie("value"), { maxLength: 5 }),
  tuple: fc.array(tie("value"), { maxLength: 4 }).map((items) => new PyTuple(items)),
  dict: fc.dictionary(
    fc.oneof(text, fc.constantFrom("value", "constructor", "toJSON", "1", "__proto__")),
    tie("value"),
    {
      maxKeys: 4,
    },
  ),
  // Values the short path hands back to the stream: Maps, Sets, hooks, null prototypes.
  other: fc.oneof(
    fc.array(tie("value"), { maxLength: 3 }).map((items) => new Set(items)),
    fc.array(fc.tuple(text, tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.constant({ toPythonRepr: () => "<hooked>" }),
    fc.constant({ toJSON: () => "json-text" }),
    fc.constant({ value: "1.5", constructor: { name: "PyDecimal" } }),
    fc.dictionary(text, tie("value"), { maxKeys: 2 }).map((d) => Object.assign(Object.create(null), d)),
  ),
}));

const options = fc.record({
  maxlen: fc.oneof(fc.constant(null), fc.constant(1024), fc.integer({ min: -1, max: 90 })),
  maxlevels: fc.integer({ min: 0, max: 4 }),
  balanced: fc.boolean(),
});

describe("saferepr's short path", () => {
  it("writes exactly what the token stream writes, for any value and options", () => {
    fc.assert(
      fc.property(value, options, (v, o) => {
        expect(saferepr(v, o)).toBe(safereprStreamed(v, o.maxlen, o.maxlevels, o.balanced));
      }),
      { numRuns: 3000 },
    );
  });

  it("matches the stream for argument tuples around the 1024-character budget", () => {
    // A repr of exactly maxlen characters is cut by the stream (celery/utils/text.py truncate: `>=`).
    for (let n = 1000; n <= 1030; n++) {
      for (const extra of [0, 1, 3]) {
        const args = new PyTuple(["x".repeat(n), ...Array.from({ length: extra }, (_, i) => i)]);
        const kwargs = { k: "😀".repeat(n - 30), "it's": [1, [2, [3, [4]]]] };
        for (const v of [args, kwargs]) {
          expect(saferepr(v, { maxlen: 1024 })).toBe(safereprStreamed(v, 1024, 3, true));
          expect(saferepr(v, { maxlen: 1024, balanced: false })).toBe(safereprStreamed(v, 1024, 3, false));
        }
      }
    }
    // A lone scalar exactly as long as the budget is cut (`12345...`), a container is not.
    for (const v of [12345, new Date(0), "abc", new PyTuple(["abc"])]) {
      for (let maxlen = 3; maxlen <= 60; maxlen++) {
        expect(saferepr(v, { maxlen })).toBe(safereprStreamed(v, maxlen, 3, true));
      }
    }
  });

  it("shows a container repeated inside itself as the stream does", () => {
    const list: unknown[] = [1];
    list.push(list);
    const dict: Record<string, unknown> = { a: 1 };
    dict.self = dict;
    for (const v of [new PyTuple([list]), [dict], list, dict]) {
      for (const maxlevels of [0, 3, 6]) {
        expect(saferepr(v, { maxlen: 1024, maxlevels })).toBe(safereprStreamed(v, 1024, maxlevels, true));
      }
    }
    expect(saferepr(new PyTuple([list]), { maxlen: 1024, maxlevels: 0 })).toContain("<Recursion on list");
  });

  it("shows a throwing getter as the stream does (<Unrepresentable ...>)", () => {
    const hostile = Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    const v = new PyTuple([1, hostile]);
    expect(saferepr(v, { maxlen: 1024 })).toBe(safereprStreamed(v, 1024, 3, true));
    expect(saferepr(v, { maxlen: 1024 })).toContain("<Unrepresentable");
  });
});

/** The float layout saferepr had before it used pyFloatRepr (kept here as the reference). */
function previousPyNumberRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n === 0 ? 0 : n);
  const [mantissa = "0", expText = "0"] = n.toExponential().split("e");
  const negative = mantissa.startsWith("-");
  const digitsText = mantissa.replace("-", "").replace(".", "");
  const exp = Number(expText);
  let body: string;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const intPart = digitsText.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digitsText.slice(exp + 1);
      body = `${intPart}.${frac || "0"}`;
    } else {
      body = `0.${"0".repeat(-exp - 1)}${digitsText}`;
    }
  } else {
    const rest = digitsText.slice(1);
    body = `${digitsText[0]}${rest ? `.${rest}` : ""}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return negative ? `-${body}` : body;
}

describe("one float repr", () => {
  const doubles = fc.oneof(
    fc.double(),
    fc.double({ min: 1e-6, max: 1e22 }),
    fc.integer().map((i) => i / 1000),
    fc.constantFrom(1e21, -1e21, 1e22, 1e16 + 2, 123456789012345680000, 5e-324, 1e-5, 1.5e300),
  );

  it("saferepr's number repr is Python's int text for JSON ints and pyFloatRepr for the rest, as before", () => {
    fc.assert(
      fc.property(doubles, (n) => {
        expect(pyNumberRepr(n)).toBe(previousPyNumberRepr(n));
        if (Number.isFinite(n) && !(Number.isInteger(n) && Math.abs(n) < 1e21)) {
          expect(pyNumberRepr(n)).toBe(pyFloatRepr(n));
        }
      }),
      { numRuns: 5000 },
    );
  });
});
