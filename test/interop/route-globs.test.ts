/**
 * `task_routes` globs against Celery 5.7's own `MapRoute` (celery/app/routes.py): for generated
 * patterns and task names, Python decides which names a pattern routes, and Celeriac's Router must
 * route exactly those, in the map form (`{pattern: route}`) and the `[pattern, route]` pair form.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Router } from "../../src/client/router.js";
import { resolveSettings } from "../../src/config-checks.js";
import { pythonJson } from "../support/celery.js";

const PATTERN_CHARS = ["a", "b", ".", "*", "*", "?", "[", "]", "!", "-", "\\", "é", "😀", "^", "z"];
const NAME_CHARS = ["a", "b", ".", "-", "!", "[", "]", "\\", "é", "😀", "^", "z"];

const word = (chars: string[], max: number) =>
  fc.array(fc.constantFrom(...chars), { maxLength: max }).map((cs) => cs.join(""));

/** Cases a reader recognises, then generated ones. */
const cases: [string, string][] = [
  ["*.add", "x.addition"],
  ["*.add", "x.add"],
  ["proj.*", "proj."],
  ["proj.*", "other.proj.x"],
  ["proj.?ul", "proj.mul"],
  ["proj.[am]*", "proj.add"],
  ["proj.[!am]*", "proj.add"],
  ["[z-a]*", "a"],
  ["[!]*", "[!]x"],
  ...fc.sample(fc.tuple(word(PATTERN_CHARS, 8), word(NAME_CHARS, 6)), { numRuns: 600, seed: 1207 }),
];

describe("task_routes globs route what Celery 5.7's MapRoute routes", () => {
  it("for every pattern and name, in the map and the pair form", async () => {
    const python = await pythonJson<boolean[]>(
      `
      import json, sys
      from celery.app.routes import MapRoute
      cases = json.load(sys.stdin)
      print(json.dumps([MapRoute({p: {"queue": "hit"}})(n) is not None for p, n in cases]))
      `,
      { input: JSON.stringify(cases) },
    );
    expect(python).toHaveLength(cases.length);
    const mismatches: string[] = [];
    cases.forEach(([pattern, name], i) => {
      const asMap = new Router(resolveSettings({ taskRoutes: { [pattern]: "hit" } })).route(name, {});
      const asPair = new Router(resolveSettings({ taskRoutes: [[pattern, "hit"]] })).route(name, {});
      for (const [form, route] of [
        ["map", asMap],
        ["pair", asPair],
      ] as const) {
        const routed = route.queue.name === "hit";
        if (routed !== python[i])
          mismatches.push(`${form} ${JSON.stringify(pattern)} ${JSON.stringify(name)}: Python ${python[i]}`);
      }
    });
    expect(mismatches).toEqual([]);
    // The generated cases are not all one answer.
    expect(python.filter(Boolean).length).toBeGreaterThan(20);
    expect(python.filter((hit) => !hit).length).toBeGreaterThan(20);
  });
});
