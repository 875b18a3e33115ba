/**
 * Cross-check against real kombu 5.7.0 (python-interop/.venv-5.7): (a) kombu decodes what
 * Celeriac serializes and compresses, and (b) Celeriac decodes what kombu serializes and
 * compresses, for every serializer x every compression both sides support. Values are compared
 * through a tagged canonical form that each side computes from its own values
 * (python-crosscheck.py `canon`, `pyCanon` below).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AcceptPolicy,
  compress,
  decompress,
  deserialize,
  PyDate,
  PyDateTime,
  PyDecimal,
  PyTime,
  PyUUID,
  type SerializerName,
  serialize,
  zstdAvailable,
} from "../../../src/serialization/index.js";
import {
  bytes,
  int64,
  jsDate,
  pyDate,
  pyDateTime,
  pyDecimal,
  pyInt,
  pyTime,
  pyUUID,
  tree,
} from "./arbitraries.js";

const PYTHON = fileURLToPath(new URL("../../../python-interop/.venv-5.7/bin/python", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./python-crosscheck.py", import.meta.url));

type Canon = { t: string; v?: unknown };

function num(n: number): Canon {
  if (Number.isNaN(n)) return { t: "num", v: "nan" };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, n);
  return { t: "num", v: Buffer.from(view.buffer).toString("hex") };
}

/** The TS twin of python-crosscheck.py `canon`: what Python should hold after decoding `v`. */
function pyCanon(v: unknown): Canon {
  if (v === null || v === undefined) return { t: "none" };
  if (typeof v === "boolean") return { t: "bool", v };
  if (typeof v === "number") return num(v);
  if (typeof v === "bigint") {
    return v > -(2n ** 53n) && v < 2n ** 53n ? num(Number(v)) : { t: "int", v: v.toString() };
  }
  if (typeof v === "string") return { t: "str", v };
  if (v instanceof Uint8Array) return { t: "bytes", v: Buffer.from(v).toString("hex") };
  if (v instanceof Date) {
    // datetime.isoformat() omits a zero fraction.
    const ms = v.getUTCMilliseconds();
    return {
      t: "datetime",
      v: `${v.toISOString().slice(0, 19)}${ms ? `.${String(ms).padStart(3, "0")}000` : ""}+00:00`,
    };
  }
  if (v instanceof PyDateTime) return { t: "datetime", v: v.value };
  if (v instanceof PyDate) return { t: "date", v: v.value };
  if (v instanceof PyTime) return { t: "time", v: v.value };
  if (v instanceof PyDecimal) return { t: "decimal", v: v.value };
  if (v instanceof PyUUID) return { t: "uuid", v: v.value };
  if (v instanceof Set) return { t: "set", v: [...v].map(pyCanon) };
  if (Array.isArray(v)) return { t: "list", v: v.map(pyCanon) };
  if (typeof v === "object") {
    return { t: "dict", v: Object.entries(v).map(([k, item]) => [{ t: "str", v: k }, pyCanon(item)]) };
  }
  throw new Error(`no canonical form for ${typeof v}`);
}

