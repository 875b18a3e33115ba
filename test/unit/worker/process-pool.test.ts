/**
 * The process pool on its own (no broker): values cross the process boundary
 * intact, a lost child is billiard's WorkerLostError worded as billiard words
 * it, terminate() kills a child stuck in a synchronous loop, and the acks-late
 * settlement table follows celery/worker/request.py `on_failure` / `on_timeout`.
 * The broker-level behaviour, against a real Python peer, is in
 * test/interop/worker-processes.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/logging.js";
import { WorkerLostError } from "../../../src/worker/errors.js";
import { lateSettlement } from "../../../src/worker/late-ack.js";
import { childExecArgv, humanStatus, ProcessPool } from "../../../src/worker/process-pool.js";
import { waitUntil } from "../../support/process.js";

const TASKS = new URL("../../support/ts-worker/process-tasks.ts", import.meta.url).href;
const pool = new ProcessPool({ size: 2, logger: createLogger({ level: "silent" }) });
// A test that needs a new child waits for a Node + tsx start: seconds on a loaded 2-core box, so
// the waits below that include one are bounded generously (they end as soon as the child is there).
const CHILD_START_MS = 60_000;
const run = (exportName: string, args: unknown[] = []) =>
  pool.run({ module: TASKS, exportName, args, context: {} });

afterAll(() => pool.close());

describe("ProcessPool", () => {
  it("returns values through structured clone (BigInt, Map, Date, nested undefined)", async () => {
    const value = { big: 2n ** 70n, map: new Map([["a", 1]]), when: new Date(0), nothing: undefined };
    await expect(run("echo", [value]).result).resolves.toEqual(value);
  });

  it("a thrown string comes back as the same string; an Error keeps its name and message", async () => {
    await expect(run("throwString", ["just text"]).result).rejects.toBe("just text");
    await expect(run("throwTypeError", ["typed"]).result).rejects.toMatchObject({
      name: "TypeError",
      message: "typed",
    });
  });

  it(
    "a child that dies mid-task fails it with WorkerLostError, and the next task gets a new child",
    async () => {
      const lost = await run("die").result.catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(WorkerLostError);
      expect((lost as WorkerLostError).excArgs).toEqual([
        expect.stringMatching(/^Worker exited prematurely: signal 9 \(SIGKILL\) Job: \d+\.$/),
      ]);
      const next = (await run("whoami", [1]).result) as { pid: number };
      expect(next.pid).not.toBe(process.pid);
    },
    2 * CHILD_START_MS,
  );

  it(
    "terminate() kills a child stuck in a synchronous loop; the pool keeps serving",
    async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), "celeriac-pp-")), "spin.pid");
      const spin = run("spinForever", [pidFile]);
      await waitUntil("the spinning child to write its pid", async () => existsSync(pidFile), {
        timeoutMs: CHILD_START_MS,
      });
      const spinPid = Number(readFileSync(pidFile, "utf8"));
      spin.control.terminate();
      await waitUntil(`child ${spinPid} to be killed`, async () => !alive(spinPid), { timeoutMs: 10_000 });
      const after = (await run("whoami", [2]).result) as { pid: number; n: number };
      expect(after).toEqual({ pid: expect.any(Number), n: 2 });
      expect(after.pid).not.toBe(spinPid);
    },
    2 * CHILD_START_MS,
  );

  it(
    "a child ignores SIGINT (Ctrl-C reaches the whole process group): its task completes",
    async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), "celeriac-pp-")), "nap.pid");
      const nap = run("napAfterPid", [pidFile, 500]);
      await waitUntil("the napping child to write its pid", async () => existsSync(pidFile), {
        timeoutMs: CHILD_START_MS,
      });
      const pid = Number(readFileSync(pidFile, "utf8"));
      process.kill(pid, "SIGINT");
      await expect(nap.result).resolves.toEqual({ pid });
      expect(alive(pid)).toBe(true);
    },
    2 * CHILD_START_MS,
  );
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("ProcessPool size (pool_grow / pool_shrink)", () => {
  it(
    "follows a size function: one child at 1, two in parallel after growing, back to one after shrinking",
    async () => {
      let size = 1;
      const sized = new ProcessPool({ size: () => size, logger: createLogger({ level: "silent" }) });
      const job = (exportName: string, args: unknown[]) =>
        sized.run({ module: TASKS, exportName, args, context: {} }).result as Promise<{ pid: number }>;
      try {
        const one = await Promise.all([job("whoami", [1]), job("whoami", [2])]);
        expect(new Set(one.map((r) => r.pid)).size).toBe(1);
        size = 2;
        const dir = mkdtempSync(join(tmpdir(), "celeriac-pp-grow-"));
        // The second child starts only now: the barrier waits for it as long as a child start may take.
        const two = await Promise.all([
          job("barrier", [dir, 2, CHILD_START_MS]),
          job("barrier", [dir, 2, CHILD_START_MS]),
        ]);
        expect(new Set(two.map((r) => r.pid)).size).toBe(2);
        size = 1;
        await Promise.all([job("whoami", [3]), job("whoami", [4])]);
        await waitUntil("the pool to shrink to one child", async () => sized.pids.length === 1, {
          timeoutMs: 10_000,
        });
      } finally {
        await sized.close();
      }
    },
    2 * CHILD_START_MS,
  );
});

describe("humanStatus (billiard/common.py human_status)", () => {
  it("names a signal or an exit code", () => {
    expect(humanStatus(null, "SIGKILL")).toBe("signal 9 (SIGKILL)");
    expect(humanStatus(null, "SIGTERM")).toBe("signal 15 (SIGTERM)");
    expect(humanStatus(3, null)).toBe("exitcode 3");
  });
});

describe("childExecArgv", () => {
  it("adds tsx for a .ts entry unless it is already imported, and nothing for a .js entry", () => {
    const ts = new URL("file:///x/process-entry.ts");
    expect(childExecArgv([], ts)).toEqual([
      "--import",
      expect.stringMatching(/tsx[\\/]dist[\\/]loader\.mjs$/),
    ]);
    expect(childExecArgv(["--import", "tsx"], ts)).toEqual(["--import", "tsx"]);
    expect(childExecArgv(["--max-old-space-size=64"], new URL("file:///x/process-entry.js"))).toEqual([
      "--max-old-space-size=64",
    ]);
  });
});

describe("lateSettlement (celery/worker/request.py on_failure / on_timeout, 5.7)", () => {
  const opts = (acksLate: boolean, acksOnFailureOrTimeout: boolean, rejectOnWorkerLost: boolean) => ({
    acksLate,
    acksOnFailureOrTimeout,
    rejectOnWorkerLost,
  });
  it.each([
    // [acksLate, acksOnFailureOrTimeout, rejectOnWorkerLost, kind, settle, store]
    [false, false, true, "worker-lost", "ack", true],
    [true, true, false, "failure", "ack", true],
    [true, false, false, "failure", "reject", true],
    [true, true, false, "timeout", "ack", true],
    [true, false, false, "timeout", "requeue", true],
    [true, true, false, "worker-lost", "ack", true],
    [true, false, false, "worker-lost", "reject", true],
    [true, true, true, "worker-lost", "requeue", false],
    [true, true, true, "failure", "ack", true],
  ] as const)(
    "acksLate=%s acksOnFailureOrTimeout=%s rejectOnWorkerLost=%s %s -> %s (store %s)",
    (a, f, r, kind, settle, store) => {
      expect(lateSettlement(opts(a, f, r), kind)).toEqual({ settle, store });
    },
  );
});
