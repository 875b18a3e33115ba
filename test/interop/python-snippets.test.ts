/**
 * `runPython` / `pythonJson` run snippets in children of a fork server that has Celery and kombu
 * imported already (test/support/python-forkserver.ts); passing `env` (here `{}`, which adds
 * nothing) still starts a fresh interpreter. Each probe runs both ways and the fork must behave as
 * the fresh `python -c` does: argv, sys.path, __main__, environment and interop_app's
 * env-driven configuration, working directory, stdin, exit status of `sys.exit` and of an
 * uncaught exception, non-daemon threads and atexit handlers at exit, signal dispositions,
 * unicode output, and a snippet killed at its timeout.
 */
import { describe, expect, it } from "vitest";
import { type PythonRun, runPython } from "../support/celery.js";

const ENV = { brokerUrl: "redis://127.0.0.1:1/3", defaultQueue: "probe-q", config: { task_acks_late: true } };

async function both(
  code: string,
  options: Parameters<typeof runPython>[1] = {},
): Promise<[PythonRun, PythonRun]> {
  const forked = await runPython(code, { ...ENV, ...options });
  const fresh = await runPython(code, { ...ENV, ...options, env: {} });
  return [forked, fresh];
}

describe("a forked snippet behaves as a fresh `python -c`", () => {
  it("argv, sys.path, __main__, cwd, environment and interop_app's configuration", async () => {
    const code = `
import json, os, sys
from interop_app import app
print(json.dumps({
  "argv": sys.argv, "path": sys.path, "name": __name__, "main": sorted(k for k in globals() if not k.startswith("__") or k in ("__name__", "__file__")),
  "cwd": os.getcwd(), "broker": app.conf.broker_url, "queue": app.conf.task_default_queue,
  "acks_late": app.conf.task_acks_late, "env": os.environ.get("CELERIAC_DEFAULT_QUEUE"),
  "unbuffered": os.environ.get("PYTHONUNBUFFERED"), "bytecode": sys.dont_write_bytecode,
  "encoding": [sys.stdout.encoding, sys.stderr.encoding], "modules_main": sys.modules["__main__"].__name__,
}))
`;
    const [forked, fresh] = await both(code, { args: ["a", "b c"] });
    expect(forked).toEqual(fresh);
    expect(JSON.parse(forked.stdout)).toMatchObject({
      argv: ["-c", "a", "b c"],
      queue: "probe-q",
      acks_late: true,
    });
  });

  it("stdin, unicode output on both streams, and what is printed by threads and atexit at exit", async () => {
    const code = `
import atexit, sys, threading, time
atexit.register(lambda: print("atexit ran", flush=True))
def late():
    time.sleep(0.2)
    print("thread done")
threading.Thread(target=late).start()
print("read:", sys.stdin.read().upper())
print("\u00e9\u4e2dU0001F600", file=sys.stderr)
`;
    const [forked, fresh] = await both(code, { input: "line one\nzwei\n" });
    expect(forked).toEqual(fresh);
    expect(forked.stdout).toBe("read: LINE ONE\nZWEI\n\nthread done\natexit ran\n");
  });

  it("exit status: sys.exit(n), sys.exit(message), an uncaught exception, a normal end", async () => {
    for (const code of [
      "import sys; sys.exit(3)",
      "import sys; sys.exit('bye')",
      "raise ValueError('boom')",
      "x = 1",
    ]) {
      const [forked, fresh] = await both(code);
      expect({ code: forked.code, stdout: forked.stdout }).toEqual({
        code: fresh.code,
        stdout: fresh.stdout,
      });
      // The traceback names the same frames; only the interpreter's own lines could differ.
      expect(forked.stderr.split("\n").slice(-2)).toEqual(fresh.stderr.split("\n").slice(-2));
    }
  });

  it("signal dispositions and randomness are a fresh process's", async () => {
    const code = `
import json, random, signal
print(json.dumps({s.name: str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGHUP)}))
print(random.random())
`;
    const [forked, fresh] = await both(code);
    const [forkedSignals, forkedRandom] = forked.stdout.trim().split("\n");
    const [freshSignals] = fresh.stdout.trim().split("\n");
    expect(forkedSignals).toBe(freshSignals);
    const again = await runPython(code, ENV);
    expect(again.stdout.trim().split("\n")[1]).not.toBe(forkedRandom);
  });

  it("a snippet still running at its timeout is killed and reported", async () => {
    await expect(runPython("import time; time.sleep(60)", { ...ENV, timeoutMs: 1500 })).rejects.toThrow(
      /python was killed after 1500 ms/,
    );
    // The server keeps serving after a kill.
    expect((await runPython("print('next')", ENV)).stdout).toBe("next\n");
  });
});