/** Orders set members and dict items the same way on both sides before comparing. */
function normalize(c: unknown): unknown {
  if (Array.isArray(c)) return c.map(normalize);
  if (typeof c !== "object" || c === null) return c;
  const { t, v } = c as Canon;
  if ((t === "set" || t === "dict") && Array.isArray(v)) {
    const items = v.map(normalize);
    return { t, v: items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
  }
  return { t, v: normalize(v) };
}

// Values each serializer can carry (same families as the round-trip properties), plus fixed
// cases that hit the edges: big ints, -0.0, non-finite floats, astral characters, DEL.
const safeDouble = fc.double().filter((d) => !Object.is(d, -0));
const ARBITRARIES: Record<SerializerName, fc.Arbitrary<unknown>> = {
  json: tree(
    fc.oneof(fc.string({ unit: "binary" }), fc.double(), pyInt, fc.boolean(), fc.constant(null)),
    fc.string({ unit: "grapheme" }),
  ).chain((t) =>
    fc.tuple(fc.constant(t), fc.oneof(jsDate, pyDateTime, pyDate, pyTime, pyDecimal, pyUUID, bytes)),
  ),
  msgpack: tree(
    fc.oneof(fc.string({ unit: "grapheme" }), safeDouble, int64, fc.boolean(), fc.constant(null), bytes),
    fc.string({ unit: "grapheme" }).filter((k) => k !== "__proto__"),
  ),
  yaml: tree(
    fc.oneof(
      fc.string({ unit: "grapheme" }),
      fc.double(),
      pyInt,
      fc.boolean(),
      fc.constant(null),
      bytes,
      jsDate,
      pyDate,
    ),
    fc.string({ unit: "grapheme" }),
  ),
};
const FIXED: Record<SerializerName, unknown[]> = {
  json: [
    [[2, 3], { when: new Date(Date.UTC(2030, 0, 1, 12, 0, 0, 5)) }, { callbacks: null, chord: null }],
    [2n ** 64n, -(2n ** 70n), -0, 1e100, Number.NaN, Infinity, -Infinity, "😀 \x7f é"],
    [1e-5, 1.5e-7, 1e16, 1e15 + 0.5, 0.0001, 123456.789, 2 ** 53, 2 ** 60, 5e-324, -1.7976931348623157e308],
    {
      dt: new PyDateTime("2024-01-02T03:04:05.678901+05:30"),
      naive: new PyDateTime("2024-01-02T03:04:05"),
      dec: new PyDecimal("-0.000100"),
      uuid: new PyUUID("44444444-4444-4444-8444-444444444444"),
      raw: Buffer.from("raw-bytes"),
      bin: new Uint8Array([0xff, 0xfe]),
      time: new PyTime("03:04:05.120000"),
      date: new PyDate("2024-01-02"),
    },
  ],
  msgpack: [[2n ** 63n, -(2n ** 63n), 2 ** 40, 1.5, "é😀", new Uint8Array([0, 255])]],
  yaml: [
    [
      "y",
      "n",
      "1e3",
      "yes",
      "null",
      "012",
      "0o17",
      "1_000",
      "1:30",
      "2024-01-02",
      "~",
      "",
      " lead",
      "a: b",
      "#",
    ],
    {
      when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
      day: new PyDate("2024-01-02"),
      set: new Set(["a", "b"]),
    },
    [
      2n ** 70n,
      -0,
      1e100,
      1e-5,
      Number.NaN,
      -Infinity,
      "😀 \x7f é\n2nd line",
      "nel\x85 ls\u2028 c1\x9f \ufffe",
    ],
  ],
};

const SERIALIZER_NAMES: SerializerName[] = ["json", "msgpack", "yaml"];
const NODE_COMPRESSIONS = ["zlib", "bzip2", "lzma", "brotli", ...(zstdAvailable() ? ["zstd"] : [])];

interface PythonReply {
  kombu: string;
  compressions: string[];
  decoded: Array<{ canon?: Canon; redump?: string | null; error?: string }>;
  encoded: Array<{
    serializer: SerializerName;
    compression: string | null;
    cases: Array<{
      name: string;
      canon: Canon;
      body: string;
      content_type: string;
      content_encoding: string;
      compression: string | null;
    }>;
  }>;
}

function runPython(request: unknown): PythonReply {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `Python cross-check needs the pinned Celery 5.7 venv at ${PYTHON}; create it with \`node scripts/setup.mjs\``,
    );
  }
  const run = spawnSync(PYTHON, [SCRIPT], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  if (run.status !== 0) {
    throw new Error(
      `python-crosscheck.py failed (status ${run.status}): ${run.stderr || run.error?.message}`,
    );
  }
  return JSON.parse(run.stdout) as PythonReply;
}

interface Sent {
  label: string;
  value: unknown;
  wire: string; // what we sent, for the JSON text-identity check
}

const sent: Sent[] = [];
let reply: PythonReply;
let pythonCompressions: string[] = [];
const ACCEPT_ALL = AcceptPolicy.from(["json", "msgpack", "yaml"]);

/** Only compressions that both this Node and the venv's kombu have (zstd needs both). */
function sharedCompressions(): Array<string | undefined> {
  const mimeOf = (name: string) => compress(Buffer.alloc(0), name).mime;
  return [undefined, ...NODE_COMPRESSIONS.filter((name) => pythonCompressions.includes(mimeOf(name)))];
}

