/**
 * Every ts code block of the README's examples and of docs/guides/*.md, run as written against a
 * real Redis, a real Celery 5.7 worker (default queue `celery`, tasks `proj.tasks.*`) and real
 * Python producers. Only the Redis URLs are pointed at this run's server and `celeriac` at the
 * sources. What a block claims is checked, in the block's own words:
 *
 * - `console.log(x); // -> JSON`: the printed value equals JSON (blocks run to completion, exit 0);
 * - a block that starts a worker (`.start()`) keeps running until its document ends, so later
 *   blocks can use it;
 * - `// Python: EXPR -> JSON` lines are evaluated by a Python producer (once the block's worker
 *   is ready, or after the block ran), in order; `// Python task_routes: JSON` sets Python's
 *   `task_routes` for the lines after it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { ChildHandle, tail, waitUntil } from "../support/process.js";
import { allocateRedisDb } from "../support/services.js";

const REPO_ROOT = join(import.meta.dirname, "..", "..");
/** Longest a block that does not start a worker may run (its own get() timeouts are 10-20 s). */
const BLOCK_EXIT_LIMIT_MS = 60_000;
const GUIDES = join(REPO_ROOT, "docs", "guides");
let broker: string;
let backend: string;
let dir: string;
let pyWorker: CeleryWorker | undefined;
let fileCount = 0;

/** The ts blocks of a document (for the README, those between its readme-examples markers). */
function tsBlocks(path: string): string[] {
  let text = readFileSync(path, "utf8");
  if (path.endsWith("README.md")) {
    const start = text.indexOf("<!-- readme-examples");
    const end = text.indexOf("<!-- /readme-examples -->");
    if (start < 0 || end < start) throw new Error("README.md lost its readme-examples markers");
    text = text.slice(start, end);
  }
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

// console.log prints JSON in the runs, so `// -> JSON` compares values, not formatting.
const JSON_LOG =
  'console.log = (...values) => process.stdout.write(values.map((v) => JSON.stringify(v)).join(" ") + "\\n");\n';

function runnable(source: string): string {
  const file = join(dir, `block${++fileCount}.mts`);
  const body = source
    .replaceAll('from "celeriac"', `from ${JSON.stringify(join(REPO_ROOT, "src", "index.ts"))}`)
    .replaceAll("redis://localhost:6379/0", broker)
    .replaceAll("redis://localhost:6379/1", backend);
  // Imports stay first; the console.log override goes right after them.
  const lines = body.split("\n");
  let lastImport = -1;
  lines.forEach((line, i) => {
    if (/^import\b/.test(line)) lastImport = i;
  });
  lines.splice(lastImport + 1, 0, JSON_LOG);
  writeFileSync(file, lines.join("\n"));
  return file;
}

interface PythonCheck {
  expr: string;
  expected: unknown;
  hasExpectation: boolean;
  /** Python's task_routes in force for this line (the last `// Python task_routes:` above it). */
  routes: unknown;
}

function pythonChecks(source: string): PythonCheck[] {
  let routes: unknown;
  const checks: PythonCheck[] = [];
  for (const line of source.split("\n")) {
    const r = /\/\/ Python task_routes: (.*)$/.exec(line);
    if (r) routes = JSON.parse(r[1] as string);
    const m = /\/\/ Python: (.*?)(?: -> (.*))?$/.exec(line);
    if (m) {
      checks.push({
        expr: m[1] as string,
        expected: m[2] === undefined ? undefined : JSON.parse(m[2]),
        hasExpectation: m[2] !== undefined,
        routes,
      });
    }
  }
  return checks;
}

async function runPythonChecks(source: string, where: string): Promise<void> {
  for (const check of pythonChecks(source)) {
    const value = await pythonJson(
      `
      from interop_app import app, emit
      emit(${check.expr})
      `,
      {
        brokerUrl: broker,
        backendUrl: backend,
        ...(check.routes ? { config: { task_routes: check.routes } } : {}),
      },
    );
    if (check.hasExpectation) expect(value, `${where}: ${check.expr}`).toEqual(check.expected);
  }
}

function expectedLogs(source: string): unknown[] {
  return source
    .split("\n")
    .filter((line) => !line.includes("// Python") && /\/\/ -> /.test(line))
    .map((line) => JSON.parse(line.slice(line.indexOf("// -> ") + 6)));
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  dir = mkdtempSync(join(tmpdir(), "celeriac-docs-"));
  pyWorker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: ["celery"] });
});

afterAll(async () => {
  await pyWorker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const documents = [
  join(REPO_ROOT, "README.md"),
  ...readdirSync(GUIDES)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => join(GUIDES, f)),
];

describe.each(documents.map((d) => [d.slice(REPO_ROOT.length + 1), d]))("%s", (_name, path) => {
  it("every ts block runs and prints what it says", async () => {
    const blocks = tsBlocks(path);
    expect(blocks.length).toBeGreaterThan(0);
    const workers: ChildHandle[] = [];
    try {
      for (const [i, source] of blocks.entries()) {
        const where = `${path} block ${i + 1}`;
        let stdout = "";
        const child = new ChildHandle(process.execPath, ["--import", "tsx", runnable(source)], {
          cwd: REPO_ROOT,
          onOutput: (text, stream) => {
            if (stream === "stdout") stdout += text;
          },
        });
        if (/\.start\(\)/.test(source)) {
          workers.push(child);
          await waitUntil(`${where}: worker ready`, async () => / ready\./.test(child.output()), {
            timeoutMs: 30_000,
            child,
          });
          await runPythonChecks(source, where);
          continue;
        }
        // A block that printed everything but does not exit holds something open (a connection
        // reopened after close() once did): fail with its output instead of at the test's limit.
        const killer = setTimeout(() => child.signal("SIGKILL"), BLOCK_EXIT_LIMIT_MS);
        const exit = await child.exited.finally(() => clearTimeout(killer));
        const how = exit.signal === "SIGKILL" ? `did not exit within ${BLOCK_EXIT_LIMIT_MS} ms` : "failed";
        expect(exit.code, `${where} ${how}:\n${tail(child.output())}`).toBe(0);
        const printed = stdout
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as unknown);
        expect(printed, where).toEqual(expectedLogs(source));
        await runPythonChecks(source, where);
      }
    } finally {
      for (const w of workers) await w.terminate("SIGTERM", 20_000);
    }
  }, 180_000);
});
