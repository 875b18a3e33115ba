import { describe, expect, it } from "vitest";
import { DecodeError, EncodeError } from "../../../src/errors.js";
import {
  msgpackDumps,
  msgpackLoads,
  PyDate,
  PyDateTime,
  PyDecimal,
  PyTime,
  PyUUID,
  yamlDumps,
  yamlLoads,
} from "../../../src/serialization/index.js";
import { canon } from "./arbitraries.js";

describe("msgpack (packb(use_bin_type=True) / unpackb(raw=False))", () => {
  it("reads what Python's msgpack.packb wrote, big ints as bigint only past 2^53", () => {
    // msgpack.packb({"a": [1, 2**40, 2**63, -2**63, 1.5, None, True, b"\x00\xff", "é"]}, use_bin_type=True)
    const packed = Buffer.from(
      "gaFhmQHPAAABAAAAAADPgAAAAAAAAADTgAAAAAAAAADLP/gAAAAAAADAw8QCAP+iw6k=",
      "base64",
    );
    expect(canon(msgpackLoads(packed))).toEqual(
      canon({ a: [1, 2 ** 40, 2n ** 63n, -(2n ** 63n), 1.5, null, true, new Uint8Array([0, 255]), "é"] }),
    );
  });

  it("writes bytes as bin and strings as str", () => {
    expect(msgpackDumps(new Uint8Array([1])).toString("hex")).toBe("c40101");
    expect(msgpackDumps("é").toString("hex")).toBe("a2c3a9");
  });

  it("refuses what Python's packb refuses: datetimes, Decimal, UUID, ints past 64 bits, lone surrogates", () => {
    expect(() => msgpackDumps({ eta: new Date(0) })).toThrow(/\$\["eta"\].*datetimes/);
    for (const v of [new PyDateTime("2024-01-02T00:00:00"), new PyDate("2024-01-02"), new PyTime("01:02")]) {
      expect(() => msgpackDumps([v])).toThrow(EncodeError);
    }
    expect(() => msgpackDumps(new PyDecimal("1"))).toThrow(EncodeError);
    expect(() => msgpackDumps(new PyUUID("44444444444444448444444444444444"))).toThrow(EncodeError);
    expect(() => msgpackDumps(2n ** 64n)).toThrow(/out of range/);
    expect(() => msgpackDumps("\ud800")).toThrow(EncodeError);
  });

  it("accepts a Map with string keys, and skips undefined members", () => {
    expect(msgpackLoads(msgpackDumps(new Map([["k", 1]])))).toEqual({ k: 1 });
    expect(msgpackLoads(msgpackDumps({ a: undefined, b: 1 }))).toEqual({ b: 1 });
  });

  it("raises DecodeError for truncated bodies and trailing bytes", () => {
    expect(() => msgpackLoads(Buffer.from("92", "hex"))).toThrow(DecodeError);
    expect(() => msgpackLoads(Buffer.from("0101", "hex"))).toThrow(DecodeError);
  });
});

describe("yaml (safe_dump / safe_load)", () => {
  // yaml.safe_dump output of PyYAML 6.0.3 for the equivalent Python dict.
  const PYYAML_DUMP = [
    "b: !!binary |",
    "  /wA=",
    "big: 1180591620717411303424",
    "d: 2024-01-02 03:04:05.678000+00:00",
    "date: 2024-01-02",
    "f:",
    "- 1.0e+100",
    "- 1.0e-05",
    "- -0.0",
    "- 0.1",
    "- .nan",
    "- .inf",
    "- 1.0e+16",
    "n: 2024-01-02 03:04:05",
    "s:",
    "- y",
    "- 1e3",
    "- 'yes'",
    "- 'null'",
    '- "h\\xE9llo"',
    '- "\\x7F"',
    "- '1_000'",
    "- 0o17",
    "- '012'",
    "t:",
    "- 1",
    "- 2",
    "",
  ].join("\n");

  it("reads PyYAML's safe_dump output as PyYAML reads it back", () => {
    expect(canon(yamlLoads(PYYAML_DUMP))).toEqual(
      canon({
        b: new Uint8Array([0xff, 0]),
        big: 1180591620717411303424n,
        d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
        date: new PyDate("2024-01-02"),
        f: [1e100, 1e-5, -0, 0.1, Number.NaN, Infinity, 1e16],
        n: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
        s: ["y", "1e3", "yes", "null", "héllo", "\x7f", "1_000", "0o17", "012"],
        t: [1, 2],
      }),
    );
  });

  it("resolves plain scalars with PyYAML's YAML 1.1 rules", () => {
    // PyYAML: {'a': '1e3', 'b': '0o17', 'c': 10, 'd': 'y', 'f': 90, 'g': 31, 'h': 0.5, 'i': True, 'j': None}
    expect(yamlLoads("a: 1e3\nb: 0o17\nc: 012\nd: y\nf: 1:30\ng: 0x_1F\nh: .5\ni: on\nj: ~\n")).toEqual({
      a: "1e3",
      b: "0o17",
      c: 10,
      d: "y",
      f: 90,
      g: 31,
      h: 0.5,
      i: true,
      j: null,
    });
  });

  it("keeps timestamps exact in pydatetime mode, truncating to microseconds as PyYAML does", () => {
    const out = yamlLoads("e: 2024-01-02 03:04:05.1234567+05:30\nn: 2024-01-02t03:04:05\n", {
      datetimes: "pydatetime",
    });
    expect(out).toEqual({
      e: new PyDateTime("2024-01-02T03:04:05.123456+05:30"),
      n: new PyDateTime("2024-01-02T03:04:05"),
    });
  });

  it("quotes strings PyYAML would read as another type", () => {
    const text = yamlDumps(["yes", "null", "1_000", "012", "2024-01-02", "1:30", "1.5", "y", "1e3"]);
    expect(yamlLoads(text)).toEqual(["yes", "null", "1_000", "012", "2024-01-02", "1:30", "1.5", "y", "1e3"]);
    expect(text).toContain('"yes"');
    expect(text).toMatch(/^- y$/m);
  });

  it("writes floats and datetimes as PyYAML's SafeRepresenter does", () => {
    expect(yamlDumps([1e100, -0, 1e-5, Number.NaN, -Infinity])).toBe(
      "- 1.0e+100\n- -0.0\n- 1.0e-05\n- .nan\n- -.inf\n",
    );
    expect(yamlDumps(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe(
      "2024-01-02 03:04:05.678000+00:00\n",
    );
  });

  it("escapes characters PyYAML's reader refuses raw (DEL, C1) or reads as line breaks (NEL, LS)", () => {
    const strings = ["del\x7f", "c1\x9f", "nel\x85", "ls\u2028", "nonchar\ufffe", "multi\nline\x7f"];
    const text = yamlDumps(strings);
    expect(text).not.toMatch(/[\x7f-\x9f\u2028\ufffe]/);
    expect(text).toContain("\\x7f");
    expect(yamlLoads(text)).toEqual(strings);
  });

  it("refuses what safe_dump cannot represent, and unsafe tags on load", () => {
    expect(() => yamlDumps({ t: new PyTime("01:02") })).toThrow(/\$\["t"\].*PyTime/);
    expect(() => yamlDumps([new PyUUID("44444444444444448444444444444444")])).toThrow(EncodeError);
    expect(() => yamlLoads("a: !!python/object:os.system {}\n")).toThrow(DecodeError);
    expect(() => yamlLoads("a: [1\n")).toThrow(DecodeError);
    expect(() => yamlLoads("a: 1\n---\nb: 2\n")).toThrow(DecodeError);
  });
});
