/**
 * `celeriac stubs` against a real Python Celery 5.7 app (python-interop/app/stubs_proj: annotated
 * and unannotated tasks, postponed annotations, TypedDict, a pydantic=True task, a dataclass, an
 * Enum, keyword-only and *args/**kwargs parameters, a bound and a class-based task), run with
 * that app's own interpreter (the "observe" venv: Celery 5.7 + pydantic 2):
 *
 * - the generated module names every task the Python app registers, with the types the issue
 *   lists mapped as written below;
 * - it typechecks (strict, NodeNext) together with a usage file whose wrong calls are
 *   `@ts-expect-error`s, so a type that came out too loose fails the check;
 * - the handles it gives, called from Node, reach a real Python worker running that app, and
 *   every result equals what a Python producer gets for the same call in the same test.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { type CeleryWorker, INTEROP_APP_DIR, pythonJson, startCeleryWorker } from "../support/celery.js";
import { ChildHandle, tail } from "../support/process.js";
import { allocateRedisDb, celeryVenvPython } from "../support/services.js";

const REPO_ROOT = join(import.meta.dirname, "..", "..");
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
const APP = "stubs_proj.celery:app";

let python: string;
let broker: string;
let backend: string;
let worker: CeleryWorker | undefined;
let dir: string;
let generated: string;

async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
  });
  return { code, out, err };
}

beforeAll(async () => {
  python = await celeryVenvPython("observe");
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  dir = mkdtempSync(join(tmpdir(), "celeriac-stubs-"));
  worker = await startCeleryWorker({
    app: APP,
    celeryVersion: "observe",
    brokerUrl: broker,
    backendUrl: backend,
    queues: ["celery"],
  });
  const out = join(dir, "tasks.gen.ts");
  const run = await runCli(["stubs", "-A", APP, "--workdir", INTEROP_APP_DIR, "--python", python, "-o", out]);
  expect(run, run.err).toMatchObject({ code: 0 });
  expect(run.err).toMatch(/Wrote typed handles for 10 task\(s\) of stubs_proj\.celery:app/);
  generated = readFileSync(out, "utf8");
});

afterAll(async () => {
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The `PythonTaskTypes` line of one task. */
function typesOf(name: string): string {
  const line = generated.split("\n").find((l) => l.startsWith(`  ${JSON.stringify(name)}: `));
  if (!line) throw new Error(`no PythonTaskTypes entry for ${name} in:\n${generated}`);
  return line.trim();
}

