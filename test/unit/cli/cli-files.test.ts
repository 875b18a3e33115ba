/**
 * The CLI's process plumbing: `--version`, `--pidfile` (Celery's Pidfile rules), `--logfile`
 * (createLogger's `file`), the `-A` hints, and the lazily loaded optional packages' error.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { acquirePidfile } from "../../../src/cli/pidfile.js";
import { createLogger } from "../../../src/logging.js";
import { loadDependency, MissingDependencyError } from "../../../src/optional-deps.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "celeriac-cli-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], tsx?: () => Promise<boolean>) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    ...(tsx ? { tsx } : {}),
    env: {},
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

describe("celeriac --version", () => {
  it("prints package.json's version and exits 0", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../../package.json"), "utf8"));
    expect(await cli(["--version"])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("-A hints", () => {
  it("a Python dotted module name: -A takes a path", async () => {
    const { code, stderr } = await cli(["-A", "proj.celery:app", "inspect", "ping"]);
    expect(code).toBe(2);
    expect(stderr).toContain("-A takes the path of a JavaScript or TypeScript module");
    expect(stderr).toContain("(e.g. -A ./proj/celery.ts)");
  });

  it("a missing .js path gets no Python hint", async () => {
    const { code, stderr } = await cli(["-A", "./nowhere/tasks.js", "inspect", "ping"]);
    expect(code).toBe(2);
    expect(stderr).toContain("could not be loaded");
    expect(stderr).not.toContain("dotted");
  });
});

describe("tsx is registered only for a .ts app module (its loader thread costs ~33 MB of RSS)", () => {
  it("a .js app module never asks for tsx; a .ts one asks before it is imported", async () => {
    const dir = tempDir();
    const asked: string[] = [];
    const tsx = async () => {
      asked.push("tsx");
      return false;
    };
    writeFileSync(join(dir, "tasks.mjs"), "export const nothing = 1;\n");
    const js = await cli(["-A", join(dir, "tasks.mjs"), "inspect", "ping"], tsx);
    expect(js.stderr).toContain("exports no Celery app");
    expect(asked).toEqual([]);
    writeFileSync(join(dir, "tasks.ts"), "enum Colour { Red }\nexport const colour = Colour.Red;\n");
    // vitest itself loads .ts, so the module loads here; what matters is that tsx was asked first.
    const ts = await cli(["-A", join(dir, "tasks.ts"), "worker"], tsx);
    expect(ts.stderr).toContain("exports no Celery app");
    expect(asked).toEqual(["tsx"]);
  });
});

describe("--pidfile (celery.platforms.Pidfile)", () => {
  it("writes this pid, and release removes the file", () => {
    const path = join(tempDir(), "w.pid");
    const release = acquirePidfile(path);
    expect(readFileSync(path, "utf8")).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(path)).toBe(false);
  });

  it("refuses a pidfile whose process is running", () => {
    const path = join(tempDir(), "w.pid");
    writeFileSync(path, `${process.ppid}\n`);
    expect(() => acquirePidfile(path)).toThrow(`Pidfile (${path}) already exists`);
    expect(readFileSync(path, "utf8")).toBe(`${process.ppid}\n`);
  });

  it("replaces a stale pidfile (no such process, or garbage)", () => {
    for (const stale of ["99999999\n", "not a pid\n", ""]) {
      const path = join(tempDir(), "w.pid");
      writeFileSync(path, stale);
      const release = acquirePidfile(path);
      expect(readFileSync(path, "utf8")).toBe(`${process.pid}\n`);
      release();
    }
  });

  it("release leaves a file that another process has taken over", () => {
    const path = join(tempDir(), "w.pid");
    const release = acquirePidfile(path);
    writeFileSync(path, "1\n");
    release();
    expect(readFileSync(path, "utf8")).toBe("1\n");
  });

  it("a directory that does not exist: a clear error", () => {
    const path = join(tempDir(), "missing", "w.pid");
    expect(() => acquirePidfile(path)).toThrow(`Cannot create pidfile ${path}`);
  });
});

describe("--logfile (createLogger file)", () => {
  it("appends the lines to the file, two loggers sharing it", async () => {
    const path = join(tempDir(), "w.log");
    writeFileSync(path, "earlier\n");
    createLogger({ file: path, processName: "MainProcess" }).info("first");
    createLogger({ file: path }).warn("second redis://u:secret@h/0");
    // The lines of a turn are written together when it ends (src/logging.ts turnBatched).
    await new Promise((resolve) => setImmediate(resolve));
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines[0]).toBe("earlier");
    expect(lines[1]).toMatch(/^\[\d{4}-\d\d-\d\d [\d:,]+: INFO\/MainProcess\] first$/);
    expect(lines[2]).toMatch(/WARNING\/MainProcess\] second redis:\/\/u:\*\*\*@h\/0$/);
  });
});

describe("optional packages", () => {
  it("a missing one is a MissingDependencyError naming the package and the feature", () => {
    let caught: unknown;
    try {
      loadDependency("celeriac-no-such-package", "The frobnicator");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MissingDependencyError);
    expect((caught as MissingDependencyError).code).toBe("ERR_MISSING_DEPENDENCY");
    expect((caught as MissingDependencyError).packageName).toBe("celeriac-no-such-package");
    expect((caught as Error).message).toBe(
      'The frobnicator needs the npm package "celeriac-no-such-package", which is not installed; run `npm install celeriac-no-such-package`',
    );
  });

  it("an installed one loads once and is cached", () => {
    const first = loadDependency<object>("yaml", "yaml");
    expect(loadDependency<object>("yaml", "yaml")).toBe(first);
    expect(typeof (first as { parse?: unknown }).parse).toBe("function");
  });
});
