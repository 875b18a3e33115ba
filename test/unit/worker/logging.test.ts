/**
 * src/logging.ts: Celery-style text lines (celery/app/log.py
 * `Logging.setup_logging_subsystem` with the worker's default
 * `worker_log_format` "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"),
 * pino JSON lines, level filtering, and no credentials in any output.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, type LoggerOptions, redactUrl, textDestination } from "../../../src/logging.js";

function capture(options: Omit<LoggerOptions, "destination"> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ ...options, destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines };
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("text format (default)", () => {
  it("writes Celery's worker line: [asctime: LEVEL/processName] message", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2026, 10, 24, 8, 8, 25, 174)); // local time, as Celery's asctime
    const { logger, lines } = capture();
    logger.info("Task ts.add[5f1c] succeeded in 0.001200s: 5");
    expect(lines).toEqual([
      "[2026-11-24 08:08:25,174: INFO/MainProcess] Task ts.add[5f1c] succeeded in 0.001200s: 5\n",
    ]);
  });

  it("pads the date fields and milliseconds", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2027, 0, 2, 3, 4, 5, 6));
    const { logger, lines } = capture();
    logger.info("x");
    expect(lines[0]).toMatch(/^\[2027-01-02 03:04:05,006: INFO\/MainProcess\] x\n$/);
  });

  it("uses Python's level names and the given process name", () => {
    const { logger, lines } = capture({ level: "trace", processName: "ForkPoolWorker-1" });
    logger.trace("t");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    logger.fatal("f");
    const heads = lines.map((line) => /: ([A-Z]+)\/([\w-]+)\] (\w)\n$/.exec(line)?.slice(1));
    expect(heads).toEqual([
      ["TRACE", "ForkPoolWorker-1", "t"],
      ["DEBUG", "ForkPoolWorker-1", "d"],
      ["INFO", "ForkPoolWorker-1", "i"],
      ["WARNING", "ForkPoolWorker-1", "w"],
      ["ERROR", "ForkPoolWorker-1", "e"],
      ["CRITICAL", "ForkPoolWorker-1", "f"],
    ]);
  });

  it("appends structured fields as key=value and an error's stack on the next lines", () => {
    const { logger, lines } = capture();
    const err = new Error("boom");
    logger.error({ task: "ts.add", attempt: 2, meta: { q: "celery" }, err }, "Task failed");
    const line = lines[0] as string;
    const [head, ...stack] = line.trimEnd().split("\n");
    expect(head).toMatch(/\] Task failed task=ts\.add attempt=2 meta=\{"q":"celery"\}$/);
    expect(stack[0]).toBe("Error: boom");
    expect(stack.length).toBeGreaterThan(1);
    expect(line.endsWith("\n")).toBe(true);
  });
});

describe("text fast path (pino's logMethod hook)", () => {
  // pino's own path for the same call: its JSON line, re-parsed into text by textDestination.
  function slowPath(level: LogLevelName) {
    const lines: string[] = [];
    const logger = pino(
      { level, base: undefined },
      textDestination({ write: (l: string) => lines.push(l) }, "P-1"),
    );
    return { logger, lines };
  }
  type LogLevelName = "debug" | "info" | "warn" | "error";
  const key = fc.oneof(
    fc.constantFrom(
      "task_id",
      "task_name",
      "state",
      "runtime",
      "retries",
      "hostname",
      "queue",
      "n",
      "1",
      "0",
    ),
    fc
      .string({ maxLength: 8 })
      .filter(
        (k) =>
          !["level", "time", "msg", "pid", "name", "err", "__proto__"].includes(k) &&
          !["password", "pass", "secret", "token"].includes(k),
      ),
  );
  const scalar = fc.oneof(
    fc.string({ unit: "grapheme-composite", maxLength: 20 }),
    fc.string({ unit: "binary", maxLength: 10 }),
    fc.constantFrom("redis://u:pw@h:6379/0", "50%s done", "line\nbreak"),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  );

  it("writes the same line as pino's JSON re-parsed, for any flat fields and message", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2026, 11, 6, 20, 1, 2, 3));
    fc.assert(
      fc.property(
        fc.constantFrom<LogLevelName>("debug", "info", "warn", "error"),
        fc.dictionary(key, scalar, { maxKeys: 6 }),
        fc.option(
          fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("Task x[id] received", "a % b %d")),
          { nil: undefined },
        ),
        (level, fields, message) => {
          const fast = capture({ level: "debug", processName: "P-1" });
          const slow = slowPath("debug");
          if (message === undefined) {
            fast.logger[level](fields);
            slow.logger[level](fields);
          } else {
            fast.logger[level](fields, message);
            slow.logger[level](fields, message);
          }
          expect(fast.lines).toEqual(slow.lines);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a message alone, an Error, printf arguments and child bindings give pino's lines", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2026, 11, 6, 20, 1, 2, 3));
    const fast = capture({ level: "debug", processName: "P-1" });
    const slow = slowPath("debug");
    for (const { logger } of [fast, slow]) {
      logger.info("worker ready: redis://u:pw@h:6379/0");
      logger.error(new TypeError("boom"));
      logger.warn("%s of %d", "three", 4);
      logger.info({ n: 1 }, "%s!", "printf");
      logger.child({ worker: "w1" }).info({ n: 2 }, "from a child");
      logger.debug({ nested: { a: [1, 2] } }, "nested");
    }
    expect(fast.lines).toEqual(slow.lines);
    expect(fast.lines).toHaveLength(6);
  });
});

describe("json format", () => {
  it("writes one pino JSON object per line with the fields", () => {
    const { logger, lines } = capture({ format: "json" });
    logger.warn({ task: "ts.add", runtime: 0.5 }, "slow task");
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 40, msg: "slow task", task: "ts.add", runtime: 0.5 });
    expect(typeof record.time).toBe("number");
    // No pid/hostname base fields: the worker's own hostname is its node name.
    expect(record).not.toHaveProperty("pid");
    expect(record).not.toHaveProperty("hostname");
  });

  it("serializes errors with type, message and stack", () => {
    const { logger, lines } = capture({ format: "json" });
    logger.error({ err: new TypeError("bad") }, "failed");
    const record = JSON.parse(lines[0] as string) as {
      err: { type: string; message: string; stack: string };
    };
    expect(record.err.type).toBe("TypeError");
    expect(record.err.message).toBe("bad");
    expect(record.err.stack).toContain("TypeError: bad");
  });
});

describe("level filtering", () => {
  const emitAll = (logger: ReturnType<typeof capture>["logger"]) => {
    logger.trace("trace");
    logger.debug("debug");
    logger.info("info");
    logger.warn("warn");
    logger.error("error");
    logger.fatal("fatal");
  };
  const messages = (lines: string[]) => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);

  it("defaults to info", () => {
    const { logger, lines } = capture({ format: "json" });
    emitAll(logger);
    expect(messages(lines)).toEqual(["info", "warn", "error", "fatal"]);
  });

  it("honours an explicit level", () => {
    const { logger, lines } = capture({ format: "json", level: "warn" });
    emitAll(logger);
    expect(messages(lines)).toEqual(["warn", "error", "fatal"]);
  });

  it("is silent with 'silent'", () => {
    const { logger, lines } = capture({ format: "json", level: "silent" });
    emitAll(logger);
    expect(lines).toEqual([]);
  });

  it("reads CELERIAC_LOG_LEVEL when no level is given; an explicit level wins", () => {
    vi.stubEnv("CELERIAC_LOG_LEVEL", "debug");
    const fromEnv = capture({ format: "json" });
    emitAll(fromEnv.logger);
    expect(messages(fromEnv.lines)).toEqual(["debug", "info", "warn", "error", "fatal"]);
    const explicit = capture({ format: "json", level: "error" });
    emitAll(explicit.logger);
    expect(messages(explicit.lines)).toEqual(["error", "fatal"]);
  });

  it("filters text lines the same way", () => {
    const { logger, lines } = capture({ level: "error" });
    emitAll(logger);
    expect(lines.map((line) => /\] (\w+)\n$/.exec(line)?.[1])).toEqual(["error", "fatal"]);
  });
});

describe("no credentials in output", () => {
  const SECRETS = [
    "s3cr3t-redis",
    "pw-amqp",
    "tls-pass",
    "only-pass",
    "field-secret",
    "nested-token",
    "flat-token",
  ];
  const URLS = [
    "redis://user:s3cr3t-redis@10.0.0.5:6379/0",
    "amqp://guest:pw-amqp@rabbit:5672//",
    "rediss://default:tls-pass@cache.example.com:6380/1",
    "redis://:only-pass@localhost:6379",
  ];

  function logEverywhere(format: "text" | "json") {
    const { logger, lines } = capture({ format, level: "debug" });
    for (const url of URLS) {
      logger.info(`Connected to ${url}`);
      logger.warn({ broker: url, urls: [url] }, "broker settings");
      logger.error({ err: new Error(`cannot reach ${url}: ECONNREFUSED`) }, `consumer: ${url}`);
    }
    logger.info({ password: "field-secret", options: { token: "nested-token" } }, "options");
    logger.info({ task_id: "t1", token: "flat-token" }, "flat fields, one of them secret");
    return lines.join("");
  }

  for (const format of ["text", "json"] as const) {
    it(`masks URL passwords and secret fields (${format})`, () => {
      const out = logEverywhere(format);
      for (const secret of SECRETS) expect(out, secret).not.toContain(secret);
      // The rest of each URL is still there, so the line stays useful.
      expect(out).toContain("redis://user:***@10.0.0.5:6379/0");
      expect(out).toContain("amqp://guest:***@rabbit:5672//");
      expect(out).toContain("rediss://default:***@cache.example.com:6380/1");
      expect(out).toContain("redis://:***@localhost:6379");
    });
  }

  it("redactUrl leaves URLs without a password and plain text alone", () => {
    const text = "redis://localhost:6379/0 amqp://guest@rabbit// and user:pass without a scheme";
    expect(redactUrl(text)).toBe(text);
    expect(redactUrl("a amqp://u:p@h// b redis://v:q@i/0")).toBe("a amqp://u:***@h// b redis://v:***@i/0");
  });
});

describe("stderr and log files: the lines of one turn in one write", () => {
  const ROOT = join(import.meta.dirname, "..", "..", "..");

  it("a log file gets a turn's lines together when the turn ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "celeriac-log-"));
    try {
      const file = join(dir, "worker.log");
      const logger = createLogger({ file });
      logger.info({ task_id: "a", attempt: 2 }, "Task t[a] received");
      logger.info("Task t[a] succeeded in 0.001s: 1");
      logger.warn("third");
      expect(readFileSync(file, "utf8")).toBe("");
      await new Promise((resolve) => setImmediate(resolve));
      const lines = readFileSync(file, "utf8").split("\n");
      expect(lines.map((line) => line.replace(/^\[[^\]]*\] /, ""))).toEqual([
        "Task t[a] received attempt=2",
        "Task t[a] succeeded in 0.001s: 1",
        "third",
        "",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a turn that logs more than 64 KiB writes as it goes, and loses no line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "celeriac-log-"));
    try {
      const file = join(dir, "worker.log");
      const logger = createLogger({ file });
      const long = "x".repeat(1000);
      for (let i = 0; i < 100; i++) logger.info(`line ${i} ${long}`);
      const early = readFileSync(file, "utf8");
      expect(early.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(early.endsWith("\n")).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      expect(lines.map((line) => /\] line (\d+) /.exec(line)?.[1])).toEqual(
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(["exit", "crash"])(
    "stderr keeps the order of log lines and everything else printed there, up to the %s",
    (ending) => {
      // A fresh process: the batching wraps process.stderr.write, which is the test runner's here.
      const script = `
import { createLogger } from ${JSON.stringify(join(ROOT, "src", "logging.ts"))};
const logger = createLogger();
logger.info("one");
logger.info({ task_id: "x" }, "two");
console.error("printed by a task");
logger.warn("three");
process.stderr.write("written to the stream\\n");
logger.error({ err: new Error("boom") }, "four");
setImmediate(() => {
  logger.info("five, in the last turn");
  if (process.argv.includes("crash")) throw new Error("crash");
  process.exit(3);
});
`;
      let stderr = "";
      try {
        execFileSync(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script, "--", ending],
          {
            cwd: ROOT,
            encoding: "utf8",
            stdio: ["ignore", "ignore", "pipe"],
          },
        );
      } catch (err) {
        const exited = err as { status: number; stderr: string };
        expect(exited.status).toBe(ending === "crash" ? 1 : 3);
        stderr = exited.stderr;
      }
      // A crash: Node's report of the uncaught error comes after every line logged before it.
      const lastLine = stderr.indexOf("\n", stderr.indexOf("five, in the last turn"));
      const crashReport = stderr.slice(lastLine + 1);
      expect(crashReport.includes("Error: crash")).toBe(ending === "crash");
      const heads = stderr
        .slice(0, lastLine)
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("    at "))
        .map((line) => line.replace(/^\[[^\]]*: (\w+)\/MainProcess\] /, "$1 "));
      expect(heads).toEqual([
        "INFO one",
        "INFO two",
        "printed by a task",
        "WARNING three",
        "written to the stream",
        "ERROR four",
        "Error: boom",
        "INFO five, in the last turn",
      ]);
    },
  );
});
