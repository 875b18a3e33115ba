// Runs `node bin/celeriac.js ...` as a user would, for the CLI tests.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ChildHandle, waitUntil } from "../process.js";

export const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
export const CLI = join(REPO_ROOT, "bin", "celeriac.js");
export const TS_APP = join(import.meta.dirname, "tasks.ts");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One CLI invocation to completion (bounded: killed after `timeoutMs`). */
export function celeriac(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CELERY_BROKER_URL: "", CELERY_RESULT_BACKEND: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `celeriac worker --app <TS_APP> ...` running until stopped; resolves once it logged `ready`. */
export async function startCliWorker(args: string[], env: NodeJS.ProcessEnv): Promise<ChildHandle> {
  const child = new ChildHandle(process.execPath, [CLI, "worker", "--app", TS_APP, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  try {
    await waitUntil("celeriac worker ready", async () => / ready\./.test(child.output()), {
      timeoutMs: 30_000,
      child,
    });
  } catch (err) {
    await child.terminate("SIGKILL", 1000);
    throw err;
  }
  return child;
}
