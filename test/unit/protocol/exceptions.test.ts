import { describe, expect, it } from "vitest";
import {
  TimeoutError as CeleryTimeoutError,
  ConfigError,
  ContentDisallowedError,
  DecodeError,
  NotRegisteredError,
  ProtocolError,
  RemoteTaskError,
  TaskRevokedError,
} from "../../../src/errors.js";
import { errorToExcInfo, excInfoToError, isExcInfo, toExcInfo } from "../../../src/protocol/exceptions.js";

class MyError extends Error {
  override name = "MyError";
}

function withProps<T extends Error>(err: T, props: Record<string, unknown>): T {
  return Object.assign(err, props);
}

describe("errorToExcInfo (the documented mapping table)", () => {
  const cases: [string, unknown, [string, unknown[], string | null]][] = [
    ["Error", new Error("boom"), ["Exception", ["boom"], "builtins"]],
    ["TypeError", new TypeError("t"), ["TypeError", ["t"], "builtins"]],
    ["RangeError", new RangeError("r"), ["ValueError", ["r"], "builtins"]],
    ["SyntaxError (JSON.parse)", new SyntaxError("s"), ["ValueError", ["s"], "builtins"]],
    ["URIError", new URIError("u"), ["ValueError", ["u"], "builtins"]],
    [
      "ReferenceError",
      new ReferenceError("x is not defined"),
      ["NameError", ["x is not defined"], "builtins"],
    ],
    ["EvalError", new EvalError("e"), ["RuntimeError", ["e"], "builtins"]],
    ["AggregateError", new AggregateError([], "many"), ["Exception", ["many"], "builtins"]],
    [
      "AbortSignal.timeout reason",
      new DOMException("timed out", "TimeoutError"),
      ["TimeoutError", ["timed out"], "builtins"],
    ],
    ["AbortError", new DOMException("aborted", "AbortError"), ["TimeoutError", ["aborted"], "builtins"]],
    [
      "ENOENT",
      withProps(new Error("no file"), { code: "ENOENT" }),
      ["FileNotFoundError", ["no file"], "builtins"],
    ],
    [
      "ECONNREFUSED",
      withProps(new Error("refused"), { code: "ECONNREFUSED" }),
      ["ConnectionRefusedError", ["refused"], "builtins"],
    ],
    [
      "TaskRevokedError",
      new TaskRevokedError("revoked"),
      ["TaskRevokedError", ["revoked"], "celery.exceptions"],
    ],
    [
      "NotRegisteredError",
      new NotRegisteredError("tasks.nope"),
      ["NotRegistered", ["tasks.nope"], "celery.exceptions"],
    ],
    [
      "celeriac TimeoutError",
      new CeleryTimeoutError("late"),
      ["TimeoutError", ["late"], "celery.exceptions"],
    ],
    ["DecodeError", new DecodeError("bad json"), ["DecodeError", ["bad json"], "kombu.exceptions"]],
    [
      "ContentDisallowedError",
      new ContentDisallowedError("application/x-python-serialize"),
      [
        "ContentDisallowed",
        ["Refusing to deserialize content of type application/x-python-serialize"],
        "kombu.exceptions",
      ],
    ],
    ["ProtocolError", new ProtocolError("p"), ["ProtocolError", ["p"], "celeriac"]],
    ["ConfigError", new ConfigError("opt", "c"), ["ConfigError", ["c"], "celeriac"]],
    ["a user subclass", new MyError("mine"), ["MyError", ["mine"], "celeriac"]],
    [
      "declared excType/excModule",
      withProps(new Error("k"), { excType: "KeyError", excModule: "builtins" }),
      ["KeyError", ["k"], "builtins"],
    ],
    [
      "declared pyType",
      withProps(new Error("v"), { pyType: "ValueError" }),
      ["ValueError", ["v"], "builtins"],
    ],
    [
      "own args array",
      withProps(new Error("x"), { args: ["bad value", 7, undefined, () => 1] }),
      ["Exception", ["bad value", 7, null, "() => 1"], "builtins"],
    ],
    ["a thrown string", "plain", ["Exception", ["plain"], "builtins"]],
    ["a thrown object", { a: 1 }, ["Exception", ["{'a': 1}"], "builtins"]],
    ["a thrown undefined", undefined, ["Exception", ["None"], "builtins"]],
    [
      "a RemoteTaskError",
      new RemoteTaskError({
        excType: "Custom",
        excModule: "proj.errors",
        excMessage: ["m", 1],
        traceback: "tb",
      }),
      ["Custom", ["m", 1], "proj.errors"],
    ],
  ];
  for (const [what, err, [type, message, module]] of cases) {
    it(what, () => {
      expect(errorToExcInfo(err)).toEqual({ exc_type: type, exc_message: message, exc_module: module });
    });
  }
});

describe("excInfoToError", () => {
  it("rebuilds TaskRevokedError from REVOKED metas and from the celery.exceptions triple", () => {
    const info = { exc_type: "TaskRevokedError", exc_message: ["expired"], exc_module: "celery.exceptions" };
    const err = excInfoToError(info, { taskId: "t1" });
    expect(err).toBeInstanceOf(TaskRevokedError);
    expect([err.message, (err as TaskRevokedError).taskId]).toEqual(["Task t1 was expired (expired)", "t1"]);
    const byState = excInfoToError(
      { exc_type: "Whatever", exc_message: [], exc_module: "x" },
      { state: "REVOKED" },
    );
    expect(byState).toBeInstanceOf(TaskRevokedError);
    expect(byState.message).toBe("Task was revoked (revoked)");
  });

  it("rebuilds NotRegisteredError from celery.exceptions.NotRegistered", () => {
    const err = excInfoToError({
      exc_type: "NotRegistered",
      exc_message: ["tasks.nope"],
      exc_module: "celery.exceptions",
    });
    expect(err).toBeInstanceOf(NotRegisteredError);
    expect((err as NotRegisteredError).taskName).toBe("tasks.nope");
  });

  it("wraps everything else in a RemoteTaskError carrying the triple and the traceback", () => {
    const err = excInfoToError(
      { exc_type: "ValueError", exc_message: ["bad value", 7], exc_module: "builtins" },
      { traceback: "Traceback …", taskId: "t", state: "FAILURE" },
    );
    expect(err).toBeInstanceOf(RemoteTaskError);
    const remote = err as RemoteTaskError;
    expect([remote.excType, remote.excModule, remote.excMessage, remote.traceback, remote.taskId]).toEqual([
      "ValueError",
      "builtins",
      ["bad value", 7],
      "Traceback …",
      "t",
    ]);
    // A Python error passing through a TS task keeps its identity.
    expect(errorToExcInfo(err)).toEqual({
      exc_type: "ValueError",
      exc_message: ["bad value", 7],
      exc_module: "builtins",
    });
  });
});

describe("isExcInfo / toExcInfo", () => {
  it("recognize Celery's triple and normalize what exception_to_python tolerates", () => {
    expect(isExcInfo({ exc_type: "KeyError", exc_message: ["k"], exc_module: "builtins" })).toBe(true);
    expect(isExcInfo({ exc_type: "KeyError", exc_message: "k", exc_module: "builtins" })).toBe(false);
    expect(isExcInfo({ exc_message: [] })).toBe(false);
    expect(isExcInfo("KeyError")).toBe(false);
    expect(toExcInfo({ exc_type: "KeyError", exc_message: "k" })).toEqual({
      exc_type: "KeyError",
      exc_message: ["k"],
      exc_module: null,
    });
    expect(toExcInfo({ exc_type: 5 })).toBeNull();
  });
});
