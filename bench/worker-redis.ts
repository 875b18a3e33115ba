/**
 * Worker throughput benchmark (issue 4, item 7): N trivial tasks
 * (`interop.add`) with results stored, produced by Python Celery 5.7 into a
 * backlog, then drained by one worker at a time:
 *
 *   (a) the Celeriac TS worker (async pool; kombu ack emulation on)
 *   (b) Python Celery prefork -c 2
 *   (c) Python Celery threads pool (-c 8)
 *   (d) celery-node 0.5.9 (reference; installed on first use with `npm install --no-save
 *       celery-node@0.5.9` into $TMPDIR/celeriac-bench-celery-node, or CELERY_NODE_DIR)
 *
 * Rate = tasks / (last date_done − first date_done), read from the stored
 * metas; RSS = peak VmRSS of the worker's process tree, sampled every 100 ms.
 *
 *   npx tsx bench/worker-redis.ts [--tasks 10000] [--only celeriac,prefork,threads,celery-node]
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { APP_DIR, benchPythonEnv, freePort, option as opt, ROOT, runPython, VENV } from "./common.js";

const TASKS = Number(opt("tasks", "10000"));
const ONLY = opt("only", "celeriac,prefork,threads,celery-node").split(",");
const CELERY_NODE_DIR = process.env.CELERY_NODE_DIR ?? join(tmpdir(), "celeriac-bench-celery-node");

/** celery-node is a reference only: installed outside the repo, never a dependency. */
function ensureCeleryNode(): string {
  const entry = join(CELERY_NODE_DIR, "node_modules", "celery-node", "dist", "index.js");
  if (!existsSync(entry)) {
    mkdirSync(CELERY_NODE_DIR, { recursive: true });
    const npm = spawnSync("npm", ["install", "--no-save", "--no-package-lock", "celery-node@0.5.9"], {
      cwd: CELERY_NODE_DIR,
      stdio: "inherit",
    });
    if (npm.status !== 0 || !existsSync(entry))
      throw new Error(`could not install celery-node into ${CELERY_NODE_DIR}`);
  }
  return entry;
}

function rssKb(pid: number): number {
  // The process and its descendants (prefork children).
  let total = 0;
  const pids = [pid];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {}
  }
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      total += Number(m?.[1] ?? 0);
    } catch {}
  }
  return total;
}

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd = ROOT): ChildProcess {
  return spawn(cmd, argv, { env: { ...process.env, ...env }, cwd, stdio: ["ignore", "ignore", "pipe"] });
}

interface Result {
  name: string;
  rate: number;
  seconds: number;
  peakRssMb: number;
  done: number;
}

async function measure(
  name: string,
  start: () => ChildProcess,
  broker: string,
  backend: string,
): Promise<Result> {
  const b = new Redis(broker);
  const r = new Redis(backend);
  await b.flushdb();
  await r.flushdb();
  await runPython(
    `
from interop_app import app
with app.producer_or_acquire() as producer:
    for i in range(${TASKS}):
        app.send_task("interop.add", (i, 1), queue="bench", producer=producer)
print("ok")
`,
    benchPythonEnv(broker, backend),
  );
  const child = start();
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  let peak = 0;
  const sampler = setInterval(() => {
    if (child.pid) peak = Math.max(peak, rssKb(child.pid));
  }, 100);
  const deadline = Date.now() + 600_000;
  let done = 0;
  while (Date.now() < deadline) {
    done = await r.dbsize();
    if (done >= TASKS) break;
    if (child.exitCode !== null) throw new Error(`${name} exited early:\n${stderr.slice(-3000)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  clearInterval(sampler);
  child.kill("SIGKILL");
  const stamps = await runPython(
    `
import json, redis
from datetime import datetime
r = redis.Redis.from_url(${JSON.stringify(backend)})
ds = []
for k in r.scan_iter("celery-task-meta-*", count=1000):
    m = json.loads(r.get(k))
    if m["status"] == "SUCCESS":
        ds.append(datetime.fromisoformat(m["date_done"]).timestamp())
print(json.dumps([len(ds), min(ds), max(ds)]))
`,
    {},
  );
  const [count, first, last] = JSON.parse(stamps) as [number, number, number];
  b.disconnect();
  r.disconnect();
  const seconds = last - first;
  return { name, rate: count / seconds, seconds, peakRssMb: peak / 1024, done: count };
}

async function main(): Promise<void> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-redis-"));
  const redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  await new Promise((res) => setTimeout(res, 300));
  const broker = `redis://127.0.0.1:${port}/0`;
  const backend = `redis://127.0.0.1:${port}/1`;
  const results: Result[] = [];
  try {
    const celery = (pool: string, c: number) => () =>
      run(
        join(VENV, "celery"),
        [
          "-A",
          "interop_app",
          "worker",
          "-P",
          pool,
          "-c",
          String(c),
          "-Q",
          "bench",
          "-l",
          "WARNING",
          "--without-mingle",
          "--without-gossip",
          "--without-heartbeat",
        ],
        benchPythonEnv(broker, backend),
        APP_DIR,
      );
    if (ONLY.includes("celeriac")) {
      results.push(
        await measure(
          "Celeriac TS worker (concurrency 64, prefetch ×4)",
          () =>
            run(process.execPath, ["--import", "tsx", join(ROOT, "test/support/ts-worker/worker-main.ts")], {
              TSW_BROKER: broker,
              TSW_BACKEND: backend,
              TSW_QUEUES: "bench",
              TSW_CONCURRENCY: process.env.BENCH_TS_CONCURRENCY ?? "64",
              TSW_PREFETCH: "4",
              TSW_LOG_LEVEL: "warn",
            }),
          broker,
          backend,
        ),
      );
    }
    if (ONLY.includes("prefork"))
      results.push(await measure("Python Celery 5.7 prefork -c 2", celery("prefork", 2), broker, backend));
    if (ONLY.includes("threads"))
      results.push(await measure("Python Celery 5.7 threads -c 8", celery("threads", 8), broker, backend));
    if (ONLY.includes("celery-node")) {
      const entry = ensureCeleryNode();
      const script = `const celery = require(${JSON.stringify(entry)}); const w = celery.createWorker(${JSON.stringify(broker)}, ${JSON.stringify(backend)}, "bench"); w.register("interop.add", (a, b) => a + b); w.start();`;
      results.push(
        await measure(
          "celery-node 0.5.9 worker",
          () => run(process.execPath, ["-e", script], {}),
          broker,
          backend,
        ),
      );
    }
  } finally {
    redis.kill("SIGTERM");
  }
  const base = results.find((r) => r.name.includes("prefork"));
  console.log(`\n${TASKS} tasks (interop.add, results stored), Redis ${port}, node ${process.version}\n`);
  console.log("| worker | tasks/s | seconds (first→last result) | peak RSS MB | × prefork |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of results) {
    const ratio = base ? (r.rate / base.rate).toFixed(1) : "–";
    console.log(
      `| ${r.name} | ${r.rate.toFixed(0)} | ${r.seconds.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${ratio} |`,
    );
  }
}

await main();
