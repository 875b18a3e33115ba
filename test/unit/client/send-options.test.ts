import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { s } from "../../../src/canvas/index.js";
import { childIds } from "../../../src/client/result.js";
import { metaToError } from "../../../src/client/result-error.js";
import { checkSendOptions, signatureList } from "../../../src/client/send-options.js";
import { ConfigError, NotRegisteredError, RemoteTaskError, TaskRevokedError } from "../../../src/errors.js";

function optionError(options: unknown, args: unknown = [], kwargs: unknown = {}): ConfigError {
  try {
    checkSendOptions("t", args, kwargs, options);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("checkSendOptions", () => {
  it.each([
    [{ serializer: "pickle" }, "serializer", /"json", "msgpack", "yaml"/],
    [{ compression: "lz4" }, "compression", /"zlib"/],
    [{ countdown: -1 }, "countdown", />= 0/],
    [{ priority: 1.5 }, "priority", /integer/],
    [{ eta: "tomorrow" }, "eta", /valid Date/],
    [{ expires: "soon" }, "expires", /seconds .* or a valid Date/],
    [{ link: { nope: 1 } }, "link", /signature/],
    [{ routing_key: "x" }, "routing_key", /unknown sendTask option.*routingKey/],
  ])("rejects %o naming %s", (options, option, accepted) => {
    const err = optionError(options);
    expect(err.option).toBe(option);
    expect(err.message).toMatch(accepted);
  });

  it("rejects non-array args and non-object kwargs", () => {
    expect(optionError({}, "x").option).toBe("args");
    expect(optionError({}, [], [1]).option).toBe("kwargs");
  });

  it("accepts every documented option", () => {
    expect(() =>
      checkSendOptions(
        "t",
        [1],
        { a: 1 },
        {
          countdown: 1,
          eta: new Date(),
          expires: 10,
          priority: 9,
          queue: "q",
          exchange: "",
          routingKey: "q",
          headers: { x: 1 },
          taskId: "id",
          shadow: "s",
          timeLimit: 1,
          softTimeLimit: 1,
          ignoreResult: true,
          serializer: "msgpack",
          compression: "zlib",
          replyTo: "r",
          link: { task: "a", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false },
          linkError: [],
        },
      ),
    ).not.toThrow();
  });
});

describe("result metas", () => {
  const base = { traceback: "tb", children: null, date_done: null, task_id: "tid" };

  it("maps FAILURE, REVOKED and NotRegistered to their TS errors", () => {
    const failure = metaToError({
      ...base,
      status: "FAILURE",
      result: { exc_type: "ValueError", exc_message: ["bad", 7], exc_module: "builtins" },
    });
    expect(failure).toBeInstanceOf(RemoteTaskError);
    expect(failure).toMatchObject({
      excType: "ValueError",
      excModule: "builtins",
      excMessage: ["bad", 7],
      traceback: "tb",
    });
    const revoked = metaToError({
      ...base,
      status: "REVOKED",
      result: { exc_type: "TaskRevokedError", exc_message: ["expired"], exc_module: "celery.exceptions" },
    });
    expect(revoked).toBeInstanceOf(TaskRevokedError);
    expect(revoked.message).toContain("expired");
    const missing = metaToError({
      ...base,
      status: "FAILURE",
      result: { exc_type: "NotRegistered", exc_message: ["'x.y'"], exc_module: "celery.exceptions" },
    });
    expect(missing).toBeInstanceOf(NotRegisteredError);
    expect((missing as NotRegisteredError).taskName).toBe("x.y");
  });

  it("reads child ids from result and group tuples", () => {
    expect(
      childIds([
        [["c1", null], null],
        [["g1", null], [[["c2", null], null]]],
      ]),
    ).toEqual(["c1", "g1"]);
    expect(childIds(null)).toEqual([]);
  });
});

describe("link / linkError take canvas signatures and dicts alike", () => {
  it("a Signature object becomes its dict in the message's callbacks and errbacks", async () => {
    const cb = s("ts.double").set({ queue: "ts" });
    expect(signatureList("link", cb)).toEqual([cb.toDict()]);
    expect(signatureList("link", [cb, cb.toDict()])).toEqual([cb.toDict(), cb.toDict()]);
    const app = new Celery({ broker: "redis://127.0.0.1:1/0" });
    checkSendOptions("t", [], {}, { link: cb, linkError: [s("ts.on_error")] });
    const prepared = app.prepareTask("t", [1], {}, { link: cb, linkError: s("ts.on_error") });
    const embed = prepared.taskMessage.body[2] as { callbacks: unknown[]; errbacks: unknown[] };
    expect(embed.callbacks).toEqual([cb.toDict()]);
    expect(embed.errbacks).toEqual([s("ts.on_error").toDict()]);
    await app.close();
  });
});
