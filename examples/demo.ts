/**
 * `npm run demo`: both directions of the bridge on one local Redis.
 *
 * 1. TS -> Python: Celeriac sends `demo.add` and `demo.fail` to a stock Python
 *    Celery worker and reads the result and the rebuilt Python exception.
 * 2. Python -> TS: a Celeriac worker serves `ts.greet`; a Python producer calls
 *    it with `app.send_task(...)` and reads the result with `AsyncResult.get()`.
 *
 * Uses CELERIAC_BROKER_URL (a redis:// URL) when set; otherwise starts a
 * throwaway redis-server. `scripts/setup.mjs` (run by `npm run demo`) has
 * already installed redis-server and the pinned Celery venv.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Celery, RemoteTaskError } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const python = join(here, "..", "python-interop", ".venv-5.7", "bin", "python");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Spawns a child and resolves once `ready` matches its output (or rejects if it exits first). */
function spawnUntil(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: here, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`${cmd} exited with ${code} before it was ready:\n${output}`)),
    );
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "celeriac-demo-"));
  let app: Celery | undefined;
  try {
    let broker = process.env.CELERIAC_BROKER_URL;
    if (!broker) {
      const port = await freePort();
      const redisArgs = ["--port", String(port), "--bind", "127.0.0.1", "--dir", scratch, "--save", ""];
      children.push(
        await spawnUntil(
          "redis-server",
          [...redisArgs, "--appendonly", "no"],
          process.env,
          /Ready to accept connections/,
        ),
      );
      broker = `redis://127.0.0.1:${port}/0`;
      console.log(`started redis-server on port ${port}`);
    }
    const backend = broker;
    const env = { ...process.env, DEMO_BROKER_URL: broker, DEMO_BACKEND_URL: backend, PYTHONPATH: here };

    const celeryArgs = ["-m", "celery", "-A", "demo_tasks", "worker", "-P", "solo", "-n", "demo-py@%h"];
    children.push(
      await spawnUntil(
        python,
        [...celeryArgs, "--without-mingle", "--without-gossip", "-l", "INFO"],
        env,
        /ready\./,
      ),
    );
    console.log("started a Python Celery 5.7 worker (celery -A demo_tasks worker)");

    app = new Celery({ broker, backend });

    // 1. TS -> Python
    const sum = await app.sendTask<number>("demo.add", [2, 3]);
    console.log(`TS -> Python: demo.add(2, 3) = ${await sum.get({ timeout: 20_000 })}  [task ${sum.id}]`);
    const failing = await app.sendTask("demo.fail", ["bad input"]);
    try {
      await failing.get({ timeout: 20_000 });
      throw new Error("demo.fail did not fail");
    } catch (err) {
      if (!(err instanceof RemoteTaskError)) throw err;
      console.log(
        `TS -> Python: demo.fail raised ${err.excModule}.${err.excType}${JSON.stringify(err.excMessage)}`,
      );
    }

    // 2. Python -> TS
    app.task(
      "ts.greet",
      (ctx, name: string) => `Hello ${name}${String(ctx.kwargs.punctuation ?? "")} from ${ctx.hostname}`,
    );
    const worker = app.worker({ queues: ["ts-demo"], concurrency: 4, hostname: "demo-ts@localhost" });
    await worker.start();
    const producer = spawn(python, [join(here, "demo_tasks.py")], {
      cwd: here,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    producer.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => producer.once("exit", resolve));
    if (code !== 0) throw new Error(`the Python producer exited with ${code}`);
    const answer = JSON.parse(out) as { task_id: string; result: string };
    console.log(
      `Python -> TS: ts.greet('Python', punctuation='!') = ${JSON.stringify(answer.result)}  [task ${answer.task_id}]`,
    );
    await worker.close({ timeoutMs: 5_000 });
    console.log("demo finished: both directions work");
  } finally {
    await app?.close();
    for (const child of children.reverse()) await stop(child);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
