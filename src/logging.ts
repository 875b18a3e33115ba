import { openSync, writeSync } from "node:fs";
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";
import { ConfigError } from "./errors.js";
import { redactUrl } from "./redact.js";

/**
 * Logger factory. Lines look like Celery's worker log by default:
 *
 *     [2026-11-24 08:08:25,174: INFO/MainProcess] Task ts.add[5f1c…] succeeded in 0.0012s: 5
 *
 * and are pino JSON objects with `format: "json"`. Credentials never reach a
 * line: URL passwords are masked and fields named like secrets are redacted.
 */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface LoggerOptions {
  /** Minimum level, default `"info"` (or `CELERIAC_LOG_LEVEL`). */
  level?: LogLevel;
  /**
   * `"text"` (Celery-like lines, default) or `"json"` (one pino object per line, with the
   * structured fields of {@link TASK_LOG_FIELDS}); default `CELERIAC_LOG_FORMAT`.
   */
  format?: "text" | "json";
  /** Where lines go; default stderr (where Celery's worker logs too), or `file`. */
  destination?: { write(line: string): unknown };
  /**
   * Append lines to this file instead of stderr (the CLI's `--logfile`); default
   * `CELERIAC_LOG_FILE`. Ignored when `destination` is given.
   */
  file?: string;
  /** Process label in text lines, Celery's `%(processName)s`; default `MainProcess`. */
  processName?: string;
}

/** One log call: pino's `(fields, message)` or `(message)`. */
export interface LogMethod {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What Celeriac logs through: a pino logger (what {@link createLogger} returns) or anything
 * with pino's call shape (`logger.info({ task_id }, "message")`), passed as
 * `new Celery({ logger })` or `app.worker({ logger })`.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
}

const LOGGER_METHODS = ["debug", "info", "warn", "error", "fatal"] as const;

/** A given logger, checked for pino's methods (a ConfigError naming `logger` otherwise). */
export function checkLogger(logger: unknown): Logger {
  const missing = LOGGER_METHODS.filter(
    (m) => typeof (logger as Record<string, unknown> | null)?.[m] !== "function",
  );
  if (missing.length > 0) {
    throw new ConfigError(
      "logger",
      `logger must have pino's methods ${LOGGER_METHODS.join(", ")} (a pino logger works); missing: ${missing.join(", ")}`,
    );
  }
  return logger as Logger;
}

/**
 * Fields task log records carry (the JSON format keeps them; text lines, which are Celery's
 * exact wording, leave them out): `task_id`, `task_name`, `state` (SUCCESS, FAILURE, RETRY,
 * REVOKED), `runtime` (seconds), `retries`, and the worker `hostname`.
 */
export const TASK_LOG_FIELDS = ["task_id", "task_name", "state", "runtime", "retries", "hostname"] as const;

/** Secret-looking keys, at the top level and one level down, masked in every line. */
const REDACT_PATHS = ["password", "pass", "secret", "token", "*.password", "*.secret", "*.token", "*.pass"];

export { redactUrl };

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARNING",
  50: "ERROR",
  60: "CRITICAL",
};

/** The last second {@link asctime} formatted, and its text up to the comma. */
let asctimeSecond = Number.NaN;
let asctimeSecondText = "";

/**
 * Celery's `%(asctime)s` is `YYYY-MM-DD HH:MM:SS,mmm` in local time. A worker logs two lines per
 * task, thousands in one second: the text up to the seconds is formatted once per second.
 */
function asctime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== asctimeSecond) {
    const d = new Date(ms);
    const p = (n: number) => String(n).padStart(2, "0");
    asctimeSecondText = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    asctimeSecond = second;
  }
  return `${asctimeSecondText},${String(ms - second * 1000).padStart(3, "0")}`;
}

const RESERVED = new Set<string>(["level", "time", "msg", "pid", "name", ...TASK_LOG_FIELDS]);
/** Top-level keys the text fast path masks itself: REDACT_PATHS without the nested `*.` ones. */
const SECRET_KEYS = new Set(REDACT_PATHS.filter((p) => !p.startsWith("*.")));

/** One Celery-style text line from a record's level, time, message and fields. */
function textLine(
  levelValue: number,
  time: number,
  msg: string,
  fields: Record<string, unknown> | undefined,
  processName: string,
): string {
  const level = LEVEL_NAMES[levelValue] ?? String(levelValue);
  let extras = "";
  let stack = "";
  for (const k in fields) {
    const v = fields[k];
    if (RESERVED.has(k) || v === undefined) continue;
    if (
      k === "err" &&
      typeof v === "object" &&
      v !== null &&
      typeof (v as { stack?: unknown }).stack === "string"
    ) {
      stack = `\n${(v as { stack: string }).stack}`;
      continue;
    }
    extras += ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
  }
  return redactUrl(`[${asctime(time)}: ${level}/${processName}] ${msg}${extras}${stack}\n`);
}

/**
 * Turns pino's JSON lines into Celery-style text lines (extra fields appended as `key=value`).
 * Exported for the test that holds the fast path to it.
 */
export function textDestination(
  out: { write(line: string): unknown },
  processName: string,
): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(redactUrl(line));
        return;
      }
      const time = typeof record.time === "number" ? record.time : Date.now();
      const msg = typeof record.msg === "string" ? record.msg : "";
      out.write(textLine(Number(record.level), time, msg, record, processName));
    },
  };
}

