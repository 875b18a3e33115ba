/**
 * fast-check arbitraries for values each serializer can carry, plus `canon`, which turns a
 * value into a plain comparable form (bytes as hex, Dates as ISO text, Py* as tagged text), so a
 * Buffer and a Uint8Array with the same bytes compare equal.
 */
import fc from "fast-check";
import { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "../../../src/serialization/index.js";

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

export const pyDate = fc
  .date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T00:00:00Z"), noInvalidDate: true })
  .map((d) => PyDate.fromDate(d));

export const pyTime = fc
  .tuple(
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 999_999 }),
  )
  .map(([h, m, s, us]) => new PyTime(`${pad(h)}:${pad(m)}:${pad(s)}${us ? `.${pad(us, 6)}` : ""}`));

/** Any Python `isoformat()` datetime: microseconds, naive or with an offset (minutes granularity). */
export const pyDateTime = fc
  .tuple(pyDate, pyTime, fc.option(fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }), { nil: undefined }))
  .map(([d, t, off]) => {
    const offset =
      off === undefined
        ? ""
        : `${off < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    return new PyDateTime(`${d.value}T${t.value}${offset}`);
  });

export const jsDate = fc.date({
  min: new Date("0001-01-02T00:00:00Z"),
  max: new Date("9999-12-30T23:59:59.999Z"),
  noInvalidDate: true,
});

export const pyDecimal = fc.tuple(fc.bigInt(), fc.nat(12)).map(([digits, scale]) => {
  const text = (digits < 0n ? -digits : digits).toString().padStart(scale + 1, "0");
  const body = scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`;
  return new PyDecimal(`${digits < 0n ? "-" : ""}${body}`);
});

export const pyUUID = fc.uuid().map((u) => new PyUUID(u));

/** Integers Python would send: safe ones as numbers, the rest as bigint. */
export const pyInt = fc.oneof(
  fc.maxSafeInteger(),
  fc.bigInt().filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
);

export const int64 = fc.oneof(
  fc.maxSafeInteger(),
  fc
    .bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n })
    .filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
);

export const bytes = fc.uint8Array({ maxLength: 64 });

/** A JSON-ish tree over the given leaves: arrays and string-keyed objects. */
export function tree(
  leaf: fc.Arbitrary<unknown>,
  key: fc.Arbitrary<string> = fc.string(),
): fc.Arbitrary<unknown> {
  return fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("node"), { maxLength: 5 }),
      fc.dictionary(key, tie("node"), { maxKeys: 5 }),
    ),
  })).node;
}

export const wellFormedString = fc.string({ unit: "grapheme" });

/** Plain comparable form of a decoded or original value. */
export function canon(v: unknown): unknown {
  if (v instanceof Uint8Array)
    return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
  if (v instanceof Date) return { date: v.toISOString() };
  if (
    v instanceof PyDateTime ||
    v instanceof PyDate ||
    v instanceof PyTime ||
    v instanceof PyDecimal ||
    v instanceof PyUUID
  ) {
    return { [v.constructor.name]: v.value };
  }
  if (v instanceof Set) return { set: [...v].map(canon) };
  if (Array.isArray(v)) return v.map(canon);
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      Object.defineProperty(out, k, { value: canon(item), enumerable: true });
    }
    return out;
  }
  return v;
}
