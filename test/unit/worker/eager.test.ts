import { afterEach, describe, expect, it } from "vitest";
import {
  Celery,
  type CeleryOptions,
  chain,
  chord,
  EagerResult,
  GroupResult,
  group,
  Ignore,
  MaxRetriesExceededError,
  NotRegisteredError,
  Reject,
  Retry,
  s,
  type TaskContext,
} from "../../../src/index.js";

// Port 1 on loopback: nothing listens there, so any broker or backend use would fail loudly.
const NO_SERVER = "redis://127.0.0.1:1/0";
const apps: Celery[] = [];

function eagerApp(extra: CeleryOptions = {}): Celery {
  const app = new Celery({ broker: NO_SERVER, backend: NO_SERVER, ...extra });
  apps.push(app);
  return app;
}

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

describe("handle.apply(): a TS task run in-process (Task.apply)", () => {
  it("returns an EagerResult with the value; ctx says it is eager", async () => {
    const app = eagerApp();
    const seen: TaskContext[] = [];
    const add = app.task("t.add", (ctx, a: number, b: number) => {
      seen.push(ctx);
      return a + b;
    });
    const result = await add.apply([2, 3], {}, { taskId: "fixed-id" });
    expect(result).toBeInstanceOf(EagerResult);
    expect([result.id, result.status, result.result]).toEqual(["fixed-id", "SUCCESS", 5]);
    expect(await result.get()).toBe(5);
    expect(await result.state()).toBe("SUCCESS");
    expect(await result.ready()).toBe(true);
    const ctx = seen[0] as TaskContext;
    expect([ctx.isEager, ctx.id, ctx.retries, ctx.rootId, ctx.parentId]).toEqual([
      true,
      "fixed-id",
      0,
      "fixed-id",
      null,
    ]);
    expect(ctx.signal.aborted).toBe(false);
  });

  it("handles the ordinary shapes: undefined, an async handler, kwargs, a BigInt", async () => {
    const app = eagerApp();
    const nothing = app.task("t.nothing", () => undefined);
    const later = app.task("t.later", async (ctx, n: bigint) => ({ n: n * 2n, k: ctx.kwargs.k }));
    expect((await nothing.apply()).result).toBeUndefined();
    expect(await (await later.apply([21n], { k: "v" })).get()).toEqual({ n: 42n, k: "v" });
  });

  it("a failure is stored in the EagerResult (task_eager_propagates off): get() throws the error itself", async () => {
    const app = eagerApp();
    const boom = new TypeError("bad input");
    const fail = app.task("t.fail", () => {
      throw boom;
    });
    const result = await fail.apply();
    expect(result.status).toBe("FAILURE");
    expect(result.result).toBe(boom);
    expect(result.traceback).toContain("bad input");
    await expect(result.get()).rejects.toBe(boom);
    expect(await result.get({ propagate: false })).toBe(boom);
    const thrownString = app.task("t.string", () => {
      throw "plain text";
    });
    const r2 = await thrownString.apply();
    expect([r2.status, r2.result]).toEqual(["FAILURE", "plain text"]);
  });

  it("throw: true, or the taskEagerPropagates setting, throws the error from apply()", async () => {
    const boom = new Error("boom");
    const app = eagerApp();
    const fail = app.task("t.fail", () => {
      throw boom;
    });
    await expect(fail.apply([], {}, { throw: true })).rejects.toBe(boom);
    const propagating = eagerApp({ taskEagerPropagates: true });
    const fail2 = propagating.task("t.fail", () => {
      throw boom;
    });
    await expect(fail2.apply()).rejects.toBe(boom);
    expect((await fail2.apply([], {}, { throw: false })).status).toBe("FAILURE");
  });

  it("ctx.retry() re-runs at once with retries + 1 and the same id, new args when given", async () => {
    const app = eagerApp();
    const runs: [number, string, unknown[]][] = [];
    const flaky = app.task(
      "t.flaky",
      (ctx, n: number) => {
        runs.push([ctx.retries, ctx.id, [...ctx.args]]);
        if (ctx.retries < 2) ctx.retry({ countdown: 3600, args: [n + 1] });
        return n;
      },
      { maxRetries: 5 },
    );
    const result = await flaky.apply([10]);
    expect([result.status, result.result]).toEqual(["SUCCESS", 12]);
    expect(runs.map(([retries, id, args]) => [retries, id === result.id, args])).toEqual([
      [0, true, [10]],
      [1, true, [11]],
      [2, true, [12]],
    ]);
  });

  it("retries running out fail with MaxRetriesExceededError, or with exc when given", async () => {
    const app = eagerApp();
    let runs = 0;
    const always = app.task(
      "t.always",
      (ctx) => {
        runs++;
        return ctx.retry({ countdown: 1 });
      },
      { maxRetries: 2 },
    );
    const result = await always.apply();
    expect(runs).toBe(3);
    expect(result.status).toBe("FAILURE");
    expect(result.result).toBeInstanceOf(MaxRetriesExceededError);
    const cause = new RangeError("still down");
    const withExc = app.task("t.exc", (ctx) => ctx.retry({ exc: cause, maxRetries: 1 }));
    expect((await withExc.apply()).result).toBe(cause);
  });

  it("with propagation on, ctx.retry() throws its Retry out of apply(), as Celery's tracer re-raises it", async () => {
    const app = eagerApp({ taskEagerPropagates: true });
    const flaky = app.task("t.flaky", (ctx) => ctx.retry({ countdown: 5 }));
    await expect(flaky.apply()).rejects.toBeInstanceOf(Retry);
  });

  it("autoretryFor retries in-process; Reject and Ignore end in REJECTED / IGNORED", async () => {
    const app = eagerApp();
    let runs = 0;
    const auto = app.task(
      "t.auto",
      (ctx) => {
        runs++;
        if (ctx.retries < 1) throw new RangeError("once");
        return "ok";
      },
      { autoretryFor: [RangeError], maxRetries: 3 },
    );
    expect((await auto.apply()).result).toBe("ok");
    expect(runs).toBe(2);
    const rejected = app.task("t.reject", () => {
      throw new Reject("no", false);
    });
    const ignored = app.task("t.ignore", () => {
      throw new Ignore();
    });
    expect((await rejected.apply()).status).toBe("REJECTED");
    expect((await ignored.apply()).status).toBe("IGNORED");
  });

  it("link and linkError run in-process under taskAlwaysEager, with the value / the failed id", async () => {
    const app = eagerApp({ taskAlwaysEager: true });
    const calls: [string, unknown[], string | null][] = [];
    const record = app.task("t.record", (ctx, ...args: unknown[]) => {
      calls.push([ctx.name, args, ctx.parentId]);
      return args;
    });
    const add = app.task("t.add", (_ctx, a: number, b: number) => a + b);
    const fail = app.task("t.fail", () => {
      throw new Error("x");
    });
    const ok = await add.apply([1, 2], {}, { link: record.s("tail") });
    expect(calls).toEqual([["t.record", [3, "tail"], ok.id]]);
    calls.length = 0;
    const failed = await fail.apply([], {}, { linkError: s("t.record") });
    expect(failed.status).toBe("FAILURE");
    expect(calls).toEqual([["t.record", [failed.id], failed.id]]);
  });

  it("taskAlwaysEager: delay(), applyAsync() and workflows run in-process without a broker", async () => {
    const app = eagerApp({ taskAlwaysEager: true });
    const add = app.task("t.add", (_ctx, a: number, b: number) => a + b);
    const double = app.task("t.double", (_ctx, n: number) => n * 2);
    const total = app.task("t.total", (_ctx, values: number[]) => values.reduce((x, y) => x + y, 0));
    const delayed = await add.delay(2, 3);
    expect(delayed).toBeInstanceOf(EagerResult);
    expect(await delayed.get()).toBe(5);
    const chained = await chain(add.s(2, 3), double.s(), add.s(10)).applyAsync();
    expect(await chained.get()).toBe(20);
    expect(await chained.parent?.get()).toBe(10);
    const grouped = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    expect(grouped).toBeInstanceOf(GroupResult);
    expect(await grouped.get()).toEqual([2, 4]);
    const chorded = await chord([add.s(1, 1), add.s(2, 2)], total.s()).delay();
    expect(await chorded.get()).toBe(6);
  });

  it("a workflow step that is not registered is a NotRegisteredError, not a send", async () => {
    const app = eagerApp({ taskAlwaysEager: true });
    const add = app.task("t.add", (_ctx, a: number, b: number) => a + b);
    await expect(chain(add.s(1, 2), s("py.unknown")).applyAsync()).rejects.toBeInstanceOf(NotRegisteredError);
    await expect(s("py.unknown").apply()).rejects.toBeInstanceOf(NotRegisteredError);
  });

  it("a task applied inside an eager task gets it as parent and shares its root", async () => {
    const app = eagerApp();
    const ids: [string, string | null, string | null][] = [];
    const inner = app.task("t.inner", (ctx) => {
      ids.push([ctx.id, ctx.parentId, ctx.rootId]);
    });
    const outer = app.task("t.outer", async (ctx) => {
      ids.push([ctx.id, ctx.parentId, ctx.rootId]);
      await inner.apply();
    });
    const result = await outer.apply();
    expect(ids[0]).toEqual([result.id, null, result.id]);
    expect(ids[1]?.[1]).toBe(result.id);
    expect(ids[1]?.[2]).toBe(result.id);
  });

  it("ctx.replace(sig) runs the replacement in-process and returns its value (Task.on_replace, eager)", async () => {
    const app = eagerApp();
    const add = app.task("t.add", (_ctx, a: number, b: number) => a + b);
    const double = app.task("t.double", (_ctx, n: number) => n * 2);
    const replaced = app.task("t.replaced", (ctx) => ctx.replace(chain(add.s(1, 2), double.s())));
    const result = await replaced.apply();
    expect([result.status, result.result]).toEqual(["SUCCESS", 6]);
  });

  it("under taskAlwaysEager, delay() sends the args through the task serializer first; apply() does not", async () => {
    const app = eagerApp({ taskAlwaysEager: true });
    const seen: unknown[] = [];
    const echo = app.task("t.echo", (_ctx, value: unknown) => {
      seen.push(value);
      return value;
    });
    const fn = () => 1;
    // Task.apply_async under task_always_eager dumps/loads the args: a function cannot be sent.
    await expect(echo.delay(fn)).rejects.toMatchObject({ name: "EncodeError" });
    expect((await echo.apply([fn])).result).toBe(fn);
    // What a worker would decode: a Set is not JSON, an undefined member becomes null.
    await echo.delay([1, undefined, "x"]);
    expect(seen.at(-1)).toEqual([1, null, "x"]);
  });

  it("app.signature(name) of a task this app registers also runs in-process under taskAlwaysEager", async () => {
    const app = eagerApp({ taskAlwaysEager: true });
    app.task("t.add", (_ctx, a: number, b: number) => a + b);
    const add = app.signature<[number, number], number>("t.add");
    const result = await add.delay(4, 5);
    expect(result).toBeInstanceOf(EagerResult);
    expect(await result.get()).toBe(9);
  });
});
