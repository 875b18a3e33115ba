/**
 * Pins the package's public surface (src/index.ts): adding or removing a
 * runtime export must be a deliberate change to this list. Types are
 * checked by `tsc` (this file is in the project), including how `app.task`
 * types a handler's context and arguments.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as api from "../../src/index.js";

const PUBLIC_VALUES = [
  // app, results, canvas
  "Celery",
  "AsyncResult",
  "GroupResult",
  "CELERY_MINORS",
  "Signature",
  "Chain",
  "Chord",
  "Group",
  "applyAsync",
  "chain",
  "chord",
  "group",
  "s",
  "si",
  "signature",
  "MapSignature",
  "Chunks",
  "xmap",
  "xstarmap",
  "chunks",
  // errors
  "CeleryError",
  "ConfigError",
  "ConnectionLostError",
  "ContentDisallowedError",
  "DatabaseError",
  "DecodeError",
  "EagerResult",
  "EncodeError",
  "NotRegisteredError",
  "ProtocolError",
  "RemoteTaskError",
  "TaskRevokedError",
  "TimeoutError",
  // worker
  "Worker",
  "defineTaskBase",
  "threadedTask",
  "processTask",
  "Retry",
  "Reject",
  "Ignore",
  "ImproperlyConfigured",
  "PythonError",
  "SoftTimeLimitExceeded",
  "TimeLimitExceeded",
  "MaxRetriesExceededError",
  "Terminated",
  "WorkerLostError",
  "createLogger",
  "checkLogger",
  "TASK_LOG_FIELDS",
  // control and events
  "Control",
  "Inspect",
  "State",
  "TaskState",
  "WorkerState",
  // beat
  "Beat",
  "CrontabParseError",
  "crontab",
  "interval",
  "solar",
];

describe("public exports", () => {
  it("exports exactly the pinned runtime names", () => {
    expect(Object.keys(api).sort()).toEqual([...PUBLIC_VALUES].sort());
  });

  it("task errors carry their Python identity and extend CeleryError", () => {
    const cases: [api.CeleryError & { excType: string; excModule: string }, string, string][] = [
      [new api.Reject("no", false), "Reject", "celery.exceptions"],
      [new api.Ignore(), "Ignore", "celery.exceptions"],
      [new api.SoftTimeLimitExceeded(1), "SoftTimeLimitExceeded", "billiard.exceptions"],
      [new api.TimeLimitExceeded(2), "TimeLimitExceeded", "billiard.exceptions"],
      [new api.MaxRetriesExceededError("m"), "MaxRetriesExceededError", "celery.exceptions"],
      [new api.Terminated(15), "Terminated", "celery.exceptions"],
      [new api.PythonError("KeyError", ["k"]), "KeyError", "builtins"],
    ];
    for (const [err, type, module] of cases) {
      expect(err).toBeInstanceOf(api.CeleryError);
      expect([err.excType, err.excModule]).toEqual([type, module]);
    }
  });

  it("threadedTask and defineTaskBase build what app.task accepts", async () => {
    const app = new api.Celery({ broker: "redis://127.0.0.1:1/0" });
    const base = api.defineTaskBase({ maxRetries: 1 }).extend({ acksLate: true });
    const threaded = app.task("ts.threaded", api.threadedTask(new URL("file:///tasks.js"), "run"), { base });
    expect(threaded.options).toMatchObject({ maxRetries: 1, acksLate: true });
    expect(threaded.handler).toEqual({ kind: "threaded", module: "file:///tasks.js", exportName: "run" });
    await app.close();
  });

  it("app.task types the handler: context first, then the positional args", async () => {
    const app = new api.Celery({ broker: "redis://127.0.0.1:1/0" });
    app.task("ts.add", (ctx, a: number, b: number) => {
      expectTypeOf(ctx).toEqualTypeOf<api.TaskContext>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(ctx.retry).returns.toBeNever();
      return a + b;
    });
    expectTypeOf(app.task<[number, number], number>)
      .parameter(1)
      .toEqualTypeOf<api.TaskHandler<[number, number], number> | api.ModuleHandler>();
    expectTypeOf(app.worker).returns.toEqualTypeOf<api.Worker>();
    expectTypeOf<api.WorkerOptions["withoutMingle"]>().toEqualTypeOf<boolean | undefined>();
    // @ts-expect-error the first parameter is the task context, not an argument
    app.task("ts.bad", (a: number) => a);
    await app.close();
  });
});
