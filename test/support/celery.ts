/**
 * Real Python Celery peers for interop tests: workers (`celery worker` from the pinned venv) and
 * producer/consumer snippets, all using python-interop/app/interop_app.py configured by env vars.
 *
 * Readiness is the worker's own `<hostname> ready.` log line on stderr (it
 * fires within ms of the worker_ready signal and costs nothing). `--without-mingle
 * --without-gossip` cut ~1 s from each start. Start workers in `beforeAll` and reuse them across
 * a file; isolate tests with unique queue names.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChildExit, ChildHandle, tail } from "./process.js";
import { runForked } from "./python-forkserver.js";
import { celeryVenvPython } from "./services.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Directory holding interop_app.py; it is put on PYTHONPATH for workers and snippets. */
export const INTEROP_APP_DIR = join(REPO_ROOT, "python-interop", "app");
export const INTEROP_APP_MODULE = "interop_app";
const FORKSERVER_SCRIPT = join(INTEROP_APP_DIR, "snippet_forkserver.py");

/** How the interop app is configured (see the docstring of interop_app.py). */
export interface CeleryEnvOptions {
  brokerUrl?: string;
  backendUrl?: string;
  /** task_default_queue (default "celery"). */
  defaultQueue?: string;
  /** task_serializer and result_serializer (default "json"). */
  serializer?: "json" | "msgpack" | "yaml";
  /** CA file for an amqps:// or rediss:// broker (sets broker_use_ssl). */
  brokerCa?: string;
  /** CA file for a rediss:// result backend (sets redis_backend_use_ssl). */
  backendCa?: string;
  /** Redis URL used by interop.record (default: the backend URL). */
  recordUrl?: string;
  /** Any Celery settings, merged into app.conf last (JSON-serializable values only). */
  config?: Record<string, unknown>;
  /** Extra environment variables for the Python process. */
  env?: Record<string, string>;
  /** Celery minor of the venv to use (default "5.7"; "5.2".."5.7" are pinned). */
  celeryVersion?: string;
}

export interface CeleryWorkerOptions extends CeleryEnvOptions {
  brokerUrl: string;
  /** `-Q`: queues to consume (default: the app's default queue). */
  queues?: readonly string[];
  /** `-P` (default "solo"). */
  pool?: "solo" | "prefork" | "threads";
  /** `-c`; defaults to Celery's own default for the pool. */
  concurrency?: number;
  /** Appended to the `celery worker` command line (e.g. ["-E"] for events). */
  extraArgs?: readonly string[];
  /** `-n`; default `interop-<random>@localhost`. */
  hostname?: string;
  /** `-l` (default "INFO"; readiness needs INFO or lower). */
  loglevel?: string;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** `-A`: another app under python-interop/app (e.g. "stubs_proj.celery:app"); default interop_app. */
  app?: string;
}

export interface CeleryWorker {
  /** The worker's node name, as used by remote control (`-d`) and in events. */
  readonly hostname: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Resolves when the main worker process has exited. */
  readonly exited: Promise<ChildExit>;
  /** Everything the worker printed (its log goes to stderr). */
  logs(): string;
  /** Warm shutdown: SIGTERM, then waits for exit (SIGKILL after `graceMs`, default 30 s). */
  stop(graceMs?: number): Promise<ChildExit>;
  /** SIGKILL of the main process (a crash); waits for exit. Prefork children follow within ~2 s. */
  kill(): Promise<ChildExit>;
}

export function celeryEnv(options: CeleryEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    // Settings must come from this call only, not from whatever the shell exported.
    if (key.startsWith("CELERIAC_") && !key.startsWith("CELERIAC_TEST_")) delete env[key];
  }
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) env[key] = value;
  };
  const pythonPath = process.env.PYTHONPATH;
  env.PYTHONPATH = pythonPath ? `${INTEROP_APP_DIR}:${pythonPath}` : INTEROP_APP_DIR;
  env.PYTHONUNBUFFERED = "1";
  env.PYTHONDONTWRITEBYTECODE = "1";
  set("CELERIAC_BROKER_URL", options.brokerUrl);
  set("CELERIAC_BACKEND_URL", options.backendUrl);
  set("CELERIAC_DEFAULT_QUEUE", options.defaultQueue);
  set("CELERIAC_TASK_SERIALIZER", options.serializer);
  set("CELERIAC_BROKER_CA", options.brokerCa);
  set("CELERIAC_BACKEND_CA", options.backendCa);
  set("CELERIAC_RECORD_URL", options.recordUrl);
  if (options.config) env.CELERIAC_CELERY_CONFIG = JSON.stringify(options.config);
  return { ...env, ...options.env };
}

/** Python of the pinned venv, built on first use by the run's service provider. */
async function venvPython(version: string | undefined): Promise<string> {
  const python = await celeryVenvPython(version ?? "5.7");
  if (!existsSync(python)) {
    throw new Error(`${python} is missing. Run \`npm run setup\` (it builds python-interop/.venv-5.7).`);
  }
  return python;
}

