import { describe, expect, it } from "vitest";
import { uuid4 } from "../../../src/protocol/uuid4.js";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuid4", () => {
  it("writes version 4, variant 10 UUIDs as crypto.randomUUID does, across refills", () => {
    const ids = Array.from({ length: 1000 }, () => uuid4());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
    expect(crypto.randomUUID()).toMatch(V4);
  });

  it("uses every hex digit in every random position (no stuck nibble from the batch layout)", () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) {
      const id = uuid4();
      for (let c = 0; c < 36; c++) seen[c]?.add(id[c] as string);
    }
    for (let c = 0; c < 36; c++) {
      const digits = seen[c] as Set<string>;
      if ([8, 13, 18, 23].includes(c)) expect([...digits]).toEqual(["-"]);
      else if (c === 14) expect([...digits]).toEqual(["4"]);
      else if (c === 19) expect([...digits].sort()).toEqual(["8", "9", "a", "b"]);
      else expect(digits.size).toBe(16);
    }
  });

  it("returns strings that do not change when later ids are drawn", () => {
    const first = uuid4();
    const copy = `${first}`;
    for (let i = 0; i < 300; i++) uuid4();
    expect(first).toBe(copy);
  });
});
