import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  type AsyncResult,
  Celery,
  type Chain,
  ConfigError,
  chain,
  chord,
  type EagerResult,
  type GroupResult,
  group,
  type SendTaskOptions,
  Signature,
  type SignatureLike,
  s,
  signature,
  type TaskSig,
} from "../../../src/index.js";

// Nothing listens on port 1: these tests check types and shapes, nothing is sent.
const NO_SERVER = "redis://127.0.0.1:1/0";
const apps: Celery[] = [];
function app(): Celery {
  const a = new Celery({ broker: NO_SERVER, backend: NO_SERVER });
  apps.push(a);
  return a;
}
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

describe("app.task() handles are typed from the handler", () => {
  it("delay/applyAsync/apply take the handler's args and resolve to its result", () => {
    const a = app();
    const add = a.task("t.add", (_ctx, x: number, y: number) => x + y);
    const shout = a.task("t.shout", async (_ctx, text: string) => text.toUpperCase());
    expectTypeOf(add.name).toEqualTypeOf<string>();
    expectTypeOf(add.delay).parameters.toEqualTypeOf<[number, number]>();
    expectTypeOf(add.delay).returns.toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(shout.delay).returns.toEqualTypeOf<Promise<AsyncResult<string>>>();
    expectTypeOf(add.applyAsync).parameter(0).toEqualTypeOf<[number, number] | undefined>();
    expectTypeOf(add.applyAsync).parameter(2).toEqualTypeOf<SendTaskOptions | undefined>();
    expectTypeOf(add.apply).returns.toEqualTypeOf<Promise<EagerResult<number>>>();
    expectTypeOf(add.s(1)).toEqualTypeOf<TaskSig<number>>();
    expectTypeOf(add.si(1, 2)).toEqualTypeOf<TaskSig<number>>();
    // @ts-expect-error a string is not a number
    void (() => add.delay("2", 3));
    // @ts-expect-error si() is immutable: it needs every argument
    void (() => add.si(1));
    // @ts-expect-error s() takes a tail of the args, not more
    void (() => add.s(1, 2, 3));
    expect(add.name).toBe("t.add");
    expect(a.registry.get("t.add")?.handler).toBe(add.handler);
  });

  it("s()/si() are canvas signatures bound to the app, in Celery's dict shape on the wire", () => {
    const a = app();
    const add = a.task("t.add", (_ctx, x: number, y: number) => x + y);
    const remote = a.signature<[number, number], number>("proj.add", { queue: "math" });
    const sig = add.s(2);
    expect(sig).toBeInstanceOf(Signature);
    expect(sig.app).toBe(a);
    expect(sig.toDict()).toEqual({
      task: "t.add",
      args: [2],
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: false,
    });
    const rsig = remote.si(1, 2);
    expect(rsig.app).toBe(a);
    expect(JSON.parse(JSON.stringify(rsig))).toEqual({
      task: "proj.add",
      args: [1, 2],
      kwargs: {},
      options: { queue: "math" },
      subtask_type: null,
      immutable: true,
    });
    expect(rsig.clone().app).toBe(a);
  });
});

describe("one signature type wherever a signature is taken", () => {
  it("handles, app.signature() and s() all go into links, chains, groups and chords", () => {
    const a = app();
    const double = a.task("t.double", (_ctx, n: number) => n * 2);
    const remote = a.signature<[number, number], number>("proj.add");
    const links: SignatureLike[] = [double.s(), remote.s(1), s("t.any"), signature("t.x", [1])];
    expectTypeOf<Parameters<typeof a.sendTask>[3]>().toEqualTypeOf<SendTaskOptions | undefined>();
    expectTypeOf<NonNullable<SendTaskOptions["link"]>>().toEqualTypeOf<SignatureLike | SignatureLike[]>();
    const c = chain(remote.s(2, 3), double.s(), remote.s(10));
    expect(c.tasks.map((t) => t.task)).toEqual(["proj.add", "t.double", "proj.add"]);
    expect(links.every((l) => l instanceof Signature)).toBe(true);
  });

  it("workflows are typed by their last step, groups by their members", () => {
    const a = app();
    const add = a.task("t.add", (_ctx, x: number, y: number) => x + y);
    const str = a.task("t.str", (_ctx, n: number) => String(n));
    const c = chain(add.s(1, 2), str.s());
    expectTypeOf(c).toMatchTypeOf<Chain<string>>();
    expectTypeOf(c.applyAsync).returns.toEqualTypeOf<Promise<AsyncResult<string>>>();
    expectTypeOf(c.delay).returns.toEqualTypeOf<Promise<AsyncResult<string>>>();
    expectTypeOf(c.apply).returns.toEqualTypeOf<Promise<EagerResult<string>>>();
    const g = group(add.s(1, 1), add.s(2, 2));
    expectTypeOf(g.applyAsync).returns.toEqualTypeOf<Promise<GroupResult<number>>>();
    expectTypeOf(group([add.s(1, 1)]).applyAsync).returns.toEqualTypeOf<Promise<GroupResult<number>>>();
    const endsInGroup = chain(add.s(1, 1), group(str.s(), str.s()));
    expectTypeOf(endsInGroup.applyAsync).returns.toEqualTypeOf<Promise<GroupResult<string>>>();
    const ch = chord([add.s(1, 1), add.s(2, 2)], str.s());
    expectTypeOf(ch.applyAsync).returns.toEqualTypeOf<Promise<AsyncResult<string>>>();
    expectTypeOf(add.s(1, 1).applyAsync).returns.toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(s<boolean>("py.flag").delay).returns.toEqualTypeOf<Promise<AsyncResult<boolean>>>();
    expectTypeOf(s("py.any").delay).returns.toEqualTypeOf<Promise<AsyncResult<unknown>>>();
    expect([c.subtaskType, g.subtaskType, ch.subtaskType]).toEqual(["chain", "group", "chord"]);
  });

  it("a workflow with no app bound and none current names the way out", async () => {
    const a = app();
    await a.close();
    await expect(s("t.any").applyAsync()).rejects.toThrow(ConfigError);
    await expect(s("t.any").applyAsync()).rejects.toThrow(/pass \{ app \}/);
  });
});
