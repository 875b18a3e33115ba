/**
 * The README's three examples, run as written (only the Redis URLs point at this run's server
 * and `celeriac` at the sources), against a real Celery 5.7 worker and producer:
 * 1. a Node producer calls the Python task `proj.tasks.add`;
 * 2. a TS worker on its own queue runs `ts.resize` for a Python producer;
 * 3. a TS worker takes over `proj.tasks.resize`, which Python sends by name through its own
 *    `task_routes`, as the README's comment says to configure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { ChildHandle, tail, waitUntil } from "../support/process.js";
import { allocateRedisDb } from "../support/services.js";

const REPO_ROOT = join(import.meta.dirname, "..", "..");
let broker: string;
let backend: string;
let dir: string;
let pyWorker: CeleryWorker | undefined;

/** The ts blocks between the README's readme-examples markers. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("<!-- readme-examples");
  const end = readme.indexOf("<!-- /readme-examples -->");
  if (start < 0 || end < start) throw new Error("README.md lost its readme-examples markers");
  return [...readme.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** Writes example `i` as a runnable module: this run's Redis, `celeriac` from the sources. */
function exampleFile(i: number): string {
  const source = readmeExamples()[i];
  if (source === undefined) throw new Error(`README.md has no example ${i + 1}`);
  const file = join(dir, `example${i + 1}.mts`);
  writeFileSync(
    file,
    source
      .replaceAll('from "celeriac"', `from ${JSON.stringify(join(REPO_ROOT, "src", "index.ts"))}`)
      .replaceAll("redis://localhost:6379/0", broker)
      .replaceAll("redis://localhost:6379/1", backend),
  );
  return file;
}

function run(file: string): ChildHandle {
  return new ChildHandle(process.execPath, ["--import", "tsx", file], { cwd: REPO_ROOT });
}

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  dir = mkdtempSync(join(tmpdir(), "celeriac-readme-"));
  pyWorker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: ["celery"] });
});

afterAll(async () => {
  await pyWorker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("README examples", () => {
  it("has three", () => {
    expect(readmeExamples()).toHaveLength(3);
  });

  it("1: a Node producer calls the Python task and prints its result", async () => {
    const child = run(exampleFile(0));
    const exit = await child.exited;
    expect(exit.code, tail(child.output())).toBe(0);
    expect(child.output().trim()).toBe("5");
  });

  async function startedWorker(i: number): Promise<ChildHandle> {
    const child = run(exampleFile(i));
    await waitUntil("the example's worker", async () => / ready\./.test(child.output()), {
      timeoutMs: 30_000,
      child,
    });
    return child;
  }

  it("2: a TS worker on its own queue runs a task a Python producer sends", async () => {
    const worker = await startedWorker(1);
    try {
      const out = await pythonJson<{ result: unknown; id: string }>(
        `
        from interop_app import app, emit
        r = app.send_task("ts.resize", ("a.png", 200), queue="ts")
        emit({"result": r.get(timeout=20), "id": r.id})
        `,
        { brokerUrl: broker, backendUrl: backend },
      );
      expect(out.result).toEqual({ path: "a.png", width: 200, id: out.id });
    } finally {
      const exit = await worker.terminate("SIGTERM", 20_000);
      expect(exit.signal ?? exit.code, tail(worker.output())).not.toBe("SIGKILL");
    }
  });

  it("3: Python sends proj.tasks.resize by name, routed by its task_routes, and the TS worker runs it", async () => {
    const worker = await startedWorker(2);
    try {
      const out = await pythonJson(
        `
        from interop_app import app, emit
        emit(app.send_task("proj.tasks.resize", ("b.png", 300)).get(timeout=20))
        `,
        {
          brokerUrl: broker,
          backendUrl: backend,
          config: { task_routes: { "proj.tasks.resize": { queue: "resize-ts" } } },
        },
      );
      expect(out).toEqual({ path: "b.png", width: 300, by: "ts" });
    } finally {
      await worker.terminate("SIGTERM", 20_000);
    }
  });
});
