/**
 * Eager mode (issue 13 item 8) compared with Celery's own: python-interop/app/eager_shapes.py
 * runs a set of task shapes through Celery 5.7's `Task.apply`, `task_always_eager` and
 * `task_eager_propagates` (memory:// broker, nothing else), and this test runs the same shapes
 * through Celeriac's `handle.apply()` / `taskAlwaysEager` / `taskEagerPropagates` (a broker URL
 * nothing listens on: any connection attempt would fail), then compares outcome by outcome:
 * result class, state, value, exception type, what each run saw (retries, args, is_eager), what
 * `apply()` threw, the callbacks' and errbacks' arguments and parent ids, workflow results, and
 * the serializer round trip `apply_async` makes under `task_always_eager` (and `apply` does not).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, chord, group } from "../../src/canvas/index.js";
import { EagerResult } from "../../src/client/eager-result.js";
import type { AnyResult } from "../../src/client/result.js";
import type { CeleryOptions } from "../../src/config.js";
import { Ignore, PythonError, Reject } from "../../src/worker/errors.js";
import { excInfoOf } from "../../src/worker/exc-info.js";
import { pythonJson } from "../support/celery.js";

type Outcome = Record<string, unknown>;
const NO_SERVER = "redis://127.0.0.1:1/0";
let python: Record<string, Outcome>;
const apps: Celery[] = [];

beforeAll(async () => {
  python = await pythonJson<Record<string, Outcome>>("import eager_shapes; eager_shapes.main()");
});

afterAll(async () => {
  for (const app of apps) await app.close();
});

const excType = (err: unknown): string => excInfoOf(err).exc_type;

function outcome(result: AnyResult | null, thrown: unknown = null, extra: Outcome = {}): Outcome {
  const out: Outcome = { thrown: thrown === null ? null : excType(thrown) };
  if (result instanceof EagerResult) {
    const isExc = result.status !== "SUCCESS";
    out.kind = "EagerResult";
    out.state = result.status;
    out.result = isExc ? null : (result.result ?? null);
    out.exc_type = isExc ? excType(result.result) : null;
  }
  return { ...out, ...extra };
}

async function thrownBy(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
    return null;
  } catch (err) {
    return err;
  }
}

/** The same tasks as eager_shapes.py's make_app, on a Celeriac app. */
function makeApp(settings: CeleryOptions) {
  const app = new Celery({ broker: NO_SERVER, backend: NO_SERVER, ...settings });
  apps.push(app);
  const runs: unknown[][] = [];
  const calls: [unknown[], string | null][] = [];
  const add = app.task("e.add", (ctx, a: number, b: number) => {
    runs.push([ctx.retries, ctx.isEager]);
    return a + b;
  });
  const double = app.task("e.double", (_ctx, n: number) => n * 2);
  const total = app.task("e.total", (_ctx, values: number[]) => values.reduce((x, y) => x + y, 0));
  const nothing = app.task("e.nothing", () => undefined);
  const fail = app.task("e.fail", () => {
    throw new PythonError("ValueError", ["bad input"]);
  });
  const flaky = app.task(
    "e.flaky",
    (ctx, n: number) => {
      runs.push([ctx.retries, [...ctx.args]]);
      if (ctx.retries < 2) ctx.retry({ countdown: 3600, args: [n + 1] });
      return n;
    },
    { maxRetries: 5 },
  );
  const always = app.task(
    "e.always",
    (ctx) => {
      runs.push([ctx.retries]);
      return ctx.retry({ countdown: 1 });
    },
    { maxRetries: 2 },
  );
  const retryExc = app.task("e.retry_exc", (ctx) => {
    runs.push([ctx.retries]);
    return ctx.retry({ exc: new PythonError("KeyError", ["k"]), maxRetries: 1 });
  });
  const auto = app.task(
    "e.auto",
    (ctx) => {
      runs.push([ctx.retries]);
      if (ctx.retries < 1) throw new PythonError("ValueError", ["once"]);
      return "ok";
    },
    { autoretryFor: ["ValueError"], maxRetries: 3, retryBackoff: false },
  );
  const reject = app.task("e.reject", () => {
    throw new Reject("no", false);
  });
  const ignore = app.task("e.ignore", () => {
    throw new Ignore();
  });
  // Three parameters after ctx: Celery's arity rule makes it a new-style errback.
  const onErr = app.task("e.on_err", (_ctx, request: { id: string }, exc: unknown, traceback: unknown) => {
    calls.push([[request.id, excType(exc), typeof traceback === "string"], null]);
  });
  const echo = app.task("e.echo", (_ctx, _value: unknown) => "ran");
  const record = app.task("e.record", (ctx, ...args: unknown[]) => {
    calls.push([args, ctx.parentId]);
    return args;
  });
  const t = {
    add,
    double,
    total,
    nothing,
    fail,
    flaky,
    always,
    retryExc,
    auto,
    reject,
    ignore,
    onErr,
    echo,
    record,
  };
  return { app, runs, calls, t };
}

