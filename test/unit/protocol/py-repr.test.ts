/**
 * protocol/py-repr.ts against CPython's own `repr` (python-interop/.venv-5.7): fast-check
 * generated JSON values are decoded by Python's `json` and printed with `repr`, and
 * `pyRepr`/`pySetRepr` must print the same text. Integral floats are left out of the
 * generator: JSON has already erased the int/float difference before pyRepr sees a value.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pyRepr, pySetRepr } from "../../../src/protocol/py-repr.js";

const PYTHON = fileURLToPath(new URL("../../../python-interop/.venv-5.7/bin/python", import.meta.url));

/** Python's repr of each JSON document (one per line in, one JSON string per line out). */
function pythonReprs(script: string, docs: string[]): string[] {
  const run = spawnSync(PYTHON, ["-c", script], { input: docs.join("\n"), encoding: "utf8" });
  if (run.status !== 0) {
    throw new Error(`python failed (run \`node scripts/setup.mjs\` to build the venv): ${run.stderr}`);
  }
  return run.stdout
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as string);
}

const REPR = "import sys, json\nfor l in sys.stdin: print(json.dumps(repr(json.loads(l))))";
const SET_REPR = "import sys, json\nfor l in sys.stdin: print(json.dumps(repr(set(json.loads(l)))))";

/**
 * Printable or not depends on the Unicode version: Python 3.11 knows Unicode 14, Node 20's V8
 * Unicode 17, so a character assigned since 14 prints raw here and escaped there (a known,
 * accepted difference for text no Celery name or id holds). The generator draws from blocks
 * whose assignments have not changed since Unicode 6: Latin, Greek and Cyrillic (with
 * U+0378, unassigned in both), C0/C1 controls, format characters, CJK ideographs.
 */
const STABLE_RANGES: readonly [number, number][] = [
  [0x0000, 0x024f],
  [0x0370, 0x04ff],
  [0x2000, 0x206f],
  [0x4e00, 0x9fa5],
];
const codePoint = fc
  .constantFrom(...STABLE_RANGES)
  .chain(([lo, hi]) => fc.integer({ min: lo, max: hi }))
  .map((cp) => String.fromCodePoint(cp));
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: codePoint }),
  fc.constantFrom("'", '"', "\\", "'\"", "\n\t\r\x01\x7f\u2028é😀\u{10ffff}"),
);
const float = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    float,
    text,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(text, tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("pyRepr is CPython's repr", () => {
  it("prints every generated JSON value as Python does", () => {
    const values = fc.sample(json, { numRuns: 400, seed: 7 });
    const docs = values.map((v) => JSON.stringify(v));
    const expected = pythonReprs(REPR, docs);
    for (const [i, value] of values.entries()) expect(pyRepr(value), docs[i]).toBe(expected[i]);
  });

  it("prints a set of str as Python does (one element, so the order is Python's too)", () => {
    const sets = [...fc.sample(text, { numRuns: 200, seed: 3 }).map((s) => [s]), []];
    const expected = pythonReprs(
      SET_REPR,
      sets.map((s) => JSON.stringify(s)),
    );
    for (const [i, s] of sets.entries()) expect(pySetRepr(s), JSON.stringify(s)).toBe(expected[i]);
  });
});
