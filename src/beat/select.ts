import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logging.js";
import { DjangoBeatStore } from "./django-store.js";
import type { BeatEntry } from "./entry.js";
import { RedBeatScheduler } from "./redbeat.js";
import type { ScheduleContext } from "./schedule.js";
import { type BeatScheduler, HeapScheduler, type ScheduleStore, type SendEntry } from "./scheduler.js";
import { JsonFileStore, MemoryStore } from "./stores.js";

/**
 * Celery's `--scheduler` / `beat_scheduler`: a name to a scheduler factory.
 * Celery's dotted names are accepted beside short aliases so one settings
 * file can serve Python and TS. Add a scheduler by adding a factory here.
 */

/** Everything a scheduler factory gets. */
export interface SchedulerContext {
  readonly settings: Settings;
  /** The `beatSchedule` entries, checked. */
  readonly configured: readonly BeatEntry[];
  /**
   * Celery's `install_default_entries`: `celery.backend_cleanup` (daily at
   * 4:00, expires 12 h) when results expire and the backend cannot expire
   * them itself (none configured, or a database). Stores add them after the
   * configured entries, as PersistentScheduler and RedBeat do.
   */
  readonly defaults: readonly BeatEntry[];
  readonly send: SendEntry;
  readonly ctx: ScheduleContext;
  readonly log: Logger;
  /** `beatMaxLoopInterval` or `--max-interval`; 0 = the scheduler's default. */
  readonly maxInterval: number;
  readonly scheduleFilename: string;
  readonly now?: () => number;
}

export type SchedulerFactory = (c: SchedulerContext) => BeatScheduler;

/** Celery's heap scheduler over `store`. */
export function heapScheduler(c: SchedulerContext, store: ScheduleStore): BeatScheduler {
  return new HeapScheduler({
    store,
    configured: c.configured,
    send: c.send,
    ctx: c.ctx,
    log: c.log,
    maxInterval: c.maxInterval,
    syncEveryTasks: c.settings.beatSyncEvery,
    ...(c.now ? { now: c.now } : {}),
  });
}

/** The JSON file Celeriac's persistent scheduler keeps: Celery's filename with `.json` (Python's shelve file stays untouched). */
export function scheduleFilePath(filename: string): string {
  return filename.endsWith(".json") ? filename : `${filename}.json`;
}

const persistent: SchedulerFactory = (c) =>
  heapScheduler(
    { ...c, configured: withDefaults(c) },
    new JsonFileStore({
      path: scheduleFilePath(c.scheduleFilename),
      timezone: c.settings.timezone,
      enableUtc: c.settings.enableUtc,
      log: c.log,
    }),
  );
// celery/beat.py Scheduler.setup_schedule installs the defaults first and merge_inplace then drops them.
const memory: SchedulerFactory = (c) => heapScheduler(c, new MemoryStore());
const redbeat: SchedulerFactory = (c) =>
  new RedBeatScheduler({
    settings: c.settings,
    configured: c.configured,
    defaults: c.defaults.filter((d) => !c.configured.some((e) => e.name === d.name)),
    send: c.send,
    ctx: c.ctx,
    log: c.log,
    maxInterval: c.maxInterval,
    ...(c.now ? { now: c.now } : {}),
  });

// django_celery_beat.schedulers:DatabaseScheduler: the schedule lives in Django's tables.
const django: SchedulerFactory = (c) => {
  const databaseUrl = c.settings.databaseUrl;
  if (databaseUrl === null) {
    throw new ConfigError(
      "databaseUrl",
      "the django-celery-beat scheduler needs databaseUrl: the URL of Django's DATABASES['default'] (postgresql://user:password@host:port/dbname)",
    );
  }
  return heapScheduler(c, new DjangoBeatStore({ databaseUrl, log: c.log, ...(c.now ? { now: c.now } : {}) }));
};

function withDefaults(c: SchedulerContext): BeatEntry[] {
  return [...c.configured, ...c.defaults.filter((d) => !c.configured.some((e) => e.name === d.name))];
}

export const SCHEDULERS: Record<string, SchedulerFactory> = {
  "celery.beat:PersistentScheduler": persistent,
  "celery.beat.PersistentScheduler": persistent,
  persistent,
  "celery.beat:Scheduler": memory,
  "celery.beat.Scheduler": memory,
  memory,
  "redbeat.RedBeatScheduler": redbeat,
  "redbeat.schedulers:RedBeatScheduler": redbeat,
  "redbeat.schedulers.RedBeatScheduler": redbeat,
  redbeat,
  "django_celery_beat.schedulers:DatabaseScheduler": django,
  "django_celery_beat.schedulers.DatabaseScheduler": django,
  django,
};

/** The scheduler named `name`; a ConfigError listing the accepted names otherwise. */
export function schedulerFor(name: string, c: SchedulerContext): BeatScheduler {
  const factory = SCHEDULERS[name];
  if (!factory) {
    throw new ConfigError(
      "beatScheduler",
      `unknown beat scheduler ${JSON.stringify(name)}; accepted: ${Object.keys(SCHEDULERS).join(", ")}`,
    );
  }
  return factory(c);
}
