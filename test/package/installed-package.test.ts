/**
 * The package as a user gets it: `npm pack` (which builds through `prepack`), the tarball
 * installed into a fresh project, and there: `import` and `require` (same exports, optional
 * packages not loaded on import), a TypeScript check under `moduleResolution: nodenext` (ESM and
 * CommonJS files) and under `module: commonjs`, `npx celeriac --version` and its `-A` hints, a
 * CommonJS producer calling a real Python Celery 5.7 worker, and `npx celeriac worker` (the
 * installed bin) running a task a Python producer sends, then stopping warmly when npx gets SIGTERM.
 *
 * Run by `.ci/run` as its own step: `npm run test:package`.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { ChildHandle, tail, waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const run = promisify(execFile);
const REPO_ROOT = join(import.meta.dirname, "..", "..");
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string })
  .version;

let work: string; // holds the tarball and the project
let project: string;
let broker: string;
let backend: string;
let pyWorker: CeleryWorker | undefined;
const pyQueue = uniqueQueue("pkgpy");
const tsQueue = uniqueQueue("pkgts");

/** Runs a command in the fresh project; rejects with its output when it fails. */
async function inProject(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(file, args, {
      cwd: project,
      env: { ...process.env, CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: backend, ...env },
      timeout: 120_000,
    });
  } catch (err) {
    const e = err as { message: string; stdout?: string; stderr?: string };
    throw new Error(
      `${file} ${args.join(" ")} failed: ${e.message}\n${tail(e.stdout ?? "")}\n${tail(e.stderr ?? "")}`,
    );
  }
}

/** Runs a command that is expected to fail; resolves with its exit code and output. */
async function failing(file: string, args: string[]) {
  try {
    await run(file, args, { cwd: project, timeout: 60_000 });
    return { code: 0, stderr: "" };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "celeriac-pkg-"));
  project = join(work, "app");
  // --ignore-scripts would skip prepack: the point is that a plain `npm pack` builds.
  const packed = await run("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: REPO_ROOT,
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no package: ${packed.stdout}`);
  const files = info.files.map((f) => f.path);
  for (const needed of [
    "dist/index.js",
    "dist/cjs/index.js",
    "dist/cjs/index.d.ts",
    "LICENSE",
    "CHANGELOG.md",
  ]) {
    if (!files.includes(needed))
      throw new Error(`npm pack left out ${needed}; it packed ${files.length} files`);
  }
  writeFileSync(join(work, "files.json"), JSON.stringify(files));
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "fresh", version: "1.0.0", private: true }),
  );
  // Installed as any user would (dependencies come from the npm cache the repo's `npm ci` filled).
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, info.filename)], {
    cwd: project,
    timeout: 300_000,
  });
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [pyQueue] });
}, 600_000);

afterAll(async () => {
  await pyWorker?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("ships no source maps (the sources are not in the package)", () => {
    const files = JSON.parse(readFileSync(join(work, "files.json"), "utf8")) as string[];
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("src/") || f.startsWith("test/"))).toEqual([]);
  });
});

describe("import and require from a fresh project", () => {
  const OPTIONAL = ["amqplib", "ioredis", "yaml", "@msgpack/msgpack", "compressjs", "@napi-rs/lzma", "tsx"];

  it("import: the exports, and none of the optional packages loaded until used", async () => {
    writeFileSync(
      join(project, "esm.mjs"),
      `import { createRequire } from "node:module";
import * as celeriac from "celeriac";
import * as internal from "celeriac/internal";
const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes("node_modules"));
const atImport = loaded();
const app = new celeriac.Celery({ broker: process.env.CELERY_BROKER_URL, backend: process.env.CELERY_RESULT_BACKEND });
await app.sendTask("pkg.nobody", [], {}, { queue: ${JSON.stringify(uniqueQueue("pkgnone"))} });
await app.close();
const afterRedisApp = loaded();
console.log(JSON.stringify({ keys: Object.keys(celeriac).sort(), internal: Object.keys(internal).length, atImport, afterRedisApp }));
`,
    );
    const out = JSON.parse((await inProject("node", ["esm.mjs"])).stdout) as {
      keys: string[];
      internal: number;
      atImport: string[];
      afterRedisApp: string[];
    };
    expect(out.keys).toContain("Celery");
    expect(out.internal).toBeGreaterThan(10);
    const pkgs = (paths: string[]) =>
      OPTIONAL.filter((p) => paths.some((f) => f.includes(`/node_modules/${p}/`)));
    expect(pkgs(out.atImport)).toEqual([]);
    // A Redis app loads ioredis when it first connects, and still not amqplib, yaml or the codecs.
    expect(pkgs(out.afterRedisApp)).toEqual(["ioredis"]);
  });

  it("require: the same exports from the CommonJS build, on this Node without require(esm)", async () => {
    writeFileSync(
      join(project, "cjs.cjs"),
      `const celeriac = require("celeriac");
