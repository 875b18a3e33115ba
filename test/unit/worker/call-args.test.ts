import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bindHandlerArgs, retryCallArgs } from "../../../src/worker/call-args.js";
import { PythonError } from "../../../src/worker/errors.js";

const P = ["x", "y", "z"];

describe("bindHandlerArgs: Python's fun(*args, **kwargs) for declared params", () => {
  it("fills the parameters keyword args name, leaves the rest in ctx.kwargs", () => {
    expect(bindHandlerArgs("t", P, [], { x: 1, y: 2 })).toEqual([1, 2]);
    expect(bindHandlerArgs("t", P, [1], { z: 3, other: 9 })).toEqual([1, undefined, 3]);
    expect(bindHandlerArgs("t", P, [1, 2, 3, 4], {})).toEqual([1, 2, 3, 4]);
  });

  it("a keyword for a parameter a positional arg already fills is TypeError 'got multiple values'", () => {
    const call = () => bindHandlerArgs("tasks.add", P, [1], { x: 2 });
    expect(call).toThrow(PythonError);
    try {
      call();
    } catch (err) {
      expect((err as PythonError).excType).toBe("TypeError");
      expect((err as PythonError).excArgs).toEqual(["tasks.add() got multiple values for argument 'x'"]);
    }
  });
});

describe("retryCallArgs: celery/app/task.py Task.retry (5.7) args/kwargs rules", () => {
  const request = (args: unknown[], kwargs: Record<string, unknown>) => ({ args, kwargs });

  it("retry(args=...) after a kwargs call drops the kwargs the new args cover", () => {
    expect(retryCallArgs(P, request([], { x: 1, y: 2, z: 3 }), { args: [10, 20] })).toEqual({
      args: [10, 20],
      kwargs: { z: 3 },
    });
  });

  it("retry(kwargs=...) puts a keyword naming an inherited positional into its slot", () => {
    expect(retryCallArgs(P, request([1, 2], { z: 9 }), { kwargs: { y: 5, z: 7, w: 0 } })).toEqual({
      args: [1, 5],
      kwargs: { z: 7, w: 0 },
    });
  });

  it("both given, neither given, or no params: used as given, the unset side inherited", () => {
    const req = request([1], { y: 2 });
    expect(retryCallArgs(P, req, { args: [5], kwargs: { x: 1 } })).toEqual({ args: [5], kwargs: { x: 1 } });
    expect(retryCallArgs(P, req, {})).toEqual(req);
    expect(retryCallArgs(null, req, { args: [7, 8] })).toEqual({ args: [7, 8], kwargs: { y: 2 } });
    expect(retryCallArgs(null, req, { kwargs: { x: 3 } })).toEqual({ args: [1], kwargs: { x: 3 } });
  });

  it("property: the retried call of a valid call never binds one parameter twice", () => {
    const names = ["a", "b", "c", "d"];
    const call = fc
      .record({
        nArgs: fc.nat({ max: names.length }),
        values: fc.array(fc.integer(), { minLength: names.length, maxLength: names.length }),
        kwNames: fc.subarray(names),
      })
      .map(({ nArgs, values, kwNames }) => ({
        args: values.slice(0, nArgs),
        kwargs: Object.fromEntries(kwNames.filter((n) => names.indexOf(n) >= nArgs).map((n) => [n, 0])),
      }));
    const retry = fc.oneof(
      fc.record({ args: fc.array(fc.integer(), { maxLength: names.length }) }),
      fc.record({ kwargs: fc.subarray(names).map((ks) => Object.fromEntries(ks.map((k) => [k, 1]))) }),
    );
    fc.assert(
      fc.property(call, retry, (req, options) => {
        const next = retryCallArgs(names, req, options);
        expect(() => bindHandlerArgs("t", names, next.args, next.kwargs)).not.toThrow();
      }),
    );
  });
});
