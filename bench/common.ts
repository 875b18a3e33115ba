/**
 * What the benchmarks share: repo paths, `--name value` options, a free port,
 * and running a Python snippet in the pinned Celery 5.7 venv with the interop
 * app importable.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const VENV = join(ROOT, "python-interop", ".venv-5.7", "bin");
export const APP_DIR = join(ROOT, "python-interop", "app");

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

/** Settings for python-interop/app/interop_app.py as the worker benchmarks use it (queue "bench"). */
export function benchPythonEnv(broker: string, backend: string): NodeJS.ProcessEnv {
  return {
    PYTHONPATH: APP_DIR,
    CELERIAC_BROKER_URL: broker,
    CELERIAC_BACKEND_URL: backend,
    CELERIAC_DEFAULT_QUEUE: "bench",
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
