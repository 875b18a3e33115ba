/**
 * routeSignatureDict (src/canvas/routes.ts): every task inside a signature dict gets its route
 * written into its options unless it names a destination; nested chains, groups, chord headers
 * and bodies, link / link_error / chord options are followed; the input is left alone.
 */
import { describe, expect, it } from "vitest";
import { chain, chord, group, s } from "../../../src/canvas/index.js";
import { type RouteLookup, routeSignatureDict } from "../../../src/canvas/routes.js";

const lookup: RouteLookup = (name) =>
  name.startsWith("ts.")
    ? { queue: "ts", priority: 3 }
    : name === "py.special"
      ? { exchange: "x", routingKey: "rk" }
      : null;

describe("routeSignatureDict", () => {
  it("a task: queue/exchange/routing_key/priority from the route, nothing for an unrouted one", () => {
    expect(routeSignatureDict(s("ts.a").toDict(), lookup).options).toEqual({ queue: "ts", priority: 3 });
    expect(routeSignatureDict(s("py.special").toDict(), lookup).options).toEqual({
      exchange: "x",
      routing_key: "rk",
    });
    expect(routeSignatureDict(s("py.add").toDict(), lookup).options).toEqual({});
  });

  it("a destination already in the options wins (as lpmerge(route, options) does); priority kept", () => {
    const sig = s("ts.a").set({ queue: "mine", priority: 9 }).toDict();
    expect(routeSignatureDict(sig, lookup).options).toEqual({ queue: "mine", priority: 9 });
    const rk = s("ts.a").set({ routingKey: "k" }).toDict();
    expect(routeSignatureDict(rk, lookup).options).toEqual({ routing_key: "k" });
  });

  it("follows chains, groups, chord header and body, link, link_error and chord options", () => {
    const head = s("py.add", 1);
    head.link(s("ts.cb"));
    head.linkError(chain(s("ts.e1"), s("py.e2")));
    const body = s("ts.body");
    body.options.link = [s("ts.after").toDict()];
    const wf = chain(head, group(s("ts.g1"), s("py.g2")), chord([s("ts.h1")], body)).toDict();
    const before = JSON.stringify(wf);
    const out = routeSignatureDict(wf, lookup);
    expect(JSON.stringify(wf)).toBe(before); // input untouched
    const at = (...path: Array<string | number>): unknown =>
      path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], out);
    const queues = (...path: Array<string | number>) =>
      (at(...path) as Array<{ options: { queue?: string } }>).map((t) => t.options.queue);
    expect(at("kwargs", "tasks", 0, "options", "queue")).toBeUndefined();
    expect(at("kwargs", "tasks", 0, "options", "link", 0, "options", "queue")).toBe("ts");
    expect(queues("kwargs", "tasks", 0, "options", "link_error", 0, "kwargs", "tasks")).toEqual([
      "ts",
      undefined,
    ]);
    expect(queues("kwargs", "tasks", 1, "kwargs", "tasks")).toEqual(["ts", undefined]);
    const header = at("kwargs", "tasks", 2, "kwargs", "header");
    expect(
      Array.isArray(header)
        ? queues("kwargs", "tasks", 2, "kwargs", "header")
        : queues("kwargs", "tasks", 2, "kwargs", "header", "kwargs", "tasks"),
    ).toEqual(["ts"]);
    expect(at("kwargs", "tasks", 2, "kwargs", "body", "options", "queue")).toBe("ts");
    expect(at("kwargs", "tasks", 2, "kwargs", "body", "options", "link", 0, "options", "queue")).toBe("ts");
  });

  it("passes the task's args, kwargs and options to the router (router functions see them)", () => {
    const seen: unknown[] = [];
    routeSignatureDict(s("x.y", 1, 2).set({ shadow: "z" }).toDict(), (name, args, kwargs, options) => {
      seen.push([name, args, kwargs, options.shadow]);
      return null;
    });
    expect(seen).toEqual([["x.y", [1, 2], {}, "z"]]);
  });
});
