import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { CliError, EX_FAILURE } from "./errors.js";

/** True when a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * `--pidfile`: celery/platforms.py `Pidfile.acquire` and `create_pidlock` (5.7.0). The file is
 * created exclusively with this process's pid; an existing file whose pid is not running is
 * stale and replaced, one whose pid is running means another worker has it, which is an error.
 * Returns the release function (removes the file if it still holds our pid).
 */
export function acquirePidfile(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new CliError(`Cannot create pidfile ${path}: ${(err as Error).message}`, EX_FAILURE);
      }
      const text = readFileSync(path, "utf8").trim();
      const pid = /^\d+$/.test(text) ? Number(text) : Number.NaN;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(
          `Pidfile (${path}) already exists. Seems we're already running? (pid: ${pid})`,
          EX_FAILURE,
        );
      }
      rmSync(path, { force: true }); // stale: its process is gone (Pidfile.remove_if_stale)
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return () => {
      try {
        if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
      } catch {
        // already gone
      }
    };
  }
  throw new CliError(`Cannot create pidfile ${path}: another process keeps recreating it`, EX_FAILURE);
}

/** Runs a long-lived command (`worker`, `beat`) holding `--pidfile` when one is given. */
export async function withPidfile<T>(path: string | undefined, run: () => Promise<T>): Promise<T> {
  const release = path === undefined ? () => {} : acquirePidfile(path);
  try {
    return await run();
  } finally {
    release();
  }
}
