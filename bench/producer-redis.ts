/**
 * Producer benchmark (issue 3, item 7), all in ONE run against one throwaway redis-server:
 *
 *   throughput  (a) Celeriac `sendTask` x N, all issued at once (pipelined by the producer)
 *               (b) Python Celery 5.7 `send_task` loop x N (timed inside Python)
 *               (c) raw pipelined `LPUSH` of the same envelope x N through ioredis
 *   latency     sendTask -> Python worker (solo) -> get, sequential, p50/p99,
 *               vs Python's `send_task(...).get()` against the same worker
 *
 *   npx tsx bench/producer-redis.ts [--tasks 20000] [--roundtrips 300]
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Celery } from "../src/app.js";
import { encodeEnvelope } from "../src/transports/redis/envelope.js";
import { APP_DIR, freePort, option as opt, VENV } from "./common.js";

const TASKS = Number(opt("tasks", "20000"));
const ROUNDTRIPS = Number(opt("roundtrips", "300"));

function pyEnv(broker: string, backend: string): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: APP_DIR, CELERIAC_BROKER_URL: broker, CELERIAC_BACKEND_URL: backend };
}

function runPython(code: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(VENV, "python"), ["-c", code], { env, cwd: APP_DIR });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(out.trim().split("\n").pop() ?? "") : reject(new Error(err)),
    );
  });
}

async function startWorker(env: NodeJS.ProcessEnv, queue: string): Promise<ChildProcess> {
  const name = `bench-${process.pid}@localhost`;
  const child = spawn(
    join(VENV, "celery"),
    [
      "-A",
      "interop_app",
      "worker",
      "-l",
      "INFO",
      "-n",
      name,
      "-P",
      "solo",
      "-Q",
      queue,
      "--without-mingle",
      "--without-gossip",
    ],
    { env, cwd: APP_DIR, stdio: ["ignore", "ignore", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stderr?.on("data", (d) => {
      seen += d;
      if (seen.includes(`${name} ready.`)) resolve();
    });
    child.on("exit", () => reject(new Error(`worker exited:\n${seen}`)));
  });
  return child;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-prod-"));
  const server = spawn(
    "/usr/bin/redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    {
      stdio: "ignore",
    },
  );
  const redis = new Redis(port, "127.0.0.1", {
    maxRetriesPerRequest: 50,
    retryStrategy: (n) => (n > 50 ? null : 20),
  });
  redis.on("error", () => {}); // the server may still be starting; ping() below retries
  await redis.ping();
  const broker = `redis://127.0.0.1:${port}/0`;
  const backend = `redis://127.0.0.1:${port}/1`;
  const results: Record<string, number> = {};

  try {
    // (a) Celeriac sendTask, N at once.
    const app = new Celery({ broker, backend, taskDefaultQueue: "bench-ts" });
    // Warm-up (connection, binding, JIT) outside the timing, as for the other two contenders.
    for (let round = 0; round < 2; round++) {
      await Promise.all(Array.from({ length: 5000 }, (_, i) => app.sendTask("interop.add", [i, i])));
    }
    await redis.del("bench-ts");
    let t0 = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < TASKS; i++) sends.push(app.sendTask("interop.add", [i, i]));
    await Promise.all(sends);
    results.celeriacPerSec = TASKS / ((performance.now() - t0) / 1000);
    if ((await redis.llen("bench-ts")) !== TASKS) throw new Error("celeriac: wrong queue length");

    // (c) raw pipelined LPUSH of the same envelope (built once, outside the timing).
    const envelope = encodeEnvelope(app.prepareTask("interop.add", [1, 1], {}).message);
    const warm = redis.pipeline();
    for (let i = 0; i < 5000; i++) warm.lpush("bench-raw", envelope);
    await warm.exec();
    await redis.del("bench-raw");
    t0 = performance.now();
    const pipe = redis.pipeline();
    for (let i = 0; i < TASKS; i++) pipe.lpush("bench-raw", envelope);
    await pipe.exec();
    results.rawLpushPerSec = TASKS / ((performance.now() - t0) / 1000);

    // (b) Python Celery send_task loop.
    const env = pyEnv(broker, backend);
    const pyRate = await runPython(
      `
import time
from interop_app import app
for i in range(500):
    app.send_task("interop.add", (i, i), queue="bench-py")
n = ${TASKS}
t0 = time.perf_counter()
for i in range(n):
    app.send_task("interop.add", (i, i), queue="bench-py")
print(n / (time.perf_counter() - t0))
`,
      env,
    );
    results.pythonPerSec = Number(pyRate);
    await redis.flushall();

    // Latency: sequential round trips through one Python solo worker.
    const worker = await startWorker(env, "bench-lat");
    try {
      const lat = new Celery({ broker, backend, taskDefaultQueue: "bench-lat" });
      for (let i = 0; i < 20; i++) await (await lat.sendTask("interop.add", [i, i])).get({ timeout: 10_000 });
      const samples: number[] = [];
      for (let i = 0; i < ROUNDTRIPS; i++) {
        const s = performance.now();
        await (await lat.sendTask("interop.add", [i, i])).get({ timeout: 10_000 });
        samples.push(performance.now() - s);
      }
      await lat.close();
      samples.sort((a, b) => a - b);
      results.celeriacP50Ms = percentile(samples, 50);
      results.celeriacP99Ms = percentile(samples, 99);
      const py = JSON.parse(
        await runPython(
          `
import json, time
from interop_app import app
for i in range(20):
    app.send_task("interop.add", (i, i), queue="bench-lat").get(timeout=10)
samples = []
for i in range(${ROUNDTRIPS}):
    s = time.perf_counter()
    app.send_task("interop.add", (i, i), queue="bench-lat").get(timeout=10)
    samples.append((time.perf_counter() - s) * 1000)
samples.sort()
print(json.dumps([samples[len(samples) // 2], samples[min(len(samples) - 1, int(0.99 * len(samples)))]]))
`,
          env,
        ),
      ) as [number, number];
      results.pythonP50Ms = py[0];
      results.pythonP99Ms = py[1];
    } finally {
      worker.kill("SIGTERM");
      await new Promise((r) => worker.once("exit", r));
    }
    await app.close();
  } finally {
    redis.disconnect();
    server.kill("SIGTERM");
  }

  const f = (n: number | undefined, d = 0) => (n === undefined ? "n/a" : n.toFixed(d));
  const r = results;
  console.log(`producer-redis: ${TASKS} tasks, ${ROUNDTRIPS} round trips, node ${process.version}`);
  console.log(`  Celeriac sendTask      ${f(r.celeriacPerSec)} tasks/s`);
  console.log(
    `  Python send_task loop  ${f(r.pythonPerSec)} tasks/s   -> Celeriac = ${f((r.celeriacPerSec ?? 0) / (r.pythonPerSec ?? 1), 1)}x Python (target >= 20x)`,
  );
  console.log(
    `  raw pipelined LPUSH    ${f(r.rawLpushPerSec)} msgs/s    -> Celeriac = ${f((100 * (r.celeriacPerSec ?? 0)) / (r.rawLpushPerSec ?? 1))}% of raw (target >= 50%)`,
  );
  console.log(`  round trip Celeriac    p50 ${f(r.celeriacP50Ms, 2)} ms  p99 ${f(r.celeriacP99Ms, 2)} ms`);
  console.log(`  round trip Python      p50 ${f(r.pythonP50Ms, 2)} ms  p99 ${f(r.pythonP99Ms, 2)} ms`);
  console.log(JSON.stringify({ bench: "producer-redis", tasks: TASKS, roundtrips: ROUNDTRIPS, ...results }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
