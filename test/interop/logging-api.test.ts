/**
 * Logging from the API and the CLI, with a real Python producer sending to the TS worker:
 *
 * - `new Celery({ logger })` with a pino logger: the worker logs through it, and each task record
 *   carries structured fields (task_id, task_name, state, runtime, retries, hostname) whose
 *   task_id is the id the Python producer's AsyncResult has;
 * - `app.worker({ logger })` with a logger that only has pino's call shape (no pino);
 * - a logger without pino's methods is a ConfigError naming `logger`;
 * - `celeriac worker --log-format json`: one JSON object per line with the same fields (the default
 *   text lines keep Celery's wording without them: test/interop/cli-ts-worker.test.ts); an unknown
 *   format is a usage error.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConfigError } from "../../src/errors.js";
import type { Logger } from "../../src/logging.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { celeriac, startCliWorker, TS_APP } from "../support/cli-apps/run.js";
import type { ChildHandle } from "../support/process.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
});

/** Sends `name(args)` from Python to `queue`; returns the ids and the results (or exception names). */
function pythonSends(queue: string, calls: [string, unknown[]][]) {
  return pythonJson<{ id: string; value: unknown }[]>(
    `
    from interop_app import app, emit
    out = []
    for name, args in ${JSON.stringify(calls)}:
        r = app.send_task(name, tuple(args), queue=${JSON.stringify(queue)})
        try:
            value = r.get(timeout=20)
        except Exception as exc:
            value = type(exc).__name__
        out.append({"id": r.id, "value": value})
    emit(out)
    `,
    { brokerUrl: broker, backendUrl: backend },
  );
}

describe("new Celery({ logger }) with pino", () => {
  const lines: Record<string, unknown>[] = [];
  let app: Celery;
  let worker: Worker;
  const queue = uniqueQueue("log-api");

  beforeAll(async () => {
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    app = new Celery({ broker, backend, logger });
    app.task("log.add", (_ctx, a: number, b: number) => a + b);
    app.task("log.fail", () => {
      throw new Error("log.fail failed");
    });
    worker = app.worker({ queues: [queue], hostname: "log-api@localhost" });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.close({ timeoutMs: 5000 });
    await app?.close();
  });

  it("task records carry structured fields, with the ids Python's results have", async () => {
    const [ok, failed] = await pythonSends(queue, [
      ["log.add", [2, 3]],
      ["log.fail", []],
    ]);
    expect(ok?.value).toBe(5);
    expect(failed?.value).toBe("Exception");
    await waitUntil("both task records", async () => lines.filter((l) => "task_id" in l).length >= 2, {
      timeoutMs: 5000,
    });
    const success = lines.find((l) => l.task_id === ok?.id);
    expect(success).toMatchObject({
      level: 30,
      task_name: "log.add",
      state: "SUCCESS",
      retries: 0,
      hostname: "log-api@localhost",
      msg: expect.stringMatching(
        new RegExp(`^Task log\\.add\\[${ok?.id}\\] succeeded in \\d+\\.\\d{6}s: 5$`),
      ),
    });
    expect(typeof success?.runtime).toBe("number");
    const failure = lines.find((l) => l.task_id === failed?.id);
    expect(failure).toMatchObject({
      level: 50,
      task_name: "log.fail",
      state: "FAILURE",
      msg: expect.stringMatching(
        /raised unexpected: Error\('log\.fail failed'\)|raised unexpected: .*log\.fail failed/,
      ),
    });
    expect((failure?.err as { message?: string } | undefined)?.message).toBe("log.fail failed");
    // The worker's own lines go there too (nothing on stderr by default).
    expect(lines.some((l) => typeof l.msg === "string" && /^log-api@localhost ready\./.test(l.msg))).toBe(
      true,
    );
  });
});

describe("app.worker({ logger }) with a pino-shaped logger that is not pino", () => {
  it("receives (fields, message) calls", async () => {
    const calls: { level: string; fields: unknown; message: unknown }[] = [];
    const method =
      (level: string) =>
      (fieldsOrMessage: unknown, message?: unknown): void => {
        if (typeof fieldsOrMessage === "string") calls.push({ level, fields: {}, message: fieldsOrMessage });
        else calls.push({ level, fields: fieldsOrMessage, message });
      };
    const logger: Logger = {
      debug: method("debug"),
      info: method("info"),
      warn: method("warn"),
      error: method("error"),
      fatal: method("fatal"),
    };
    const queue = uniqueQueue("log-shape");
    const app = new Celery({ broker, backend });
    app.task("log.add", (_ctx, a: number, b: number) => a + b);
    const worker = app.worker({ queues: [queue], hostname: "log-shape@localhost", logger });
    await worker.start();
    try {
      const [sent] = await pythonSends(queue, [["log.add", [20, 22]]]);
      expect(sent?.value).toBe(42);
      await waitUntil(
        "the success record",
        async () => calls.some((c) => /succeeded/.test(String(c.message))),
        {
          timeoutMs: 5000,
        },
      );
      const success = calls.find((c) => /succeeded/.test(String(c.message)));
      expect(success?.level).toBe("info");
      expect(success?.fields).toMatchObject({ task_id: sent?.id, task_name: "log.add", state: "SUCCESS" });
    } finally {
      await worker.close({ timeoutMs: 5000 });
      await app.close();
    }
  });

  it("a logger without pino's methods is a ConfigError naming logger", () => {
    const bad = { info: () => {} } as unknown as Logger;
    expect(() => new Celery({ broker, logger: bad })).toThrow(ConfigError);
    expect(() => new Celery({ broker, logger: bad })).toThrow(
      /logger must have pino's methods .*missing: debug, warn, error, fatal/,
    );
  });
});

describe("celeriac worker --log-format", () => {
  let worker: ChildHandle | undefined;
  const queue = uniqueQueue("log-cli");

  afterAll(async () => {
    await worker?.terminate("SIGTERM", 20_000);
  });

  it("an unknown format is a usage error naming the accepted ones", async () => {
    const run = await celeriac(["worker", "--app", TS_APP, "--log-format", "xml"], {
      CELERY_BROKER_URL: broker,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("Error: Invalid value for '--log-format': 'xml' is not one of text, json.\n");
  });

  it("json: one object per line with the task fields", async () => {
    worker = await startCliWorker(["-Q", queue, "-n", "log-cli@localhost", "--log-format", "json"], {
      CELERY_BROKER_URL: broker,
      CELERY_RESULT_BACKEND: backend,
    });
    const [sent] = await pythonSends(queue, [["cli.add", [1, 2]]]);
    expect(sent?.value).toBe(3);
    const running = worker;
    await waitUntil(
      "the JSON success record",
      async () => running.output().includes(`"task_id":"${sent?.id}"`),
      {
        timeoutMs: 10_000,
      },
    );
    const records = running
      .output()
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.task_id === sent?.id)).toMatchObject({
      task_name: "cli.add",
      state: "SUCCESS",
      hostname: "log-cli@localhost",
      msg: expect.stringMatching(/^Task cli\.add\[.*\] succeeded in/),
    });
  }, 60_000);
});
