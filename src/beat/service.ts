import type { PublishOptions } from "../canvas/options.js";
import type { Settings } from "../config.js";
import { createLogger, type Logger } from "../logging.js";
import { CrontabSchedule } from "./crontab.js";
import { type BeatEntry, entriesFromSettings } from "./entry.js";
import { appZone, humanizeSeconds, type ScheduleContext } from "./schedule.js";
import type { BeatScheduler, SendEntry } from "./scheduler.js";
import { schedulerFor } from "./select.js";
import { isoformat, type Zone } from "./zoned.js";

/** What beat needs from the app (the `Celery` facade satisfies it). */
export interface BeatHost {
  readonly settings: Settings;
  publishTask(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options?: PublishOptions,
  ): Promise<{ id: string }>;
}

export interface BeatOptions {
  /**
   * Celery's `--scheduler`: a name (default the `beatScheduler` setting:
   * "celery.beat:PersistentScheduler" / "persistent", "celery.beat:Scheduler" /
   * "memory", "redbeat.RedBeatScheduler" / "redbeat", ...) or a scheduler object.
   */
  scheduler?: string | BeatScheduler;
  /** `--max-interval`, seconds (default `beatMaxLoopInterval`, then the scheduler's own). */
  maxInterval?: number;
  /** `--schedule`: the persistent scheduler's file (default `beatScheduleFilename`). */
  scheduleFilename?: string;
  log?: Logger;
  /** Clock (UTC ms); tests pass their own. */
  now?: () => number;
}

/**
 * celery/beat.py `send_task` as `Scheduler.apply_async` calls it (5.7.0): the
 * entry's options plus the `celery_beat_task: True` header Celery 5.7's beat
 * adds to every task it sends.
 */
export function entrySender(host: BeatHost, zone: Zone, now: () => number = Date.now): SendEntry {
  return async (entry: BeatEntry) => {
    const { expires, countdown, ...rest } = entry.options;
    const options: PublishOptions = {
      ...rest,
      headers: { ...(entry.options.headers ?? {}), celery_beat_task: true },
      // _evaluate_entry_args hands send_task a list, so argsrepr is a list repr.
      argsReprStyle: "list",
    };
    // celery/app/base.py send_task: seconds become `app.now() + seconds`, written in the app's zone.
    const sentAt = now();
    if (typeof expires === "number") {
      options.expiresIso = isoformat(sentAt + expires * 1000, zone);
      options.expiresSeconds = expires; // send_task passes the seconds on as `expiration`
    } else if (expires !== undefined) options.expires = expires;
    if (countdown !== undefined) options.etaIso = isoformat(sentAt + countdown * 1000, zone);
    const result = await host.publishTask(entry.task, entry.args, { ...entry.kwargs }, options);
    return result.id;
  };
}

/**
 * celery/beat.py `Scheduler.install_default_entries`: `celery.backend_cleanup`
 * when results expire and the backend cannot expire them itself
 * (`supports_autoexpire`: Redis and rpc:// can; none configured or a database cannot).
 */
export function defaultEntries(settings: Settings): BeatEntry[] {
  const autoexpire =
    settings.backend !== null &&
    /^(redis|rediss|socket|redis\+socket|unix|rpc|rpcs):/i.test(settings.backend);
  if (!settings.resultExpires || autoexpire) return [];
  return [
    {
      name: "celery.backend_cleanup",
      task: "celery.backend_cleanup",
      schedule: new CrontabSchedule({ minute: "0", hour: "4", dayOfWeek: "*" }),
      args: [],
      kwargs: {},
      options: { expires: 12 * 3600 },
      lastRunAt: null,
      totalRunCount: 0,
    },
  ];
}

/**
 * celery/beat.py `Service`: ticks the scheduler until stopped. `start()`
 * resolves once beat has stopped; `stop()` (or SIGTERM in the CLI) lets the
 * tick in progress finish its publish, syncs the store and releases locks.
 */
export class Beat {
  readonly scheduler: BeatScheduler;
  /** The scheduler's name as selected (`custom` for an object passed in). */
  readonly schedulerName: string;
  readonly log: Logger;
  private stopping = false;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;

  constructor(host: BeatHost, options: BeatOptions = {}) {
    const settings = host.settings;
    this.log = options.log ?? createLogger();
    const configured = entriesFromSettings(settings.beatSchedule as Record<string, unknown>);
    const defaults = defaultEntries(settings);
    const ctx: ScheduleContext = {
      zone: appZone(settings),
      cronStartingDeadline: settings.beatCronStartingDeadline,
    };
    const maxInterval = options.maxInterval ?? settings.beatMaxLoopInterval;
    this.schedulerName =
      typeof options.scheduler === "object" ? "custom" : (options.scheduler ?? settings.beatScheduler);
    this.scheduler =
      typeof options.scheduler === "object"
        ? options.scheduler
        : schedulerFor(options.scheduler ?? settings.beatScheduler, {
            settings,
            configured,
            defaults,
            send: entrySender(host, ctx.zone, options.now),
            ctx,
            log: this.log,
            maxInterval,
            scheduleFilename: options.scheduleFilename ?? settings.beatScheduleFilename,
            ...(options.now ? { now: options.now } : {}),
          });
  }

  /** Runs until {@link stop}; rejects if the scheduler cannot be set up (bad store, unreachable Redis). */
  start(): Promise<void> {
    if (this.running === null) this.running = this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    this.log.info("beat: Starting...");
    try {
      await this.scheduler.setup();
      this.log.debug(`beat: Ticking with max interval->${humanizeSeconds(this.scheduler.maxInterval)}`);
      while (!this.stopping) {
        const interval = await this.scheduler.tick();
        if (this.stopping) break;
        if (interval > 0) {
          this.log.debug(`beat: Waking up ${humanizeSeconds(interval, "in ")}.`);
          await this.sleep(interval);
          if (!this.stopping) await this.scheduler.maybeSync();
        } else {
          // Celery loops again at once; let timers and sockets run in between.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      // Persist the schedule first: the state worth keeping (celery/beat.py Service.start).
      await this.scheduler.close();
      this.log.info("beat: Stopped.");
    }
  }

  private sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, seconds * 1000));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  /** Graceful stop: the current tick finishes (a publish in flight completes), then sync and close. */
  async stop(): Promise<void> {
    if (!this.stopping) this.log.info("beat: Shutting down...");
    this.stopping = true;
    this.wake?.();
    if (this.running) await this.running.catch(() => {});
  }
}
