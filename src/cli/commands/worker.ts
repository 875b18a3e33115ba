import { closeSync, openSync } from "node:fs";
import type { WorkerOps } from "../../control/worker-ops.js";
import { createLogger, type LogLevel } from "../../logging.js";
import type { MetricsServer } from "../../metrics.js";
import { loadDependency, MissingDependencyError } from "../../optional-deps.js";
import { createWorker, workerOpsFactory } from "../../worker/app-hooks.js";
import type { WorkerOptions } from "../../worker/worker.js";
import { loadAppModule, requiredAppSource, TS_EXTENSION } from "../app.js";
import { type CommandSpec, flagOption, intOption, listOption, stringOption } from "../args.js";
import { BEAT_OPTIONS, embeddedBeat } from "../beat-options.js";
import type { CliContext, Command } from "../context.js";
import { CliError, EX_OK, usageError } from "../errors.js";
import { expandNodename } from "../nodename.js";
import { withPidfile } from "../pidfile.js";
import { observeWorkerMetrics } from "../worker-metrics.js";
import { closeQuietly, LOG_FORMAT_OPTION, logFormat, remoteCommandError } from "./shared.js";

/** Celery's `-l` names (celery/bin/base.py `LogLevel`) to pino levels. */
const LOG_LEVELS: Record<string, LogLevel> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  WARN: "warn",
  ERROR: "error",
  CRITICAL: "fatal",
  FATAL: "fatal",
};

const spec: CommandSpec = {
  name: "worker",
  summary: "Start worker instance.",
  usage: "",
  options: {
    hostname: {
      type: "string",
      short: "n",
      metavar: "NAME",
      help: "Node name (%h, %n, %d expand; default celery@%h).",
    },
    queues: {
      type: "string",
      short: "Q",
      metavar: "QUEUES",
      multiple: true,
      help: "Comma separated queue names to consume.",
    },
    "exclude-queues": {
      type: "string",
      short: "X",
      metavar: "QUEUES",
      multiple: true,
      help: "Queues not to consume.",
    },
    concurrency: {
      type: "string",
      short: "c",
      metavar: "N",
      help: "Tasks run at once (default 16 or worker_concurrency).",
    },
    pool: {
      type: "string",
      short: "P",
      metavar: "POOL",
      help: "async (default: handlers on the event loop) or process (prefork: every task in a child process).",
    },
    "max-tasks-per-child": {
      type: "string",
      metavar: "N",
      help: "Replace a pool child process after N tasks (worker_max_tasks_per_child).",
    },
    "max-memory-per-child": {
      type: "string",
      metavar: "KIB",
      help: "Replace a pool child process after a task leaves its peak RSS above KIB kilobytes.",
    },
    "prefetch-multiplier": {
      type: "string",
      metavar: "N",
      help: "Prefetch = concurrency × this (default 4).",
    },
    loglevel: {
      type: "string",
      short: "l",
      metavar: "LEVEL",
      help: "DEBUG, INFO, WARNING, ERROR, CRITICAL or FATAL.",
    },
    "log-format": LOG_FORMAT_OPTION,
    "task-events": {
      type: "boolean",
      short: "E",
      help: "Send task-related events (for monitors like Flower).",
    },
    "without-mingle": {
      type: "boolean",
      help: "Don't synchronize revoked ids with other workers at start-up.",
    },
    "without-gossip": { type: "boolean", help: "Accepted for Celery parity (a TS worker does not gossip)." },
    logfile: {
      type: "string",
      short: "f",
      metavar: "FILE",
      help: "Append the log to this file instead of stderr.",
    },
    pidfile: {
      type: "string",
      metavar: "FILE",
      help: "Write the worker's pid here; refuse to start if a running process holds it.",
    },
    "metrics-port": {
      type: "string",
      metavar: "PORT",
      help: "Serve Prometheus metrics on this port (GET /metrics).",
    },
    beat: { type: "boolean", short: "B", help: "Also run the beat periodic task scheduler in this process." },
    ...BEAT_OPTIONS,
    "metrics-host": {
      type: "string",
      metavar: "HOST",
      help: "Address the metrics server binds (default 0.0.0.0).",
    },
  },
};

export function logLevel(raw: string | undefined): LogLevel {
  if (raw === undefined) return "info";
  const level = LOG_LEVELS[raw.toUpperCase()];
  if (!level)
    throw usageError(
      `Invalid value for '-l' / '--loglevel': '${raw}' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL, FATAL.`,
    );
  return level;
}

/** `-P`: Celery's `prefork` is our `process` pool; Celery's other pools have no counterpart here. */
function poolOption(raw: string | undefined): WorkerOptions["pool"] {
  if (raw === undefined) return undefined;
  if (raw === "async") return "async";
  if (raw === "process" || raw === "prefork") return "process";
  throw usageError(`Invalid value for '-P' / '--pool': '${raw}' is not one of async, process, prefork.`);
}

/**
 * src/metrics.ts, imported only for `--metrics-port`: prom-client is an optional peer
 * dependency, so a worker without metrics starts without it.
 */
async function loadMetrics(): Promise<typeof import("../../metrics.js")> {
  const module = await import("../../metrics.js");
  try {
    loadDependency("prom-client", "--metrics-port");
  } catch (err) {
    if (!(err instanceof MissingDependencyError)) throw err;
    throw usageError(
      "--metrics-port needs the npm package prom-client (an optional peer dependency of celeriac); run `npm install prom-client`",
    );
  }
  return module;
}

