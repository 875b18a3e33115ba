/**
 * What the benchmarks share: repo paths, `--name value` options, running a Python snippet in the
 * pinned Celery 5.7 venv, and the processes a figure starts (a Celeriac worker from the built
 * package, a Python Celery worker, celery-node, a bench/proc script), with their peak RSS.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const VENV = join(ROOT, "python-interop", ".venv-5.7", "bin");
export const APP_DIR = join(ROOT, "python-interop", "app");
const PROC_DIR = join(ROOT, "bench", "proc");

/** `--name value` from the command line, else `fallback`. */
export function option(name: string, fallback: string): string {
  const argv = process.argv.slice(2);
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (argv[at + 1] ?? fallback);
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Settings for python-interop/app/interop_app.py as the benchmarks use it: Celery's default
 * prefetch multiplier (4), no extended results (the Celeriac default too).
 */
export function benchPythonEnv(broker: string, backend: string, defaultQueue = "bench"): NodeJS.ProcessEnv {
  return {
    PYTHONPATH: APP_DIR,
    CELERIAC_BROKER_URL: broker,
    CELERIAC_BACKEND_URL: backend,
    CELERIAC_DEFAULT_QUEUE: defaultQueue,
    CELERIAC_CELERY_CONFIG: JSON.stringify({ worker_prefetch_multiplier: 4, result_extended: false }),
  };
}

/** Runs `code` with the venv's python (env merged over this process's); returns its last stdout line. */
export async function runPython(code: string, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(join(VENV, "python"), ["-c", code], { env: { ...process.env, ...env }, cwd: APP_DIR });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (status !== 0) throw new Error(`python failed: ${err}`);
  return out.trim().split("\n").pop() ?? "";
}

/** A process a figure started, with the tail of its stderr for the error message when it fails. */
export interface Proc {
  child: ChildProcess;
  name: string;
  stderr(): string;
  /** SIGKILL (a benchmark worker has nothing to finish) and wait for the exit. */
  kill(): Promise<void>;
}

export function startProc(
  name: string,
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): Proc {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    name,
    stderr: () => tail,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Waits until a worker printed its "<hostname> ready." line, or `pattern` (60 s at most). */
export async function waitReady(proc: Proc, pattern = / ready\./): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!pattern.test(proc.stderr())) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      throw new Error(`${proc.name} exited before it was ready:\n${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready after 60 s:\n${proc.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs a bench/proc script with plain `node` (no tsx: the package as a user runs it) and returns
 * the JSON it prints as its last stdout line.
 */
export async function runProcJson<T>(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<T> {
  const child = spawn(process.execPath, [join(PROC_DIR, script), ...args], {
    env: { ...process.env, ...env },
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (status !== 0)
    throw new Error(`bench/proc/${script} ${args.join(" ")} failed (${status}):\n${err}${out}`);
  return JSON.parse(out.trim().split("\n").pop() ?? "null") as T;
}

/** `pid` and its children (prefork's pool processes). */
function treePids(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** RSS in KiB of `pid` alone and of `pid` plus its children. */
export function rssKb(pid: number): { main: number; tree: number } {
  let main = 0;
  let tree = 0;
  for (const p of treePids(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      const kb = Number(m?.[1] ?? 0);
      tree += kb;
      if (p === pid) main = kb;
    } catch {}
  }
  return { main, tree };
}

/**
 * CPU time (user + system, ms) used so far by `pid` and its live children: on a shared box the
 * CPU a worker spends per task moves far less than its wall-clock rate.
 */
export function cpuMs(pid: number): number {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  let ticks = 0;
  for (const p of treePids(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime, stime (fields 14, 15)
    } catch {}
  }
  return ticks * tick;
}

/** Samples the peak RSS of a process (and its children) every 100 ms until stopped. */
export function sampleRss(pid: number): () => { mainMb: number; treeMb: number } {
  let main = 0;
  let tree = 0;
  const take = () => {
    const now = rssKb(pid);
    main = Math.max(main, now.main);
    tree = Math.max(tree, now.tree);
  };
  const timer = setInterval(take, 100);
  return () => {
    take();
    clearInterval(timer);
    return { mainMb: main / 1024, treeMb: tree / 1024 };
  };
}

/** The Celeriac worker of the built package (bench/proc/worker.mjs), as a user's script runs it. */
export function startCeleriacWorker(opts: {
  broker: string;
  backend: string;
  queues: readonly string[];
  /** Unset: the package's defaults (concurrency 16, prefetch multiplier 4). */
  concurrency?: number;
  prefetchMultiplier?: number;
}): Proc {
  const env: NodeJS.ProcessEnv = {
    BENCH_BROKER: opts.broker,
    BENCH_BACKEND: opts.backend,
    BENCH_QUEUES: opts.queues.join(","),
    CELERIAC_LOG_LEVEL: "warn",
  };
  if (opts.concurrency !== undefined) env.BENCH_CONCURRENCY = String(opts.concurrency);
  if (opts.prefetchMultiplier !== undefined) env.BENCH_PREFETCH = String(opts.prefetchMultiplier);
  return startProc("celeriac worker", process.execPath, [join(PROC_DIR, "worker.mjs")], env);
}

/** `celery worker -P <pool> -c <n>` of Celery 5.7, prefetch ×4, no mingle/gossip/heartbeat. */
export function startCeleryWorker(opts: {
  broker: string;
  backend: string;
  queues: readonly string[];
  pool?: "prefork" | "threads" | "solo";
  concurrency?: number;
}): Proc {
  const pool = opts.pool ?? "prefork";
  return startProc(
    `celery ${pool}`,
    join(VENV, "celery"),
    [
      "-A",
      "interop_app",
      "worker",
      "-P",
      pool,
      "-c",
      String(opts.concurrency ?? 2),
      "-Q",
      opts.queues.join(","),
      "-n",
      `bench-${pool}-${process.pid}-${Date.now()}@localhost`,
      "-l",
      "WARNING",
      "--without-mingle",
      "--without-gossip",
      "--without-heartbeat",
    ],
    benchPythonEnv(opts.broker, opts.backend),
    APP_DIR,
  );
}

const CELERY_NODE_DIR = process.env.CELERY_NODE_DIR ?? join(tmpdir(), "celeriac-bench-celery-node");

/** celery-node is a reference only: installed on first use outside the repo, never a dependency. */
function ensureCeleryNode(): string {
  const entry = join(CELERY_NODE_DIR, "node_modules", "celery-node", "dist", "index.js");
  if (!existsSync(entry)) {
    mkdirSync(CELERY_NODE_DIR, { recursive: true });
    const npm = spawnSync("npm", ["install", "--no-save", "--no-package-lock", "celery-node@0.5.9"], {
      cwd: CELERY_NODE_DIR,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (npm.status !== 0 || !existsSync(entry))
      throw new Error(`could not install celery-node 0.5.9 into ${CELERY_NODE_DIR} (set CELERY_NODE_DIR?)`);
  }
  return entry;
}

/** A celery-node 0.5.9 worker running `interop.add` on one Redis queue. */
export function startCeleryNodeWorker(opts: { broker: string; backend: string; queue: string }): Proc {
  const entry = ensureCeleryNode();
  const script = `const celery = require(${JSON.stringify(entry)}); const w = celery.createWorker(${JSON.stringify(opts.broker)}, ${JSON.stringify(opts.backend)}, ${JSON.stringify(opts.queue)}); w.register("interop.add", (a, b) => a + b); w.start();`;
  return startProc("celery-node", process.execPath, ["-e", script]);
}

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