beforeAll(() => {
  // Ask kombu which compressions it has, then send everything in one Python run.
  pythonCompressions = runPython({ decode: [], encode: [] }).compressions;
  const decode: unknown[] = [];
  const encode: unknown[] = [];
  for (const serializer of SERIALIZER_NAMES) {
    const samples = [
      ...FIXED[serializer],
      ...fc.sample(ARBITRARIES[serializer], { numRuns: 25, seed: 20_240_102 }),
    ];
    for (const compression of sharedCompressions()) {
      encode.push({ serializer, compression: compression ?? null });
      samples.forEach((value, i) => {
        const out = serialize(value, serializer);
        const packed = compression ? compress(out.body, compression) : undefined;
        sent.push({
          label: `${serializer}+${compression ?? "none"} #${i}`,
          value,
          wire: out.body.toString("utf8"),
        });
        decode.push({
          body: (packed?.data ?? out.body).toString("base64"),
          content_type: out.contentType,
          content_encoding: out.contentEncoding,
          compression: packed?.mime ?? null,
        });
      });
    }
  }
  reply = runPython({ decode, encode });
}, 180_000);

describe("real kombu 5.7.0 (python-interop/.venv-5.7)", () => {
  it("is the kombu the brief targets, with the stdlib codecs and brotli", () => {
    expect(reply.kombu).toBe("5.7.0");
    for (const mime of [
      "application/x-gzip",
      "application/x-bz2",
      "application/x-lzma",
      "application/x-brotli",
    ]) {
      expect(pythonCompressions).toContain(mime);
    }
  });

  it("(a) decodes every body Celeriac serialized and compressed, to the same value", () => {
    expect(reply.decoded).toHaveLength(sent.length);
    const failures: string[] = [];
    reply.decoded.forEach((got, i) => {
      const { label, value } = sent[i]!;
      if (got.error) failures.push(`${label}: kombu raised ${got.error}`);
      else if (JSON.stringify(normalize(got.canon)) !== JSON.stringify(normalize(pyCanon(value)))) {
        failures.push(
          `${label}: kombu decoded ${JSON.stringify(got.canon)}, expected ${JSON.stringify(pyCanon(value))}`,
        );
      }
    });
    expect(failures).toEqual([]);
  });

  it("(a) re-dumps our JSON byte for byte (except the 6 zero fraction digits we always write)", () => {
    const failures: string[] = [];
    let compared = 0;
    reply.decoded.forEach((got, i) => {
      const { label, wire } = sent[i]!;
      if (got.redump === undefined || got.redump === null) return; // not JSON
      compared++;
      // Python's isoformat() drops a zero fraction; we always write 6 digits (Celery 5.3.0-5.3.4 on Python < 3.11 need the fraction: docs/wire.md).
      const ours = wire.replace(/\.000000\+00:00"/g, '+00:00"');
      if (got.redump !== ours) failures.push(`${label}:\n  ours   ${wire}\n  kombu  ${got.redump}`);
    });
    expect(compared).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it("(b) Celeriac decodes every body kombu serialized and compressed, to the same value", () => {
    const sets = reply.encoded;
    expect(sets.length).toBe(SERIALIZER_NAMES.length * sharedCompressions().length);
    const failures: string[] = [];
    for (const set of sets) {
      for (const c of set.cases) {
        const label = `${set.serializer}+${set.compression ?? "none"} ${c.name}`;
        try {
          let body: Uint8Array = Buffer.from(c.body, "base64");
          if (c.compression) body = decompress(body, c.compression);
          const value = deserialize(body, c.content_type, c.content_encoding, ACCEPT_ALL, {
            datetimes: "pydatetime",
          });
          const ours = JSON.stringify(normalize(pyCanon(value)));
          if (ours !== JSON.stringify(normalize(c.canon))) {
            failures.push(`${label}: decoded ${ours}, kombu had ${JSON.stringify(c.canon)}`);
          }
        } catch (err) {
          failures.push(`${label}: ${String(err)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