/**
 * `npx celeriac worker` and `npm run` scripts: npm starts the bin through `sh -c`, and a SIGTERM
 * sent to npm kills that shell without reaching this process, which lives on re-parented to
 * init (seen with npm 11 and dash). So when npm started us (it sets `npm_command`), losing the
 * parent counts as the SIGTERM. Not done otherwise: `nohup celeriac worker &` must outlive its shell.
 */
function watchNpmParent(env: NodeJS.ProcessEnv, onParentGone: () => void): () => void {
  if (!env.npm_command) return () => {};
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onParentGone();
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** `celery worker`: load the app module, consume its queues until SIGINT/SIGTERM or remote shutdown. */
export const workerCommand: Command = {
  spec,
  run: (ctx: CliContext) => withPidfile(stringOption(ctx.values, "pidfile"), () => runWorker(ctx)),
};

async function runWorker(ctx: CliContext): Promise<number> {
  const v = ctx.values;
  const source = requiredAppSource(ctx.positionals, v, ctx.env);
  const level = logLevel(stringOption(v, "loglevel"));
  // The worker's logger reads its level, format and file from here (src/logging.ts).
  ctx.env.CELERIAC_LOG_LEVEL = level;
  ctx.env.CELERIAC_LOG_FORMAT = logFormat(stringOption(v, "log-format"));
  const logfile = stringOption(v, "logfile");
  if (logfile !== undefined) {
    try {
      closeSync(openSync(logfile, "a"));
    } catch (err) {
      throw usageError(`Invalid value for '-f' / '--logfile': ${(err as Error).message}`);
    }
    ctx.env.CELERIAC_LOG_FILE = logfile;
  }
  const concurrency = intOption(v, "concurrency");
  const prefetch = intOption(v, "prefetch-multiplier");
  const pool = poolOption(stringOption(v, "pool"));
  const maxTasksPerChild = intOption(v, "max-tasks-per-child");
  const maxMemoryPerChild = intOption(v, "max-memory-per-child");
  const metricsPort = intOption(v, "metrics-port");
  const metricsModule = metricsPort === undefined ? null : await loadMetrics();
  const app = await loadAppModule(source, ctx.env, ctx.tsx);
  const excluded = new Set(listOption(v, "exclude-queues") ?? []);
  const queues = (listOption(v, "queues") ?? [app.settings.taskDefaultQueue]).filter((q) => !excluded.has(q));
  if (queues.length === 0) throw usageError("No queues left to consume after --exclude-queues");
  // The CLI handles SIGINT/SIGTERM below (it also closes the app and its metrics server).
  const options: WorkerOptions = {
    queues,
    hostname: expandNodename(stringOption(v, "hostname")),
    handleSignals: false,
  };
  if (concurrency !== undefined) options.concurrency = concurrency;
  if (prefetch !== undefined) options.prefetchMultiplier = prefetch;
  if (pool !== undefined) options.pool = pool;
  if (maxTasksPerChild !== undefined) options.maxTasksPerChild = maxTasksPerChild;
  if (maxMemoryPerChild !== undefined) options.maxMemoryPerChild = maxMemoryPerChild;
  if (flagOption(v, "task-events")) options.taskEvents = true;
  if (flagOption(v, "without-mingle")) options.withoutMingle = true;
  if (TS_EXTENSION.test(source.appModule) && (await ctx.tsx())) {
    options.threadExecArgv = ["--import", "tsx"];
    options.processExecArgv = ["--import", "tsx"];
  }

  const metrics =
    metricsModule === null ? null : new metricsModule.WorkerMetrics({ hostname: options.hostname as string });
  let server: MetricsServer | null = null;
  // The worker's own WorkerOps (events, pidbox, mingle), kept in hand so the metrics gauges can read it.
  let ops: WorkerOps | null = null;
  const baseOps = metrics === null ? undefined : workerOpsFactory(app, options);
  const worker = createWorker(app, options, baseOps ? { ops: (w) => (ops = baseOps(w)) } : {});
  if (metrics !== null) observeWorkerMetrics(worker, metrics, () => ops);
  const log = createLogger({ level, format: logFormat(stringOption(v, "log-format")) });
  if (metricsModule !== null && metrics !== null && metricsPort !== undefined) {
    try {
      server = await metricsModule.serveMetrics(
        metrics,
        metricsPort,
        stringOption(v, "metrics-host") ?? "0.0.0.0",
      );
    } catch (err) {
      await closeQuietly(app);
      throw new CliError(`Cannot serve metrics on port ${metricsPort}: ${(err as Error).message}`);
    }
    log.info(`Metrics at http://${stringOption(v, "metrics-host") ?? "0.0.0.0"}:${server.port}/metrics`);
  }

  const beat = flagOption(v, "beat") ? embeddedBeat(app, v, log) : null;
  try {
    await worker.start();
  } catch (err) {
    await server?.close();
    await closeQuietly(app);
    throw remoteCommandError("worker", err);
  }
  beat?.start();
  // Celery: first SIGINT/SIGTERM = warm shutdown (wait for running tasks), a second one = cold.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.warn(`worker: Warm shutdown (${signal === "SIGINT" ? "MainProcess" : signal})`);
      void worker.close();
    } else {
      log.warn("worker: Cold shutdown (MainProcess)");
      void worker.close({ timeoutMs: 0 });
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const stopWatching = watchNpmParent(ctx.env, () => onSignal("SIGTERM"));
  await worker.closed;
  await beat?.stop();
  stopWatching();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await server?.close();
  await closeQuietly(app);
  // The broker gone for good: Celery's worker exits with EX_FAILURE (1) so a supervisor restarts it.
  return worker.failure === null ? EX_OK : 1;
}