/**
 * The text format's fast path, as pino's `logMethod` hook: a call of the shape the worker makes
 * for every task (`info({ task_id, ... }, "Task x[id] received")`: flat string, number or boolean
 * fields, one message, a root logger) is formatted here straight into its line, which is what
 * pino's JSON through `textDestination` gives, without building and re-parsing the JSON (two
 * lines per task cost ~14 us that way, more than a tenth of a task's CPU in the worker). Any
 * other call (printf arguments, an Error, nested objects, `err`, child bindings, secret keys
 * nested) takes pino's path unchanged, so redaction and serializers stay pino's.
 */
function textFastPath(out: { write(line: string): unknown }, processName: string) {
  return function logMethod(
    this: PinoLogger,
    args: unknown[],
    method: (...a: unknown[]) => void,
    level: number,
  ) {
    const line = args.length <= 2 ? directLine(this, args[0], args[1], level, processName) : undefined;
    if (line === undefined) method.apply(this, args);
    else out.write(line);
  };
}

function directLine(
  logger: PinoLogger,
  first: unknown,
  second: unknown,
  level: number,
  processName: string,
): string | undefined {
  if ((logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym] !== "") return undefined;
  if (typeof first === "string")
    return second === undefined ? textLine(level, Date.now(), first, undefined, processName) : undefined;
  if (typeof first !== "object" || first === null || Object.getPrototypeOf(first) !== Object.prototype)
    return undefined;
  if (second !== undefined && typeof second !== "string") return undefined;
  const fields = first as Record<string, unknown>;
  for (const k in fields) {
    const v = fields[k];
    if (v !== null && typeof v === "object") return undefined;
    if (typeof v === "bigint" || typeof v === "function" || typeof v === "symbol") return undefined;
    if (SECRET_KEYS.has(k) || (RESERVED.has(k) && !TASK_FIELDS.has(k))) return undefined;
  }
  return textLine(level, Date.now(), second ?? "", fields, processName);
}

const TASK_FIELDS = new Set<string>(TASK_LOG_FIELDS);

/** A place lines go: stderr, a log file, or the caller's own destination. */
interface LineSink {
  write(line: string): unknown;
}

/** One append-mode descriptor per log file, shared by every logger that writes there. */
const logFiles = new Map<string, LineSink>();

function fileDestination(path: string): LineSink {
  let out = logFiles.get(path);
  if (out === undefined) {
    const fd = openSync(path, "a");
    // Synchronous writes, the waiting ones flushed on exit: the last lines before an exit (a fatal
    // error, a shutdown) are not lost.
    out = turnBatched({ write: (line: string) => writeSync(fd, line) });
    logFiles.set(path, out);
  }
  return out;
}

/** Past this many buffered characters the lines are written at once instead of at the turn's end. */
const BATCH_FLUSH_CHARS = 64 * 1024;

let stderrSink: LineSink | undefined;

/**
 * stderr as lines batched per event-loop turn: the worker logs two lines per task (received,
 * succeeded), and one write(2) per line was ~6 % of a task's CPU; lines logged in one turn now
 * leave in one write, at the turn's end (setImmediate), on exit, or once 64 KiB are waiting.
 * Whatever else writes to `process.stderr` (console.error in a task, the CLI) first writes the
 * waiting lines, so the stream's order is the order things were logged and printed in.
 */
function stderrDestination(): LineSink {
  if (stderrSink === undefined) {
    const stream = process.stderr;
    const streamWrite = stream.write;
    const sink = turnBatched({ write: (text: string) => streamWrite.call(stream, text) });
    stream.write = function writeAfterLogLines(this: typeof stream, ...args: unknown[]) {
      sink.flush();
      return (streamWrite as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof stream.write;
    stderrSink = sink;
  }
  return stderrSink;
}

/** Every batched destination, for {@link flushLogLines}. */
const batchedSinks = new Set<{ flush(): void }>();

/**
 * Writes the log lines still waiting for their turn's end, now. For a process about to end
 * without Node's `exit` event (a signal raised again after a worker's shutdown).
 */
export function flushLogLines(): void {
  for (const sink of batchedSinks) sink.flush();
}

/** `out` with lines gathered until the turn ends (see {@link stderrDestination}). */
function turnBatched(out: LineSink): LineSink & { flush(): void } {
  let pending = "";
  let scheduled = false;
  const flush = () => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    out.write(text);
  };
  process.on("exit", flush);
  // Before Node prints an uncaught exception, so the lines logged before it come first.
  process.on("uncaughtExceptionMonitor", flush);
  const sink = {
    flush,
    write(line: string) {
      pending += line;
      if (pending.length >= BATCH_FLUSH_CHARS) flush();
      else if (!scheduled) {
        // One turn-end write at a time; lines flushed early meanwhile leave it nothing to do.
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    },
  };
  batchedSinks.add(sink);
  return sink;
}

export function createLogger(options: LoggerOptions = {}): PinoLogger {
  const level = options.level ?? (process.env.CELERIAC_LOG_LEVEL as LogLevel | undefined) ?? "info";
  const format = options.format ?? (process.env.CELERIAC_LOG_FORMAT === "json" ? "json" : "text");
  const file = options.file ?? (process.env.CELERIAC_LOG_FILE || undefined);
  const out = options.destination ?? (file !== undefined ? fileDestination(file) : stderrDestination());
  const redactingOut: DestinationStream = { write: (line: string) => out.write(redactUrl(line)) };
  const processName = options.processName ?? "MainProcess";
  const destination = format === "json" ? redactingOut : textDestination(out, processName);
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: "***" },
      ...(format === "text" && { hooks: { logMethod: textFastPath(out, processName) } }),
    },
    destination,
  );
}
