import { describe, expect, it } from "vitest";
import { PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "../../../src/serialization/index.js";

describe("Py* value classes", () => {
  it("PyUUID canonicalizes what uuid.UUID(hex=...) accepts", () => {
    const forms = [
      "44444444444444448444444444444444",
      "{44444444-4444-4444-8444-444444444444}",
      "urn:uuid:44444444-4444-4444-8444-444444444444",
      "44444444-4444-4444-8444-444444444444".toUpperCase(),
    ];
    for (const form of forms) {
      const u = new PyUUID(form);
      expect(u.value).toBe("44444444-4444-4444-8444-444444444444");
      expect(u.hex).toBe("44444444444444448444444444444444");
    }
    expect(() => new PyUUID("4444")).toThrow(TypeError);
  });

  it("PyDateTime converts to the instant, naive as UTC, across years below 100", () => {
    expect(new PyDateTime("2024-01-02T03:04:05.678901-08:00").toDate().toISOString()).toBe(
      "2024-01-02T11:04:05.678Z",
    );
    expect(new PyDateTime("0050-03-01T00:00:00").toDate().toISOString()).toBe("0050-03-01T00:00:00.000Z");
    expect(new PyDateTime("2024-01-02T03:04:05").naive).toBe(true);
    expect(new PyDateTime("2024-01-02T03:04:05Z").naive).toBe(false);
    expect(PyDateTime.fromDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6))).value).toBe(
      "2024-01-02T03:04:05.006000+00:00",
    );
  });

  it("rejects impossible calendar values", () => {
    expect(() => new PyDate("2023-02-29")).toThrow(TypeError);
    expect(() => new PyDateTime("2024-13-01T00:00:00")).toThrow(TypeError);
    expect(() => new PyTime("24:00")).toThrow(TypeError);
    expect(() => new PyDecimal("1.2.3")).toThrow(TypeError);
  });

  it("PyDecimal holds exactly Python's str(Decimal(text))", () => {
    // Right-hand sides printed by CPython 3.11's str(Decimal(left)).
    const cases: Array<[string, string]> = [
      ["1.10", "1.10"],
      ["0.0000001", "1E-7"],
      ["0.000001", "0.000001"],
      ["-0.000100", "-0.000100"],
      ["1E+2", "1E+2"],
      ["1e2", "1E+2"],
      ["100", "100"],
      ["00012.50", "12.50"],
      ["0E-10", "0E-10"],
      ["0.000", "0.000"],
      ["inf", "Infinity"],
      ["-Infinity", "-Infinity"],
      ["nan", "NaN"],
      ["sNaN12", "sNaN12"],
      ["NaN0", "NaN"],
      ["-0", "-0"],
      ["1.", "1"],
      ["  .5", "0.5"],
      ["123456789012345678901234567890.123", "123456789012345678901234567890.123"],
      ["1E-7", "1E-7"],
      ["12e-3", "0.012"],
    ];
    for (const [input, python] of cases) expect(new PyDecimal(input).value).toBe(python);
  });

  it("exposes the wire text through toString, toJSON and equals", () => {
    const d = new PyDecimal("1.10");
    expect(String(d)).toBe("1.10");
    expect(JSON.stringify({ d })).toBe('{"d":"1.10"}');
    expect(d.equals(new PyDecimal("1.10"))).toBe(true);
    expect(d.equals(new PyDecimal("1.1"))).toBe(false);
    expect(new PyDate("2024-01-02").equals(new PyDate("2024-01-02"))).toBe(true);
    expect(new PyDecimal("NaN").value).toBe("NaN");
  });
});
