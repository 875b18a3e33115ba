import type { Celery } from "../app.js";
import type { BeatOptions } from "../beat/index.js";
import type { Logger } from "../logging.js";
import { type CommandSpec, numberOption, type OptionValues, stringOption } from "./args.js";
import { usageError } from "./errors.js";

/** `celery beat`'s scheduler options, shared with `celeriac worker -B` (celery/bin/beat.py, celery/bin/worker.py). */
export const BEAT_OPTIONS: CommandSpec["options"] = {
  schedule: {
    type: "string",
    short: "s",
    metavar: "FILE",
    help: "Schedule file of the persistent scheduler (default beat_schedule_filename + .json).",
  },
  scheduler: {
    type: "string",
    short: "S",
    metavar: "SCHEDULER",
    help: "celery.beat:PersistentScheduler (default), celery.beat:Scheduler, redbeat.RedBeatScheduler.",
  },
  "max-interval": {
    type: "string",
    metavar: "SECONDS",
    help: "Max seconds to sleep between schedule iterations (default beat_max_loop_interval).",
  },
};

/** The Beat options `-S`, `-s` and `--max-interval` ask for. */
export function beatOptions(values: OptionValues, log: Logger): BeatOptions {
  const options: BeatOptions = { log };
  const scheduler = stringOption(values, "scheduler");
  const schedule = stringOption(values, "schedule");
  const maxInterval = numberOption(values, "max-interval");
  if (scheduler !== undefined) options.scheduler = scheduler;
  if (schedule !== undefined) options.scheduleFilename = schedule;
  if (maxInterval !== undefined) {
    if (maxInterval <= 0) throw usageError(`Invalid value for '--max-interval': ${maxInterval} is not > 0.`);
    options.maxInterval = maxInterval;
  }
  return options;
}

/**
 * `celeriac worker -B`: beat in the worker's process, stopped with it
 * (Celery's EmbeddedService). Built at once, so a bad schedule stops the
 * worker from starting; `start()` once the worker runs.
 */
export function embeddedBeat(
  app: Celery,
  values: OptionValues,
  log: Logger,
): { start(): void; stop(): Promise<void> } {
  const beat = app.beat(beatOptions(values, log));
  let running: Promise<void> | null = null;
  return {
    start() {
      running = beat.start().catch((err: unknown) => {
        log.error({ err }, `beat: ${(err as Error).message}`);
      });
    },
    async stop() {
      await beat.stop();
      await running;
    },
  };
}
