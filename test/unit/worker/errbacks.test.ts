/**
 * Which errbacks a TS worker calls in-process (celery/backends/base.py `_errback_arity_greater`,
 * 5.7, with the TS rule of src/worker/errbacks.ts): the handler's declared parameters after ctx,
 * less a mutable errback's stored args, more than one; or the `errbackArgs` task option.
 */
import { describe, expect, it } from "vitest";
import { s, si } from "../../../src/canvas/builders.js";
import { Signature } from "../../../src/canvas/signature.js";
import { ConfigError } from "../../../src/errors.js";
import type { TaskContext } from "../../../src/worker/context.js";
import { takesRequest } from "../../../src/worker/errbacks.js";
import {
  type ModuleHandler,
  type TaskHandler,
  type TaskOptions,
  TaskRegistry,
  threadedTask,
} from "../../../src/worker/task-registry.js";

const registry = new TaskRegistry();
const signatureWithKwargs = (name: string, kwargs: Record<string, unknown>) =>
  new Signature(name, [], kwargs);
type AnyHandler = ((ctx: TaskContext, ...args: never[]) => unknown) | ModuleHandler;
const def = (name: string, handler: AnyHandler, options: TaskOptions = {}) =>
  registry.register(name, handler as TaskHandler | ModuleHandler, options);

describe("takesRequest", () => {
  it("follows Celery's arity rule on the declared parameters after ctx", () => {
    const newStyle = def("t.new", (_ctx, _request: unknown, _exc: unknown, _tb: unknown) => null);
    const oldStyle = def("t.old", (_ctx, _taskId: string) => null);
    const two = def("t.two", (_ctx, _a: unknown, _b: unknown) => null);
    expect(takesRequest(newStyle, s("t.new"))).toBe(true);
    expect(takesRequest(oldStyle, s("t.old"))).toBe(false);
    // Like Python's add(x, y) used as an errback: two positional parameters take the request form.
    expect(takesRequest(two, s("t.two"))).toBe(true);
  });

  it("subtracts a mutable errback's stored args, not an immutable one's", () => {
    const two = def("t.two", (_ctx, _a: unknown, _b: unknown) => null);
    expect(takesRequest(two, s("t.two", 1))).toBe(false);
    expect(takesRequest(two, si("t.two", 1))).toBe(true);
  });

  it("a rest parameter is invisible to JS: the option decides", () => {
    const rest = def("t.rest", (_ctx, ..._args: unknown[]) => null);
    expect(takesRequest(rest, s("t.rest"))).toBe(false);
    const opted = def("t.rest2", (_ctx, ..._args: unknown[]) => null, { errbackArgs: "request" });
    expect(takesRequest(opted, s("t.rest2"))).toBe(true);
    const forced = def("t.id", (_ctx, _a: unknown, _b: unknown, _c: unknown) => null, { errbackArgs: "id" });
    expect(takesRequest(forced, s("t.id"))).toBe(false);
  });

  it("declared params: Celery's rule on the names, stored kwargs making the rest keyword-only", () => {
    const echo = def("t.echo", (_ctx, ..._args: unknown[]) => null, { params: ["message", "redis_key"] });
    expect(takesRequest(echo, s("t.echo"))).toBe(true);
    expect(takesRequest(echo, s("t.echo", "m"))).toBe(false);
    expect(takesRequest(echo, signatureWithKwargs("t.echo", { message: "m" }))).toBe(false);
    expect(takesRequest(echo, si("t.echo", "m"))).toBe(true);
  });

  it("module handlers (threadedTask, processTask) are always sent", () => {
    const threaded = def("t.thread", threadedTask("file:///x.js", "run"), { errbackArgs: "request" });
    expect(takesRequest(threaded, s("t.thread"))).toBe(false);
  });

  it("refuses an errbackArgs value it does not know, naming the accepted ones", () => {
    expect(() => def("t.bad", () => null, { errbackArgs: "new" } as unknown as TaskOptions)).toThrow(
      ConfigError,
    );
    expect(() => def("t.bad", () => null, { errbackArgs: "new" } as unknown as TaskOptions)).toThrow(
      /request.*id|"request"/,
    );
  });
});