describe("eager mode matches Celery 5.7's Task.apply / task_always_eager", () => {
  it("the same shapes give the same outcomes", async () => {
    const ts: Record<string, Outcome> = {};

    let { runs, t } = makeApp({});
    const r: AnyResult = await t.add.apply([2, 3]);
    ts.ok = outcome(r, null, { runs: [...runs], eager_result: await r.get() });
    ts.none = outcome(await t.nothing.apply());
    const failed = await t.fail.apply();
    ts.fail = outcome(failed, null, { get_raises: excType(await thrownBy(() => failed.get())) });
    ts.fail_throw = { thrown: excType(await thrownBy(() => t.fail.apply([], {}, { throw: true }))) };
    runs.length = 0;
    ts.retry_then_ok = outcome(await t.flaky.apply([10]), null, { runs: [...runs] });
    runs.length = 0;
    ts.retry_exhausted = outcome(await t.always.apply(), null, { runs: [...runs] });
    runs.length = 0;
    ts.retry_exc = outcome(await t.retryExc.apply(), null, { runs: [...runs] });
    runs.length = 0;
    ts.autoretry = outcome(await t.auto.apply(), null, { runs: [...runs] });
    ts.reject = outcome(await t.reject.apply());
    ts.ignore = outcome(await t.ignore.apply());

    ({ runs, t } = makeApp({ taskEagerPropagates: true }));
    runs.length = 0;
    ts.retry_propagates = { thrown: excType(await thrownBy(() => t.flaky.apply([1]))), runs: [...runs] };
    ts.fail_propagates = { thrown: excType(await thrownBy(() => t.fail.apply())) };
    ts.fail_throw_false = outcome(await t.fail.apply([], {}, { throw: false }));

    const eager = makeApp({ taskAlwaysEager: true });
    t = eager.t;
    const calls = eager.calls;
    ts.delay = outcome(await t.add.delay(2, 3));
    const linked = await t.add.applyAsync([1, 2], {}, { link: t.record.s("tail") });
    ts.link = outcome(linked, null, { calls: calls.map(([args, parent]) => [args, parent === linked.id]) });
    calls.length = 0;
    const errbacked = await t.fail.applyAsync([], {}, { linkError: t.record.s() });
    ts.link_error = outcome(errbacked, null, {
      calls: calls.map(([args, parent]) => [args.map((a) => a === errbacked.id), parent === errbacked.id]),
    });
    calls.length = 0;
    const errRequest = await t.fail.applyAsync([], {}, { linkError: t.onErr.s() });
    ts.link_error_request = {
      calls: calls.map(([[failedId, type, hasTraceback]]) => [
        failedId === errRequest.id,
        type,
        hasTraceback,
      ]),
    };
    const unsendable = () => 0; // a value the task serializer cannot carry, as Python's object()
    ts.serializer_round_trip = {
      delay_raises: excType(await thrownBy(() => t.echo.delay(unsendable))),
      apply: (await t.echo.apply([unsendable])).result,
    };
    const chained = await chain(t.add.s(2, 3), t.double.s(), t.add.s(10)).applyAsync();
    ts.chain = outcome(chained, null, { parent: await chained.parent?.get() });
    const grouped = await group(t.add.s(1, 1), t.add.s(2, 2)).applyAsync();
    ts.group = { kind: grouped.constructor.name, values: await grouped.get() };
    ts.chord = outcome(await chord([t.add.s(1, 1), t.add.s(2, 2)], t.total.s()).applyAsync());

    // The comparison itself; plus a few fixed points so two empty or broken runs cannot agree.
    expect(ts).toEqual(python);
    expect(python.retry_then_ok?.result).toBe(12);
    expect(python.retry_propagates?.thrown).toBe("Retry");
    expect(python.link?.calls).toEqual([[[3, "tail"], true]]);
    expect(python.serializer_round_trip).toEqual({ delay_raises: "EncodeError", apply: "ran" });
    expect(python.link_error_request).toEqual({ calls: [[true, "ValueError", true]] });
    expect(Object.keys(python)).toHaveLength(21);
  });
});
