/**
 * The stamp part of celery/worker/request.py `Request.revoked` and the argument handling of
 * celery/worker/control.py `revoke_by_stamped_headers` (5.7.0); the replies themselves are
 * compared with a real Python worker's in test/interop/stamping/revoke-by-stamp.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defaultdictOfSetsRepr,
  pyEquals,
  RevokedStamps,
  stampedHeadersArgument,
} from "../../../src/control/revoked-stamps.js";

describe("RevokedStamps", () => {
  it("appends to what a stamp already has (maybe_list(old) + list(maybe_list(new)))", () => {
    const r = new RevokedStamps();
    r.add({ mon: "a" });
    r.add({ mon: ["b", "c"], other: 1 });
    expect(r.toObject()).toEqual({ mon: ["a", "b", "c"], other: [1] });
  });

  it("matches a stamped value, or one of a list stamp's values, by the request's stamp order", () => {
    const r = new RevokedStamps();
    r.add({ mon: ["m2"], tag: "t1" });
    expect(r.match(["mon", "tag"], { mon: ["m1", "m2"], tag: "t1" })).toEqual({ mon: "m2" });
    expect(r.match(["tag", "mon"], { mon: ["m1", "m2"], tag: "t1" })).toEqual({ tag: "t1" });
    expect(r.match(["mon"], { mon: "m1" })).toBeNull();
    // A stamp not named in stamped_headers is not looked at (Request.stamps keeps named ones only).
    expect(r.match([], { mon: "m2" })).toBeNull();
    // A named stamp with no value is skipped (`if stamped_header is None: continue`).
    expect(r.match(["mon"], {})).toBeNull();
  });

  it("compares as Python's == does (True == 1, 1 == 1.0)", () => {
    const r = new RevokedStamps();
    r.add({ n: [1, true] });
    expect(r.match(["n"], { n: 1.0 })).toEqual({ n: 1 });
    expect(pyEquals(true, 1)).toBe(true);
    expect(pyEquals("1", 1)).toBe(false);
    expect(pyEquals([1, { a: true }], [1, { a: 1 }])).toBe(true);
  });

  it("never throws and matches only revoked values, whatever a message carries (property)", () => {
    const json = fc.jsonValue();
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), json),
        fc.array(fc.string()),
        fc.dictionary(fc.string(), json),
        (revoked, names, stamps) => {
          const r = new RevokedStamps();
          r.add(revoked);
          const hit = r.match(names, stamps);
          if (hit !== null) {
            const [name, value] = Object.entries(hit)[0] as [string, unknown];
            expect(names).toContain(name);
            expect(
              r.toObject()[name]?.some((v) => pyEquals(v, value)) || pyEquals(r.toObject()[name], value),
            ).toBe(true);
          }
        },
      ),
    );
  });
});

describe("revoke_by_stamped_headers arguments and reply text", () => {
  it("takes a dict, or the CLI's key=value list split as Python splits it", () => {
    expect(stampedHeadersArgument({ a: ["x"] })).toEqual({ a: ["x"] });
    expect(stampedHeadersArgument(["a=x", "b=y=z"])).toEqual({ a: "x", b: "y" });
    expect(stampedHeadersArgument(["no-equals"])).toBeNull();
    expect(stampedHeadersArgument("a=x")).toBeNull();
  });

  it("shows the terminated stamps as Python's defaultdict(set) repr", () => {
    const m = new Map<string, unknown[]>([
      ["mon", ["it's"]],
      ["n", [3]],
    ]);
    expect(defaultdictOfSetsRepr(m)).toBe(`defaultdict(<class 'set'>, {'mon': {"it's"}, 'n': {3}})`);
  });
});
