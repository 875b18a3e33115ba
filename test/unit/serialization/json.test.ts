import { describe, expect, it } from "vitest";
import { DecodeError, EncodeError } from "../../../src/errors.js";
import {
  jsonDumps,
  jsonLoads,
  PyDate,
  PyDateTime,
  PyDecimal,
  PyTime,
  PyUUID,
} from "../../../src/serialization/index.js";

// Expected texts below are what Python's kombu.utils.json.dumps (kombu 5.7.0, CPython 3.11) printed
// for the equivalent Python value, or the markers captured from kombu/utils/json.py 5.7.0.

describe("jsonDumps: kombu >= 5.3 type markers (kombu/utils/json.py)", () => {
  const golden: Array<[string, unknown, string]> = [
    [
      "datetime (PyDateTime, verbatim)",
      new PyDateTime("2024-01-02T03:04:05.678901+00:00"),
      '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678901+00:00"}',
    ],
    [
      "datetime (Date: 6 fraction digits, +00:00)",
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
      '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678000+00:00"}',
    ],
    ["date", new PyDate("2024-01-02"), '{"__type__": "date", "__value__": "2024-01-02"}'],
    ["time", new PyTime("03:04:05.120000"), '{"__type__": "time", "__value__": "03:04:05.120000"}'],
    ["decimal", new PyDecimal("1.10"), '{"__type__": "decimal", "__value__": "1.10"}'],
    [
      "uuid",
      new PyUUID("44444444-4444-4444-8444-444444444444"),
      '{"__type__": "uuid", "__value__": {"hex": "44444444444444448444444444444444"}}',
    ],
    ["bytes (UTF-8)", Buffer.from("raw-bytes"), '{"__type__": "bytes", "__value__": "raw-bytes"}'],
    ["bytes (not UTF-8)", new Uint8Array([0xff, 0xfe]), '{"__type__": "base64", "__value__": "//4="}'],
    ["bytes with non-ASCII UTF-8 text", Buffer.from("é"), '{"__type__": "bytes", "__value__": "\\u00e9"}'],
  ];

  for (const [name, value, text] of golden) {
    it(`encodes ${name}`, () => {
      expect(jsonDumps(value)).toBe(text);
    });
  }

  it("decodes each marker to its TS type", () => {
    expect(jsonLoads(golden[0]![2])).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
    expect(jsonLoads(golden[0]![2], { datetimes: "pydatetime" })).toEqual(
      new PyDateTime("2024-01-02T03:04:05.678901+00:00"),
    );
    expect(jsonLoads(golden[2]![2])).toEqual(new PyDate("2024-01-02"));
    expect(jsonLoads(golden[3]![2])).toEqual(new PyTime("03:04:05.120000"));
    expect(jsonLoads(golden[4]![2])).toEqual(new PyDecimal("1.10"));
    expect(jsonLoads(golden[5]![2])).toEqual(new PyUUID("44444444-4444-4444-8444-444444444444"));
    expect(Buffer.from(jsonLoads(golden[6]![2]) as Uint8Array).toString()).toBe("raw-bytes");
    expect([...(jsonLoads(golden[7]![2]) as Uint8Array)]).toEqual([0xff, 0xfe]);
  });

  it("reads a naive datetime as UTC and an offset as that offset", () => {
    const naive = jsonLoads('{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.678000"}') as Date;
    expect(naive.toISOString()).toBe("2024-01-02T03:04:05.678Z");
    const shifted = jsonLoads(
      '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05.123456+05:30"}',
    ) as Date;
    expect(shifted.toISOString()).toBe("2024-01-01T21:34:05.123Z");
  });

  it("fires the hook only for exactly {__type__, __value__}", () => {
    const extra = '{"__type__": "decimal", "__value__": "1", "x": 1}';
    expect(jsonLoads(extra)).toEqual({ __type__: "decimal", __value__: "1", x: 1 });
  });

  it("raises DecodeError for an unknown __type__ (kombu >= 5.3)", () => {
    expect(() => jsonLoads('{"__type__": "frobnicate", "__value__": 1}')).toThrow(DecodeError);
    expect(() => jsonLoads('[{"__type__": "uuid", "__value__": {"hex": "zz"}}]')).toThrow(DecodeError);
  });

  it("decodes markers written with \\u escapes in the key", () => {
    expect(jsonLoads('{"\\u005f_type__": "decimal", "__value__": "2.5"}')).toEqual(new PyDecimal("2.5"));
  });

  it("leaves markers alone when typeMarkers is false (kombu 5.2)", () => {
    const text = '{"__type__": "decimal", "__value__": "1.10"}';
    expect(jsonLoads(text, { typeMarkers: false })).toEqual({ __type__: "decimal", __value__: "1.10" });
  });
});