/** Starts `celery -A interop_app worker` (or `options.app`) and resolves once it logged `<hostname> ready.`. */
export async function startCeleryWorker(options: CeleryWorkerOptions): Promise<CeleryWorker> {
  const python = await venvPython(options.celeryVersion);
  const hostname = options.hostname ?? `interop-${randomBytes(4).toString("hex")}@localhost`;
  const args = [
    "-A",
    options.app ?? INTEROP_APP_MODULE,
    "worker",
    "-l",
    options.loglevel ?? "INFO",
    "-n",
    hostname,
  ];
  args.push("--without-mingle", "--without-gossip", "-P", options.pool ?? "solo");
  if (options.concurrency !== undefined) args.push("-c", String(options.concurrency));
  if (options.queues && options.queues.length > 0) args.push("-Q", options.queues.join(","));
  args.push(...(options.extraArgs ?? []));

  const readyLine = `${hostname} ready.`;
  let stderrSoFar = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const child = new ChildHandle(join(dirname(python), "celery"), args, {
    cwd: INTEROP_APP_DIR,
    env: celeryEnv(options),
    onOutput: (text, stream) => {
      if (stream !== "stderr") return;
      stderrSoFar += text;
      if (stderrSoFar.includes(readyLine)) markReady();
    },
  });
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    child.exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== "ready") {
    await child.terminate("SIGKILL");
    const why = outcome === "timeout" ? `not ready after ${timeoutMs} ms` : child.describeExit();
    throw new Error(`celery worker ${hostname}: ${why}\n--- worker output ---\n${tail(child.output())}`);
  }
  return {
    hostname,
    get pid() {
      return child.pid;
    },
    get running() {
      return child.running;
    },
    exited: child.exited,
    logs: () => child.output(),
    stop: (graceMs = 30_000) => child.terminate("SIGTERM", graceMs),
    kill: () => child.terminate("SIGKILL"),
  };
}

export interface RunPythonOptions extends CeleryEnvOptions {
  /** Written to stdin. */
  input?: string;
  /** Extra argv after the script/code. */
  args?: readonly string[];
  /** Kill the process after this long (default 60 s) and reject. */
  timeoutMs?: number;
}

export interface PythonRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs Python code (or a `.py` file path) with the venv's interpreter, interop_app importable and
 * the interop env set. Resolves with the output whatever the exit code; see pythonJson for the
 * strict variant.
 */
export async function runPython(codeOrScript: string, options: RunPythonOptions = {}): Promise<PythonRun> {
  const python = await venvPython(options.celeryVersion);
  const isScript = codeOrScript.endsWith(".py") && !codeOrScript.includes("\n") && existsSync(codeOrScript);
  const argv = isScript ? [codeOrScript] : ["-c", dedent(codeOrScript)];
  argv.push(...(options.args ?? []));
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (options.env === undefined && process.env.CELERIAC_TEST_PYTHON_FORK !== "0") {
    // The same `python -c` run, forked from a server that has the libraries imported already
    // (python-forkserver.ts); CELERIAC_TEST_PYTHON_FORK=0 starts a fresh interpreter instead.
    const run = await runForked(python, FORKSERVER_SCRIPT, celeryEnv({}), {
      argv,
      env: celeryEnv(options),
      cwd: INTEROP_APP_DIR,
      input: options.input,
      timeoutMs,
    });
    if (run.signal === "SIGKILL") {
      throw new Error(
        `python was killed after ${timeoutMs} ms\n--- stdout ---\n${tail(run.stdout)}\n--- stderr ---\n${tail(run.stderr)}`,
      );
    }
    return { stdout: run.stdout, stderr: run.stderr, code: run.code };
  }
  let stdout = "";
  let stderr = "";
  const child = new ChildHandle(python, argv, {
    cwd: INTEROP_APP_DIR,
    env: celeryEnv(options),
    input: options.input,
    onOutput: (text, stream) => {
      if (stream === "stdout") stdout += text;
      else stderr += text;
    },
  });
  const timer = setTimeout(() => child.signal("SIGKILL"), timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  if (exit.signal === "SIGKILL") {
    throw new Error(
      `python was killed after ${timeoutMs} ms\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`,
    );
  }
  return { stdout, stderr, code: exit.code };
}

/**
 * Runs a Python snippet and returns the JSON document on the last non-empty line of its stdout
 * (write it with `emit(value)` from interop_app, or `print(json.dumps(...))`). Rejects with the
 * snippet's stderr when it exits non-zero or prints no JSON.
 *
 *   const sum = await pythonJson<number>(`
 *   from interop_app import app, emit
 *   emit(app.send_task("interop.add", (2, 3), queue=${JSON.stringify(queue)}).get(timeout=20))
 *   `, { brokerUrl, backendUrl });
 */
export async function pythonJson<T = unknown>(snippet: string, options: RunPythonOptions = {}): Promise<T> {
  const run = await runPython(snippet, options);
  const lines = run.stdout.split("\n").filter((line) => line.trim() !== "");
  const last = lines[lines.length - 1];
  if (run.code !== 0 || last === undefined) {
    throw new Error(
      `python snippet ${run.code !== 0 ? `exited with code ${run.code}` : "printed nothing"}\n--- stderr ---\n${tail(run.stderr)}\n--- stdout ---\n${tail(run.stdout)}`,
    );
  }
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(
      `python snippet's last stdout line is not JSON: ${last}\n--- stderr ---\n${tail(run.stderr)}`,
    );
  }
}

/** Strips the common indentation of a template-literal snippet so Python accepts it. */
function dedent(code: string): string {
  const lines = code.replace(/^\n/, "").split("\n");
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)?.[0].length ?? 0);
  const common = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((line) => line.slice(common)).join("\n");
}

/**
 * Runs the real `celery` command line of the pinned venv against `brokerUrl`
 * (`celery -b <url> inspect ping`, `control revoke <id>`, ...), from the
 * interop app's directory; stdout and stderr together in `out`.
 */
export async function runCeleryCli(
  brokerUrl: string,
  args: readonly string[],
  celeryVersion = "5.7",
): Promise<{ code: number | null; out: string }> {
  const python = await venvPython(celeryVersion);
  return new Promise((resolve, reject) => {
    const child = spawn(join(dirname(python), "celery"), ["-b", brokerUrl, ...args], {
      cwd: INTEROP_APP_DIR,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}