describe("celeriac stubs -A stubs_proj.celery:app", () => {
  it("lists exactly the tasks the Python app registers (Celery's own celery.* left out)", async () => {
    const registered = await pythonJson<string[]>(
      `
      import json
      from stubs_proj.celery import app
      app.loader.import_default_modules()
      print(json.dumps(sorted(n for n in app.tasks if not n.startswith("celery."))))
      `,
      { celeryVersion: "observe" },
    );
    const stubbed = [...generated.matchAll(/^ {2}"([^"]+)": \{ args:/gm)].map((m) => m[1]);
    expect(stubbed).toEqual(registered);
  });

  it("maps annotations to TS types, unannotated ones to unknown", () => {
    expect(typesOf("stubs.add")).toBe(
      '"stubs.add": { args: [x: number, y: number]; kwargs: { x: number; y: number }; result: number };',
    );
    expect(typesOf("stubs.scalars")).toBe(
      '"stubs.scalars": { args: [i: number, f: number, s: string, b: boolean, n?: null]; kwargs: { i: number; f: number; s: string; b: boolean; n?: null }; result: [number, number, string, boolean, null] };',
    );
    expect(typesOf("stubs.containers")).toContain(
      'args: [xs: number[], m: Record<string, number>, pair: [number, string], many: string[], maybe?: string | null, either?: number | string, newer?: number | null, mode?: "fast" | "slow", anything?: unknown]',
    );
    expect(typesOf("stubs.untyped")).toBe(
      '"stubs.untyped": { args: [a: unknown, b?: unknown, ...rest: unknown[]]; kwargs: { a: unknown; b?: unknown; flag?: unknown; [extra: string]: unknown }; result: unknown };',
    );
    expect(typesOf("stubs.keyword_only")).toBe(
      '"stubs.keyword_only": { args: [text: string]; kwargs: { text: string; times: number; sep?: string }; result: string };',
    );
    // bind=True drops `self`; a class-based task's run() is read like a function.
    expect(typesOf("stubs.bound")).toContain("args: [label: string]");
    expect(typesOf("stubs.multiply")).toContain("args: [a: number, b: number]");
    // Structured types become named types (postponed annotations resolved in their module).
    expect(typesOf("stubs.centroid")).toContain("args: [points: Point[], label: Labelled]; ");
    expect(typesOf("stubs.price")).toContain("args: [order: Order, unit_price: number]; ");
    expect(typesOf("stubs.price")).toContain("result: Receipt };");
    expect(generated).toContain("export interface Point {\n  x: number;\n  y: number;\n}");
    expect(generated).toContain("export interface Labelled {\n  label?: string;\n  color?: Color;\n}");
    expect(generated).toContain('export type Color = "red" | "green";');
    expect(generated).toContain(
      "export interface Order {\n  sku: string;\n  quantity?: number;\n  tags?: string[];\n  note?: string | null;\n}",
    );
    expect(generated).toContain(
      "export interface Size {\n  width: number;\n  height: number;\n  unit?: string;\n}",
    );
    expect(generated).toContain('keywordOnly: handle(app, "stubs.keyword_only"),');
  });

  it("typechecks with a usage file whose wrong calls are errors, and the handles reach the Python worker", async () => {
    const calls = `
const tasks = pythonTasks(app);
const results: Record<string, unknown> = {};
const add: number = await (await tasks.add.delay(2, 3)).get({ timeoutMs: 20_000 });
results.add = add;
results.scalars = await (await tasks.scalars.delay(1, 2.5, "s", true)).get({ timeoutMs: 20_000 });
results.containers = await (
  await tasks.containers.delay([1, 2], { a: 1.5 }, [1, "x"], ["p", "q"], null, "e", 7, "slow")
).get({ timeoutMs: 20_000 });
results.keywordOnly = await (await tasks.keywordOnly.applyAsync(["ab"], { times: 3, sep: "-" })).get({ timeoutMs: 20_000 });
results.keywordsOnly = await (await tasks.keywordOnly.applyAsync([], { text: "k", times: 2 })).get({ timeoutMs: 20_000 });
results.bound = await (await tasks.bound.delay("L")).get({ timeoutMs: 20_000 });
results.multiply = await (await tasks.multiply.delay(1.5, 4)).get({ timeoutMs: 20_000 });
const centroid: Point = await (
  await tasks.centroid.delay([{ x: 0, y: 0 }, { x: 2, y: 4 }], { label: "c", color: "red" })
).get({ timeoutMs: 20_000 });
results.centroid = centroid;
const order: Order = { sku: "A1", quantity: 3 };
const receipt: Receipt = await (await tasks.price.delay(order, 2.5)).get({ timeoutMs: 20_000 });
results.price = receipt;
results.area = await (await tasks.area.delay({ width: 3, height: 4 })).get({ timeoutMs: 20_000 });
results.untyped = await (await tasks.untyped.applyAsync([1], { flag: true, z: 9 })).get({ timeoutMs: 20_000 });
console.log(JSON.stringify(results));
await app.close();

// Never called: each line must be a type error, or tsc fails on the unused directive.
function wrongCalls(): void {
  // @ts-expect-error x is an int in Python
  void tasks.add.delay("2", 3);
  // @ts-expect-error y has no default
  void tasks.add.delay(2);
  // @ts-expect-error times is keyword-only and required
  void tasks.keywordOnly.applyAsync([], { text: "a" });
  // @ts-expect-error mode is Literal["fast", "slow"]
  void tasks.containers.delay([1], {}, [1, "x"], [], null, 1, null, "medium");
  // @ts-expect-error a TypedDict key is missing
  void tasks.centroid.delay([{ x: 1 }], {});
  // @ts-expect-error Order.sku is required
  void tasks.price.delay({ quantity: 1 }, 1);
  // @ts-expect-error the result is a Receipt, not a number
  void tasks.price.delay(order, 1).then((r) => r.get()).then((x): number => x);
}
void wrongCalls;
`;
    const header = (celeriac: string) =>
      `import { Celery } from ${JSON.stringify(celeriac)};\nimport { type Order, type Point, type Receipt, pythonTasks } from "./tasks.gen.js";\nconst app = new Celery({ broker: process.env.STUBS_BROKER, backend: process.env.STUBS_BACKEND });\n`;
    writeFileSync(join(dir, "usage.ts"), header("celeriac") + calls);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023"],
          types: ["node"],
          typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          noEmit: true,
          paths: { celeriac: [join(REPO_ROOT, "src", "index.ts")] },
        },
        // The sources' own declaration for the untyped bzip2 package they import.
        files: ["usage.ts", "tasks.gen.ts", join(REPO_ROOT, "src", "serialization", "compressjs.d.ts")],
      }),
    );
    const tsc = spawnSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    expect(tsc.status, `tsc:\n${tsc.stdout}${tsc.stderr}`).toBe(0);

    // Run it: "celeriac" pointed at the sources, the generated module as written (.js -> .ts by tsx).
    writeFileSync(join(dir, "run.mts"), header(join(REPO_ROOT, "src", "index.ts")) + calls);
    const child = new ChildHandle(process.execPath, ["--import", "tsx", join(dir, "run.mts")], {
      cwd: REPO_ROOT,
      env: { ...process.env, STUBS_BROKER: broker, STUBS_BACKEND: backend },
    });
    const exit = await child.exited;
    expect(exit.code, tail(child.output())).toBe(0);
    const fromNode = JSON.parse(child.output().trim().split("\n").pop() ?? "null") as unknown;

    const fromPython = await pythonJson(
      `
      import json
      from stubs_proj.celery import app
      def call(name, args=(), kwargs=None):
          return app.send_task(name, args, kwargs or {}).get(timeout=20)
      print(json.dumps({
          "add": call("stubs.add", (2, 3)),
          "scalars": call("stubs.scalars", (1, 2.5, "s", True)),
          "containers": call("stubs.containers", ([1, 2], {"a": 1.5}, [1, "x"], ["p", "q"], None, "e", 7, "slow")),
          "keywordOnly": call("stubs.keyword_only", ("ab",), {"times": 3, "sep": "-"}),
          "keywordsOnly": call("stubs.keyword_only", (), {"text": "k", "times": 2}),
          "bound": call("stubs.bound", ("L",)),
          "multiply": call("stubs.multiply", (1.5, 4)),
          "centroid": call("stubs.centroid", ([{"x": 0, "y": 0}, {"x": 2, "y": 4}], {"label": "c", "color": "red"})),
          "price": call("stubs.price", ({"sku": "A1", "quantity": 3}, 2.5)),
          "area": call("stubs.area", ({"width": 3, "height": 4},)),
          "untyped": call("stubs.untyped", (1,), {"flag": True, "z": 9}),
      }))
      `,
      { brokerUrl: broker, backendUrl: backend, celeryVersion: "observe" },
    );
    expect(fromNode).toEqual(fromPython);
  }, 120_000);

  it("a missing app or module is one clear error naming it", async () => {
    const missing = await runCli([
      "stubs",
      "-A",
      "no_such_proj.celery:app",
      "--workdir",
      INTEROP_APP_DIR,
      "--python",
      python,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(
      /^Error: loading the Python app "no_such_proj\.celery:app" with .* failed \(exit 1\): .*No module named 'no_such_proj'/,
    );
    const noPython = await runCli(["stubs", "-A", APP, "--python", "/nonexistent/python"]);
    expect(noPython.code).toBe(1);
    expect(noPython.err).toMatch(
      /cannot run the Python interpreter "\/nonexistent\/python".*pass --python PATH/,
    );
    const noApp = await runCli(["stubs"]);
    expect(noApp.code).toBe(2);
    expect(noApp.err).toMatch(/Missing option '-A'/);
  });
});