describe("jsonDumps: kombu 5.2 plain JSON (typeMarkers false)", () => {
  const plain = (v: unknown) => jsonDumps(v, { typeMarkers: false });

  it("writes datetimes as isoformat() with +00:00 replaced by Z", () => {
    expect(plain(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe('"2024-01-02T03:04:05.678000Z"');
    expect(plain(new PyDateTime("2024-01-02T03:04:05+05:30"))).toBe('"2024-01-02T03:04:05+05:30"');
  });

  it("writes date as a midnight datetime, Decimal/UUID/time as str()", () => {
    expect(plain(new PyDate("2024-01-02"))).toBe('"2024-01-02T00:00:00"');
    expect(plain(new PyDecimal("1.10"))).toBe('"1.10"');
    expect(plain(new PyUUID("44444444444444448444444444444444"))).toBe(
      '"44444444-4444-4444-8444-444444444444"',
    );
    expect(plain(new PyTime("03:04:05"))).toBe('"03:04:05"');
  });

  it("refuses bytes, as Python's json raises TypeError", () => {
    expect(() => plain({ b: new Uint8Array([1]) })).toThrow(EncodeError);
  });
});

describe("jsonDumps: byte-identical to Python for tricky values", () => {
  const cases: Array<[string, unknown, string]> = [
    ["unicode", "héllo wörld ✓", '"h\\u00e9llo w\\u00f6rld \\u2713"'],
    [
      "emoji (surrogate pairs)",
      "grin 😀 and flag 🇫🇷",
      '"grin \\ud83d\\ude00 and flag \\ud83c\\uddeb\\ud83c\\uddf7"',
    ],
    [
      "control characters and DEL",
      'a\nb\tc\r\x00\x1f\x7f"\\/',
      '"a\\nb\\tc\\r\\u0000\\u001f\\u007f\\"\\\\/"',
    ],
    ["lone surrogate", "\ud800x", '"\\ud800x"'],
    [
      "floats",
      [
        0.1, 1e100, -0, 1e16, 1.5e16, 123456.789, 1e-5, 0.0001, 0.00012, 5e-324, 1.7976931348623157e308, -2.5,
        1e22,
      ],
      "[0.1, 1e+100, -0.0, 1e+16, 1.5e+16, 123456.789, 1e-05, 0.0001, 0.00012, 5e-324, 1.7976931348623157e+308, -2.5, 1e+22]",
    ],
    ["integral float beyond 2^53", 2 ** 53, "9007199254740992.0"],
    [
      "ints, big ones as bigint",
      [
        0,
        -1,
        9007199254740991,
        -9007199254740991,
        9007199254740993n,
        2n ** 64n,
        -(2n ** 70n),
        123456789012345678901234567890n,
      ],
      "[0, -1, 9007199254740991, -9007199254740991, 9007199254740993, 18446744073709551616, -1180591620717411303424, 123456789012345678901234567890]",
    ],
    ["NaN and infinities (allow_nan=True)", [Number.NaN, Infinity, -Infinity], "[NaN, Infinity, -Infinity]"],
    [
      "nested",
      { args: [1, [2, [3, { k: null }]]], kwargs: { x: true, y: false }, empty: {}, list: [] },
      '{"args": [1, [2, [3, {"k": null}]]], "kwargs": {"x": true, "y": false}, "empty": {}, "list": []}',
    ],
    ["key escapes", { ké: 1, 'a"b': 2, "": 3 }, '{"k\\u00e9": 1, "a\\"b": 2, "": 3}'],
  ];
  for (const [name, value, text] of cases) {
    it(name, () => {
      expect(jsonDumps(value)).toBe(text);
    });
  }

  it("keeps Map key order and converts keys as Python converts dict keys", () => {
    const m = new Map<unknown, unknown>([
      ["b", 1],
      [2, 2],
      [1.5, 3],
      [null, 4],
      [false, 5],
    ]);
    expect(jsonDumps(m)).toBe('{"b": 1, "2": 2, "1.5": 3, "null": 4, "false": 5}');
  });
});

describe("jsonDumps: JS-only values", () => {
  it("skips undefined members and writes undefined array items as null", () => {
    expect(jsonDumps({ a: undefined, b: [undefined, 1] })).toBe('{"b": [null, 1]}');
  });

  it("names the path of a function, a symbol or a Set", () => {
    expect(() => jsonDumps({ kwargs: { cb: () => 1 } })).toThrow(/\$\.kwargs\.cb: a function/);
    expect(() => jsonDumps([1, [Symbol("s")]])).toThrow(/\$\[1\]\[0\]: a symbol/);
    expect(() => jsonDumps({ "odd key": new Set([1]) })).toThrow(/\$\["odd key"\]: a Set/);
  });

  it("detects cycles", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => jsonDumps({ x: loop })).toThrow(/Circular reference/);
  });

  it("refuses invalid Dates and years Python cannot hold", () => {
    expect(() => jsonDumps(new Date(Number.NaN))).toThrow(EncodeError);
    expect(() => jsonDumps(new Date(Date.UTC(10000, 0, 1)))).toThrow(/1\.\.9999/);
  });

  it("writes own enumerable keys only: not an inherited or Object.prototype key", () => {
    class Base {
      inheritedField = 1;
    }
    class Child extends Base {
      own = 2;
    }
    Object.defineProperty(Base.prototype, "onPrototype", {
      value: 3,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    Object.defineProperty(Object.prototype, "polluted", {
      value: 4,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      expect(jsonDumps({ kw: { a: 1, b: "x" }, c: new Child() })).toBe(
        '{"kw": {"a": 1, "b": "x"}, "c": {"inheritedField": 1, "own": 2}}',
      );
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it("uses toJSON() like kombu's __json__ hook", () => {
    class Point {
      toJSON() {
        return [1, 2];
      }
    }
    expect(jsonDumps({ p: new Point() })).toBe('{"p": [1, 2]}');
  });
});

describe("jsonLoads", () => {
  it("accepts Python's NaN/Infinity literals", () => {
    const out = jsonLoads("[NaN, Infinity, -Infinity, 1]") as number[];
    expect(Number.isNaN(out[0])).toBe(true);
    expect(out.slice(1)).toEqual([Infinity, -Infinity, 1]);
  });

  it("decodes integers beyond 2^53 as bigint and safe ones as numbers", () => {
    expect(
      jsonLoads("[9007199254740991, 9007199254740993, -123456789012345678901, 1234567890123456.5]"),
    ).toEqual([9007199254740991, 9007199254740993n, -123456789012345678901n, 1234567890123456.5]);
  });

  it("keeps a __proto__ key as data on the exact path", () => {
    const out = jsonLoads('{"__proto__": {"x": 12345678901234567890}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
  });

  it("raises DecodeError on invalid JSON, on both paths", () => {
    expect(() => jsonLoads("{")).toThrow(DecodeError);
    expect(() => jsonLoads("[12345678901234567890,")).toThrow(DecodeError);
    expect(() => jsonLoads("[1] x")).toThrow(/Extra data/);
    expect(() => jsonLoads('"\\x"')).toThrow(DecodeError);
  });
});
