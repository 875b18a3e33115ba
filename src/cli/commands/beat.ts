import type { Celery } from "../../app.js";
import type { Beat } from "../../beat/index.js";
import { createLogger } from "../../logging.js";
import { loadAppModule, requiredAppSource } from "../app.js";
import { type CommandSpec, stringOption } from "../args.js";
import { BEAT_OPTIONS, beatOptions } from "../beat-options.js";
import type { CliContext, Command } from "../context.js";
import { EX_OK } from "../errors.js";
import { withPidfile } from "../pidfile.js";
import { closeQuietly, LOG_FORMAT_OPTION, logFormat, remoteCommandError } from "./shared.js";
import { logLevel } from "./worker.js";

const spec: CommandSpec = {
  name: "beat",
  summary: "Start the beat periodic task scheduler.",
  usage: "",
  options: {
    ...BEAT_OPTIONS,
    loglevel: {
      type: "string",
      short: "l",
      metavar: "LEVEL",
      help: "DEBUG, INFO, WARNING, ERROR, CRITICAL or FATAL.",
    },
    pidfile: {
      type: "string",
      metavar: "FILE",
      help: "Write beat's pid here; refuse to start if a running process holds it.",
    },
    "log-format": LOG_FORMAT_OPTION,
  },
};

/** `celery beat` (celery/apps/beat.py Beat.run): one line per setting, then tick until SIGINT/SIGTERM. */
function banner(app: Celery, beat: Beat): string {
  const s = app.settings;
  return [
    "LocalTime -> celeriac beat",
    "Configuration ->",
    `    . broker -> ${s.broker.replace(/\/\/[^@/]*@/, "//***@")}`,
    `    . scheduler -> ${beat.schedulerName}`,
    beat.scheduler.info,
    `    . maxinterval -> ${beat.scheduler.maxInterval}s`,
  ].join("\n");
}

export const beatCommand: Command = {
  spec,
  run: (ctx: CliContext) => withPidfile(stringOption(ctx.values, "pidfile"), () => runBeat(ctx)),
};

async function runBeat(ctx: CliContext): Promise<number> {
  const v = ctx.values;
  const source = requiredAppSource(ctx.positionals, v, ctx.env);
  const level = logLevel(stringOption(v, "loglevel"));
  ctx.env.CELERIAC_LOG_LEVEL = level;
  const format = logFormat(stringOption(v, "log-format"));
  ctx.env.CELERIAC_LOG_FORMAT = format;
  const log = createLogger({ level, format });
  const app = await loadAppModule(source, ctx.env, ctx.tsx);
  let beat: Beat;
  try {
    beat = app.beat(beatOptions(v, log));
  } catch (err) {
    await closeQuietly(app);
    throw err;
  }
  ctx.err(banner(app, beat));
  const onSignal = () => void beat.stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await beat.start();
  } catch (err) {
    throw remoteCommandError("beat", err);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await closeQuietly(app);
  }
  return EX_OK;
}
