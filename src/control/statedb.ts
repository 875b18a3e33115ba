import { readFile, rename, writeFile } from "node:fs/promises";
import type { LamportClock } from "../events/clock.js";
import type { RevokedSet } from "./revoked.js";

/**
 * The worker's persistent state between restarts, as Celery's `--statedb`
 * keeps it (celery/worker/state.py `Persistent`: the revoked ids and the
 * Lamport clock, merged at start, written at shutdown). Our file is JSON
 * (`{"revoked": [[id, epochMs], …], "clock": n}`), not Python's shelve +
 * zlib pickle, so a TS worker and a Python worker cannot share one file.
 */
export interface StateDbParts {
  revoked: RevokedSet;
  clock: LamportClock;
}

/**
 * `Persistent.merge`: ids from the file join the revoked set (expired ones
 * are dropped by the set's own limits) and the clock moves past the saved
 * value. A missing file is a first start; a corrupt one is an error, as
 * Python's shelve open fails on it.
 */
export async function loadStateDb(path: string, state: StateDbParts): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const data: unknown = JSON.parse(text);
  const before = state.revoked.size;
  state.revoked.load(data);
  const clock = (data as { clock?: unknown } | null)?.clock;
  if (typeof clock === "number") state.clock.adjust(clock);
  return state.revoked.size - before;
}

/** `Persistent.sync` + close: written to a temporary file then renamed, so a crash never leaves half a file. */
export async function saveStateDb(path: string, state: StateDbParts): Promise<void> {
  state.revoked.purge();
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...state.revoked.toJSON(), clock: state.clock.value })}\n`);
  await rename(tmp, path);
}
