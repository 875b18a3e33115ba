import { describe, expect, it } from "vitest";
import { pyNumberRepr } from "../../../src/protocol/py-scalar-repr.js";
import { PyTuple, saferepr } from "../../../src/protocol/saferepr.js";
import { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "../../../src/serialization/pytypes.js";

/**
 * Golden outputs of the real `celery.utils.saferepr.saferepr(value, maxlen)`,
 * generated ONCE by running a small script with the pinned venvs
 * (python-interop/.venv-5.7 -> celery 5.7.0, .venv-5.6 -> celery 5.6.3; 5.2's
 * output was checked identical to 5.6's) on the Python twin of each value
 * below, then pasted here. `«unit*n»` abbreviates `unit` repeated n times.
 * Second element: the 5.2-5.6 output when it differs from 5.7 (null = same).
 */
const GOLDEN: Record<string, [string, string | null]> = {
  tuple2: ["(2, 3)", null],
  "empty-tuple": ["()", null],
  tuple1: ["(1,)", null],
  "empty-dict": ["{}", null],
  dict: ["{'a': 1, 'b': [1, 2], 'c': None}", null],
  "single-quote": ["('it\\'s',)", null],
  "double-quote": ["('say \"hi\"',)", null],
  "both-quotes": ["('it\\'s \"x\"',)", null],
  escapes: ["('line\nbreak\\ tab\t',)", null],
  "bools-none": ["(True, False, None)", null],
  floats: [
    "(1.5, 0.1, 1e-05, 1e+21, 123456789.123, 1e-07, 2.5e-300, -0.25, 1.7976931348623157e+308, 0.0001)",
    null,
  ],
  ints: ["(0, -1, 9007199254740991, 10000000000000000)", null],
  bigint: ["(12345678901234567890123,)", null],
  "nested-list": ["([1, [2, [...]]],)", null],
  "nested-dict": ["{'a': {'b': {'c': {...}}}}", null],
  "long-string": ["('«x*1023»...',)", "('«x*1023»...', ..."],
  "long-list": [
    "([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 22..., ...],)",
    null,
  ],
  "long-words": ["('«word *203»word...',)", "('«word *203»word...', ..."],
  "kwargs-long": ["{'data': '«y*1015»...', ...}", null],
  unicode: ["('héllo', '日本', '😀')", null],
  "emoji-long": ["('«😀*1023»...',)", "('«😀*1023»...', ..."],
  "two-long": ["([['«a*600»'], ['«b*415»...']],)", "([['«a*600»'], ['«b*415»...', ...],)"],
  "deep-long": ["([[[...]]],)", null],
  "deep-beyond": ["([[[...]]],)", null],
  bytes: ["(b'abc', b'ff00')", null],
  decimal: ["(Decimal('1.10'),)", null],
  datetimes: [
    "(datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.timezone.utc))",
    null,
  ],
  sets: ["({1}, set())", null],
  empties: ["([], {}, ())", null],
  range1000: [
    "([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 22..., ...],)",
    null,
  ],
  "exact-1022": ["('«x*1022»',)", "('«x*1022»', ..."],
  "exact-1023": ["('«x*1023»...',)", "('«x*1023»...', ..."],
  "long-key": ["{'«k*1023»...', ...}", null],
  "quotes-long": ["(«'\\*1023»'...',)", "(«'\\*1023»'...', ..."],
  "list-after-limit": ["('«x*1023»...', ...)", null],
  "small-maxlen": ["([1, 2, 3, , ...],)", null],
  unlimited: ["('«x*1100»', [[[...]]])", null],
  "long-bytes": ["(b'«z*1023»...',)", "(b'«z*1023»...', ..."],
};

const t = (...items: unknown[]) => new PyTuple(items);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The JS value whose Python twin produced GOLDEN[name], and the maxlen used. */
const CASES: Record<string, [unknown, number | null]> = {
  tuple2: [t(2, 3), 1024],
  "empty-tuple": [t(), 1024],
  tuple1: [t(1), 1024],
  "empty-dict": [{}, 1024],
  dict: [{ a: 1, b: [1, 2], c: null }, 1024],
  "single-quote": [t("it's"), 1024],
  "double-quote": [t('say "hi"'), 1024],
  "both-quotes": [t('it\'s "x"'), 1024],
  escapes: [t("line\nbreak\\ tab\t"), 1024],
  "bools-none": [t(true, false, null), 1024],
  floats: [
    t(1.5, 0.1, 1e-5, 1e21, 123456789.123, 1e-7, 2.5e-300, -0.25, 1.7976931348623157e308, 0.0001),
    1024,
  ],
  ints: [t(0, -1, 9007199254740991, 10000000000000000), 1024],
  bigint: [t(12345678901234567890123n), 1024],
  "nested-list": [t([1, [2, [3, [4, [5]]]]]), 1024],
  "nested-dict": [{ a: { b: { c: { d: 1 } } } }, 1024],
  "long-string": [t("x".repeat(2000)), 1024],
  "long-list": [t(range(500)), 1024],
  "long-words": [t("word ".repeat(300)), 1024],
  "kwargs-long": [{ data: "y".repeat(1500), n: 1 }, 1024],
  unicode: [t("héllo", "日本", "\u{1F600}"), 1024],
  "emoji-long": [t("\u{1F600}".repeat(1100)), 1024],
  "two-long": [t([["a".repeat(600)], ["b".repeat(600)]]), 1024],
  "deep-long": [t([[["x".repeat(1100)]]]), 1024],
  "deep-beyond": [t([[[["x".repeat(1100)]]]]), 1024],
  bytes: [t(new TextEncoder().encode("abc"), new Uint8Array([0xff, 0x00])), 1024],
  decimal: [t(new PyDecimal("1.10")), 1024],
  datetimes: [
    t(
      new Date("2024-01-02T03:04:05.678Z"),
      new Date("2024-01-02T03:04:05.000Z"),
      new Date("2024-01-02T03:04:00.000Z"),
    ),
    1024,
  ],
  sets: [t(new Set([1]), new Set()), 1024],
  empties: [t([], {}, t()), 1024],
  range1000: [t(range(1000)), 1024],
  "exact-1022": [t("x".repeat(1022)), 1024],
  "exact-1023": [t("x".repeat(1023)), 1024],
  "long-key": [{ ["k".repeat(1100)]: 1 }, 1024],
  "quotes-long": [t("'".repeat(2000)), 1024],
  "list-after-limit": [t("x".repeat(1030), [1, 2], { a: 1 }), 1024],
  "small-maxlen": [t([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 10],
  unlimited: [t("x".repeat(1100), [[[[1]]]]), null],
  "long-bytes": [t(new TextEncoder().encode("z".repeat(1100))), 1024],
};

const expand = (s: string) =>
  s.replace(/«(.+?)\*(\d+)»/gu, (_, unit: string, n: string) => unit.repeat(Number(n)));

describe("saferepr matches celery.utils.saferepr", () => {
  it("covers every golden case", () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(GOLDEN).sort());
  });
  for (const [name, [py57, py56]] of Object.entries(GOLDEN)) {
    const [value, maxlen] = CASES[name] ?? [undefined, null];
    it(`${name} (5.7)`, () => {
      expect(saferepr(value, { maxlen, balanced: true })).toBe(expand(py57));
    });
    it(`${name} (5.2-5.6)`, () => {
      expect(saferepr(value, { maxlen, balanced: false })).toBe(expand(py56 ?? py57));
    });
  }
});

describe("pyNumberRepr", () => {
  it("writes integral numbers below 1e21 as Python ints and the rest as Python float reprs", () => {
    expect(
      [0, -0, 3, 1e20, 1e21, 1.5, 1e-5, 1e-7, 1e16 + 0.5, Number.NaN, Number.POSITIVE_INFINITY].map(
        pyNumberRepr,
      ),
    ).toEqual([
      "0",
      "0",
      "3",
      "100000000000000000000",
      "1e+21",
      "1.5",
      "1e-05",
      "1e-07",
      "10000000000000000",
      "nan",
      "inf",
    ]);
  });
});

describe("saferepr of the serializer's lossless Python wrappers", () => {
  it("prints what Python's repr of the decoded values prints", () => {
    const value = t(
      new PyDecimal("1.10"),
      new PyUUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000004"),
      new PyDateTime("2024-01-02T03:04:00.000005+05:30"),
      new PyDateTime("2024-01-02T03:04:05-08:00"),
      new PyDateTime("2024-01-02T03:04:05"),
      new PyDate("2024-01-02"),
      new PyTime("03:04:05.120000"),
      new PyTime("03:04"),
      new PyTime("03:04:05+02:00"),
    );
    // Golden: celery 5.7.0 saferepr(..., 1024) of the same Python values, run once.
    expect(saferepr(value, { maxlen: 1024 })).toBe(
      "(Decimal('1.10'), UUID('aaaaaaaa-aaaa-4aaa-8aaa-000000000004'), datetime.datetime(2024, 1, 2, 3, 4, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800))), datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=57600))), datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.date(2024, 1, 2), datetime.time(3, 4, 5, 120000), datetime.time(3, 4), datetime.time(3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=7200))))",
    );
  });

  it("uses a toPythonRepr() hook when present", () => {
    expect(saferepr(t({ toPythonRepr: () => "Custom()" }), { maxlen: 1024 })).toBe("(Custom(),)");
  });
});