const internal = require("celeriac/internal");
const esm = Object.keys(require.cache).filter((p) => p.includes("/celeriac/dist/") && !p.includes("/dist/cjs/"));
console.log(JSON.stringify({ keys: Object.keys(celeriac).sort(), internal: Object.keys(internal).length, esm }));
`,
    );
    const cjs = JSON.parse(
      (await inProject("node", ["--no-experimental-require-module", "cjs.cjs"])).stdout,
    ) as {
      keys: string[];
      internal: number;
      esm: string[];
    };
    const esm = JSON.parse((await inProject("node", ["esm.mjs"])).stdout) as {
      keys: string[];
      internal: number;
    };
    expect(cjs.keys).toEqual(esm.keys);
    expect(cjs.internal).toBe(esm.internal);
    expect(cjs.esm).toEqual([]);
  });
});

describe("types from the installed package", () => {
  const USE = `const app = new Celery({ broker: "redis://127.0.0.1:6379/0" });
export async function call(): Promise<number> {
  const result: AsyncResult<number> = await app.sendTask<number>("proj.add", [2, 3], {}, { countdown: 1 });
  return result.get({ timeout: 1000 });
}
// @ts-expect-error brokr is not an option: the types are real, not any
new Celery({ brokr: "x" });
`;

  it("typechecks ESM (.mts) and CommonJS (.cts) files under module/moduleResolution nodenext", async () => {
    writeFileSync(
      join(project, "use-esm.mts"),
      `import { type AsyncResult, Celery } from "celeriac";\n${USE}`,
    );
    writeFileSync(
      join(project, "use-cjs.cts"),
      `import { type AsyncResult, Celery } from "celeriac";\n${USE}`,
    );
    // ioredis's own declarations import the untyped redis-errors: what a user with skipLibCheck
    // off declares for ioredis whatever Celeriac does (Celeriac's declarations are checked).
    writeFileSync(join(project, "shims.d.ts"), 'declare module "redis-errors";\n');
    writeFileSync(
      join(project, "tsconfig.nodenext.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
          types: ["node"],
        },
        files: ["use-esm.mts", "use-cjs.cts", "shims.d.ts"],
      }),
    );
    await inProject("node", [TSC, "-p", "tsconfig.nodenext.json"]);
  });

  it("typechecks a file compiled to CommonJS (module: commonjs, the NestJS default)", async () => {
    writeFileSync(
      join(project, "use-commonjs.ts"),
      `import { type AsyncResult, Celery } from "celeriac";\n${USE}`,
    );
    writeFileSync(
      join(project, "tsconfig.commonjs.json"),
      JSON.stringify({
        compilerOptions: {
          module: "commonjs",
          target: "es2022",
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          skipLibCheck: true,
          typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
          types: ["node"],
        },
        files: ["use-commonjs.ts"],
      }),
    );
    await inProject("node", [TSC, "-p", "tsconfig.commonjs.json"]);
  });
});

describe("npx celeriac from the installed package", () => {
  it("--version prints the package version", async () => {
    const { stdout } = await inProject("npx", ["--no-install", "celeriac", "--version"]);
    expect(stdout).toBe(`${VERSION}\n`);
  });

  it("-A with a Python dotted name says -A takes a path", async () => {
    const { code, stderr } = await failing("npx", [
      "--no-install",
      "celeriac",
      "-A",
      "proj.celery:app",
      "worker",
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain("-A takes the path of a JavaScript or TypeScript module");
    expect(stderr).toContain("-A ./proj/celery.ts");
  });

  it("-A app.ts without tsx installed says to install tsx", async () => {
    // An enum needs a real TypeScript compiler, so this fails on Node's type stripping too.
    writeFileSync(join(project, "app.ts"), "enum Colour { Red }\nexport const colour = Colour.Red;\n");
    const { code, stderr } = await failing("npx", ["--no-install", "celeriac", "-A", "./app.ts", "worker"]);
    expect(code).toBe(2);
    expect(stderr).toContain("needs tsx");
    expect(stderr).toContain("npm install --save-dev tsx");
  });
});

describe("a producer and a worker from the installed package, with real Python Celery 5.7", () => {
  it("a CommonJS producer (require) calls a task on a Python worker and reads the result", async () => {
    writeFileSync(
      join(project, "producer.cjs"),
      `const { Celery, RemoteTaskError } = require("celeriac");
