/**
 * `celeriac worker --app <a .ts app>` (no build step) on real Redis, driven
 * by the CLI itself and by Python's `celery inspect`: tasks run, remote
 * control answers, and `--metrics-port` serves the counters after a task ran.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPython } from "../support/celery.js";
import { celeriac, startCliWorker } from "../support/cli-apps/run.js";
import type { ChildHandle } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let env: NodeJS.ProcessEnv;
let worker: ChildHandle;
let metricsUrl: string;
const queue = uniqueQueue("clits");
const node = `cli-${process.pid}@%h`;
let hostname: string;

beforeAll(async () => {
  const broker = (await allocateRedisDb()).url;
  const backend = (await allocateRedisDb()).url;
  env = { CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: backend };
  worker = await startCliWorker(
    ["-Q", queue, "-c", "4", "-l", "info", "-E", "-n", node, "--metrics-port", "0"],
    env,
  );
  const ready = /INFO\/MainProcess\] (\S+) ready\./.exec(worker.output());
  hostname = ready?.[1] ?? "";
  const port = /Metrics at http:\/\/[^:]+:(\d+)\/metrics/.exec(worker.output())?.[1];
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
});

afterAll(async () => {
  await worker?.terminate("SIGTERM", 20_000);
});

describe("celeriac worker --app tasks.ts", () => {
  it("expands -n name@%h", () => {
    expect(hostname.startsWith(`cli-${process.pid}@`)).toBe(true);
    expect(hostname).not.toContain("%h");
  });

  it("runs a task sent by celeriac call; celeriac result prints it", async () => {
    const call = await celeriac(["call", "cli.add", "--args", "[20, 22]", "--queue", queue], env);
    expect(call.code).toBe(0);
    const result = await celeriac(["result", call.stdout.trim(), "--timeout", "30"], env);
    expect(result.stdout).toBe("42\n");
    expect(result.code).toBe(0);
  });

  it("a failed task: result exits non-zero with the error line, --traceback prints the stored traceback", async () => {
    const call = await celeriac(["call", "cli.fail", "--queue", queue], env);
    const result = await celeriac(["result", call.stdout.trim(), "--timeout", "30"], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("cli boom");
    const tb = await celeriac(["result", call.stdout.trim(), "--traceback"], env);
    expect(tb.code).toBe(0);
    expect(tb.stdout).toContain("cli boom");
  });

  it("answers celeriac inspect ping and registered", async () => {
    const ping = await celeriac(["inspect", "ping", "-d", hostname, "-t", "5"], env);
    expect(ping.stdout).toBe(`->  ${hostname}: OK\n        pong\n\n1 node online.\n`);
    const registered = await celeriac(["inspect", "registered", "-d", hostname, "-t", "5"], env);
    expect(registered.stdout).toBe(`->  ${hostname}: OK\n    * cli.add\n    * cli.fail\n\n1 node online.\n`);
  });

  it("answers Python's celery inspect ping", async () => {
    const run = await runPython(
      `
import subprocess, sys
r = subprocess.run([sys.executable, "-m", "celery", "-A", "interop_app", "inspect", "ping", "-d", ${JSON.stringify(hostname)}, "-t", "5"], capture_output=True, text=True)
print(r.returncode)
print(r.stdout)
`,
      { brokerUrl: env.CELERY_BROKER_URL as string, backendUrl: env.CELERY_RESULT_BACKEND as string },
    );
    expect(run.stdout).toContain("0\n");
    expect(run.stdout).toContain(`${hostname}: OK`);
    expect(run.stdout).toContain("pong");
  });

  it("serves the task counters on --metrics-port after tasks ran", async () => {
    const call = await celeriac(["call", "cli.add", "--args", "[1, 2]", "--queue", queue], env);
    expect((await celeriac(["result", call.stdout.trim(), "--timeout", "30"], env)).stdout).toBe("3\n");
    const body = await (await fetch(metricsUrl)).text();
    const count = (metric: string, task: string) =>
      Number(
        new RegExp(`^${metric}\\{[^}]*task="${task.replace(".", "\\.")}"[^}]*\\} (\\d+)`, "m").exec(
          body,
        )?.[1] ?? "NaN",
      );
    // Tests in this file ran cli.add twice and cli.fail once before this scrape.
    expect(count("celeriac_tasks_received_total", "cli.add")).toBe(2);
    expect(count("celeriac_tasks_succeeded_total", "cli.add")).toBe(2);
    expect(count("celeriac_tasks_failed_total", "cli.fail")).toBe(1);
    expect(count("celeriac_task_runtime_seconds_count", "cli.add")).toBe(2);
    expect(body).toMatch(/^celeriac_tasks_active\{[^}]*\} 0$/m);
    expect(body).toContain("celeriac_events_dropped_total");
  });

  it("control shutdown stops the worker (exit 0)", async () => {
    // Like a Python worker, the TS worker may go away before it replies: only the exit is checked.
    await celeriac(["control", "shutdown", "-d", hostname, "-t", "1"], env);
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
  });
});