(async () => {
  const app = new Celery({ broker: process.env.CELERY_BROKER_URL, backend: process.env.CELERY_RESULT_BACKEND });
  const sum = await (await app.sendTask("interop.add", [2, 3], {}, { queue: ${JSON.stringify(pyQueue)} })).get({ timeout: 20000 });
  let error = null;
  try {
    await (await app.sendTask("interop.fail", ["ValueError", "pkg boom"], {}, { queue: ${JSON.stringify(pyQueue)} })).get({ timeout: 20000 });
  } catch (err) {
    error = { remote: err instanceof RemoteTaskError, excType: err.excType, args: err.excMessage };
  }
  await app.close();
  console.log(JSON.stringify({ sum, error }));
})().catch((err) => { console.error(err); process.exit(1); });
`,
    );
    const out = JSON.parse((await inProject("node", ["producer.cjs"])).stdout) as unknown;
    const python = await pythonJson(
      `
      from interop_app import app, emit
      sum = app.send_task("interop.add", (2, 3), queue=${JSON.stringify(pyQueue)}).get(timeout=20)
      r = app.send_task("interop.fail", ("ValueError", "pkg boom"), queue=${JSON.stringify(pyQueue)})
      try:
          r.get(timeout=20)
      except Exception as exc:
          error = {"remote": True, "excType": type(exc).__name__, "args": list(exc.args)}
      emit({"sum": sum, "error": error})
      `,
      { brokerUrl: broker, backendUrl: backend },
    );
    expect(out).toEqual(python);
  });

  it("npx celeriac worker runs a Python producer's task, writes its pidfile and logfile, and a SIGTERM to npx stops it warmly", async () => {
    writeFileSync(
      join(project, "worker-app.mjs"),
      `import { Celery } from "celeriac";
export const app = new Celery({ broker: process.env.CELERY_BROKER_URL, backend: process.env.CELERY_RESULT_BACKEND });
app.task("pkg.double", (_ctx, n) => n * 2);
app.task("pkg.slow", async (_ctx, ms) => { await new Promise((r) => setTimeout(r, ms)); return "finished"; });
`,
    );
    const pidfile = join(project, "worker.pid");
    const logfile = join(project, "worker.log");
    const npx = new ChildHandle(
      "npx",
      [
        "--no-install",
        "celeriac",
        "worker",
        "-A",
        "./worker-app.mjs",
        "-Q",
        tsQueue,
        "--pidfile",
        pidfile,
        "-f",
        logfile,
      ],
      { cwd: project, env: { ...process.env, CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: backend } },
    );
    const log = () => (existsSync(logfile) ? readFileSync(logfile, "utf8") : "");
    let workerPid = 0;
    try {
      await waitUntil("npx celeriac worker ready", async () => / ready\./.test(log()), {
        timeoutMs: 30_000,
        child: npx,
      });
      workerPid = Number(readFileSync(pidfile, "utf8").trim());
      expect(workerPid).not.toBe(npx.pid); // the node process npx started, not npx itself
      const doubled = await pythonJson<number>(
        `
        from interop_app import app, emit
        emit(app.send_task("pkg.double", (21,), queue=${JSON.stringify(tsQueue)}).get(timeout=20))
        `,
        { brokerUrl: broker, backendUrl: backend },
      );
      expect(doubled).toBe(42);

      // A task still running when npx gets SIGTERM: a warm shutdown lets it finish.
      const slowId = await pythonJson<string>(
        `
        from interop_app import app, emit
        emit(app.send_task("pkg.slow", (1500,), queue=${JSON.stringify(tsQueue)}).id)
        `,
        { brokerUrl: broker, backendUrl: backend },
      );
      await waitUntil("pkg.slow started", async () => log().includes(slowId), { timeoutMs: 20_000 });
      npx.signal("SIGTERM");
      await waitUntil("the worker's warm shutdown", async () => /Warm shutdown/.test(log()), {
        timeoutMs: 20_000,
      });
      const slow = await pythonJson<string>(
        `
        from interop_app import app, emit
        emit(app.AsyncResult(${JSON.stringify(slowId)}).get(timeout=20))
        `,
        { brokerUrl: broker, backendUrl: backend },
      );
      expect(slow).toBe("finished");
      await waitUntil("the pidfile removed at exit", async () => !existsSync(pidfile), { timeoutMs: 20_000 });
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n--- worker log ---\n${tail(log())}\n--- npx ---\n${tail(npx.output())}`,
      );
    } finally {
      await npx.terminate("SIGKILL", 1000);
      // The worker is npx's grandchild: if the test failed before it exited, do not leave it behind.
      if (workerPid > 0 && existsSync(pidfile)) {
        try {
          process.kill(workerPid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });
});
