import { createDjangoBeatTables } from "../backends/beat-store-factory.js";
import type { DjangoBeatTables, PeriodicTaskRow } from "../backends/django-beat-tables.js";
import type { Logger } from "../logging.js";
import { CrontabSchedule } from "./crontab.js";
import type { BeatEntry } from "./entry.js";
import { IntervalSchedule } from "./interval.js";
import type { SchedState, Schedule, ScheduleContext } from "./schedule.js";
import type { ScheduleStore } from "./scheduler.js";
import { type SolarEvent, SolarSchedule } from "./solar.js";
import { Zone } from "./zoned.js";

/**
 * django-celery-beat 2.9's `DatabaseScheduler` tables as a {@link ScheduleStore}: the periodic
 * tasks Django's admin edits (`django_celery_beat_periodictask` with its interval, crontab, solar
 * and clocked schedule rows) are what a TS beat fires, and the run bookkeeping Django shows
 * (`last_run_at`, `total_run_count`) is written back. Mirrors django_celery_beat/schedulers.py
 * `ModelEntry` and `DatabaseScheduler`:
 *
 * - entries: enabled rows; `args`/`kwargs`/`headers` are JSON text; `queue`, `exchange`,
 *   `routing_key`, `priority`, `expires` (or `expire_seconds`) become send options and the
 *   `periodic_task_name` header is added (django-celery-results stores it);
 * - `last_run_at` defaults to `date_changed` (30 years earlier when `start_time` is set);
 * - re-read when `django_celery_beat_periodictasks.last_update` (the change marker every admin
 *   save bumps) moved, or every 5 minutes; the default max loop interval is 5 s;
 * - `is_due`: a disabled row waits 5 s; before `start_time` it waits; an expired row and a
 *   one-off row that ran are disabled (a one-off's count reset), as ModelEntry.is_due does;
 * - `reserve` writes `last_run_at`, `total_run_count` and `date_changed` at once (Celery's DatabaseScheduler saves them at its next sync; writing at once means a
 *   restart never fires an entry twice), without bumping the change marker, like `ModelEntry.save`.
 *
 * Not done: writing the app's own `beatSchedule` entries into the tables (`update_from_dict`: configure them in Django instead),
 * and the crontab hour prefilter of `enabled_models_qs` (an optimisation only).
 */
export interface DjangoBeatStoreOptions {
  /** Django's `DATABASES['default']` as a URL (the `databaseUrl` setting). */
  databaseUrl: string;
  log: Logger;
  now?: () => number;
  /** The tables (default: django-celery-beat's on `databaseUrl`). */
  tables?: DjangoBeatTables;
}

/** django_celery_beat/utils.py NEVER_CHECK_TIMEOUT. */
const NEVER_CHECK_TIMEOUT = 100_000_000;
/** django_celery_beat/schedulers.py SCHEDULE_SYNC_MAX_INTERVAL. */
const FULL_SYNC_MS = 300_000;

const PERIOD_SECONDS: Record<string, number> = {
  days: 86400,
  hours: 3600,
  minutes: 60,
  seconds: 1,
  microseconds: 1e-6,
};

/** What the store keeps about each entry's row (BeatEntry.storeData). */
interface RowData {
  id: string;
  oneOff: boolean;
  startTime: number | null;
  expires: number | null;
}

/** django-celery-beat's `TzAwareCrontab`: the row's own time zone instead of the app's. */
class ZonedSchedule implements Schedule {
  readonly kind: string;

  constructor(
    readonly inner: Schedule,
    readonly zone: Zone,
  ) {
    this.kind = inner.kind;
  }

  private ctx(ctx: ScheduleContext): ScheduleContext {
    return { ...ctx, zone: this.zone };
  }

  remainingEstimate(lastRunAt: number, now: number, ctx: ScheduleContext): number {
    return this.inner.remainingEstimate(lastRunAt, now, this.ctx(ctx));
  }

  isDue(lastRunAt: number, now: number, ctx: ScheduleContext): SchedState {
    return this.inner.isDue(lastRunAt, now, this.ctx(ctx));
  }

  equals(other: Schedule): boolean {
    return other instanceof ZonedSchedule && other.zone === this.zone && this.inner.equals(other.inner);
  }

  toString(): string {
    return this.inner.toString();
  }
}

/** django_celery_beat/clockedschedule.py `clocked`: once, at `clocked_time`. */
class ClockedSchedule implements Schedule {
  readonly kind = "clocked";

  constructor(readonly at: number) {}

  remainingEstimate(_lastRunAt: number, now: number): number {
    return this.at - now;
  }

  isDue(_lastRunAt: number, now: number): SchedState {
    const remaining = Math.max((this.at - now) / 1000, 0);
    return remaining === 0 ? { isDue: true, next: NEVER_CHECK_TIMEOUT } : { isDue: false, next: remaining };
  }

  equals(other: Schedule): boolean {
    return other instanceof ClockedSchedule && other.at === this.at;
  }

  toString(): string {
    return `<clocked: ${new Date(this.at).toISOString()}>`;
  }
}

export class DjangoBeatStore implements ScheduleStore {
  readonly info: string;
  readonly defaultMaxInterval = 5;
  readonly tables: DjangoBeatTables;
  private map: ReadonlyMap<string, BeatEntry> = new Map();
  private lastChange: number | null = null;
  private lastFullRead = 0;
  private readonly now: () => number;
  /** Rows to disable, from the synchronous `isDue` (written on the next entries/sync). */
  private readonly pendingDisable = new Map<string, { resetCount: boolean; markChanged: boolean }>();

  constructor(private readonly o: DjangoBeatStoreOptions) {
    this.tables = o.tables ?? createDjangoBeatTables(o.databaseUrl);
    this.info = `    . db -> ${this.tables.maskedUrl} (django-celery-beat DatabaseScheduler tables)`;
    this.now = o.now ?? Date.now;
  }

  async open(_configured: readonly BeatEntry[], _now: number): Promise<void> {
    if (_configured.length > 0) {
      this.o.log.warn(
        `beat: the django-celery-beat store reads its schedule from the database; ${_configured.length} beatSchedule entries are not written to it (create them in Django's admin)`,
      );
    }
    await this.read();
  }

  /** `all_as_schedule`: the enabled rows as entries. */
  private async read(): Promise<void> {
    await this.sync();
    this.lastChange = await this.tables.changeMarker();
    this.lastFullRead = this.now();
    const rows = await this.tables.enabledTasks();
    const map = new Map<string, BeatEntry>();
    for (const row of rows) {
      const entry = this.entryOf(row);
      if (entry) map.set(entry.name, entry);
    }
    this.map = map;
  }

  private scheduleOf(row: PeriodicTaskRow): Schedule | null {
    if (row.every !== null && row.period !== null) {
      const unit = PERIOD_SECONDS[row.period];
      if (unit === undefined) throw new Error(`unknown interval period ${JSON.stringify(row.period)}`);
      return new IntervalSchedule(row.every * unit);
    }
    if (row.minute !== null) {
      const cron = new CrontabSchedule({
        minute: row.minute,
        hour: row.hour ?? "*",
        dayOfWeek: row.day_of_week ?? "*",
        dayOfMonth: row.day_of_month ?? "*",
        monthOfYear: row.month_of_year ?? "*",
      });
      return new ZonedSchedule(cron, Zone.get(row.cron_tz || "UTC", "crontab timezone"));
    }
    if (row.solar_event !== null && row.solar_lat !== null && row.solar_lon !== null) {
      // django_celery_beat/models.py SolarSchedule.schedule (2.9.0): solar(event, latitude, longitude);
      // the columns are numeric(9, 6), exact as doubles.
      return new SolarSchedule(row.solar_event as SolarEvent, row.solar_lat, row.solar_lon);
    }
    if (row.clocked_time !== null) return new ClockedSchedule(row.clocked_time.getTime());
    return null;
  }

  /** `ModelEntry.__init__`; null (logged) for a row that cannot be an entry. */
  private entryOf(row: PeriodicTaskRow): BeatEntry | null {
    const where = `periodic task ${JSON.stringify(row.name)} (django_celery_beat_periodictask id ${row.id})`;
    let schedule: Schedule | null;
    try {
      schedule = this.scheduleOf(row);
    } catch (err) {
      this.o.log.error(`beat: skipping ${where}: bad schedule: ${(err as Error).message}`);
      return null;
    }
    if (schedule === null) {
      this.o.log.error(`beat: skipping ${where}: it has no schedule`);
      return null;
    }
    let args: unknown;
    let kwargs: unknown;
    let headers: unknown;
    try {
      args = JSON.parse(row.args || "[]");
      kwargs = JSON.parse(row.kwargs || "{}");
      headers = JSON.parse(row.headers || "{}");
      if (!Array.isArray(args)) throw new Error("args is not a JSON list");
      if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs))
        throw new Error("kwargs is not a JSON object");
      if (headers === null || typeof headers !== "object" || Array.isArray(headers))
        throw new Error("headers is not a JSON object");
    } catch (err) {
      // ModelEntry: "Removing schedule %s for argument deserialization error" and _disable(model).
      this.o.log.error(
        `beat: disabling ${where} for argument deserialization error: ${(err as Error).message}`,
      );
      this.pendingDisable.set(row.id, { resetCount: false, markChanged: false });
      return null;
    }
    const options: Record<string, unknown> = {};
    if (row.queue !== null) options.queue = row.queue;
    if (row.exchange !== null) options.exchange = row.exchange;
    if (row.routing_key !== null) options.routingKey = row.routing_key;
    if (row.priority !== null) options.priority = row.priority;
    if (row.expires !== null) options.expires = row.expires;
    else if (row.expire_seconds) options.expires = row.expire_seconds;
    options.headers = { ...(headers as Record<string, unknown>), periodic_task_name: row.name };
    let lastRunAt = row.last_run_at?.getTime() ?? row.date_changed?.getTime() ?? this.now();
    if (row.last_run_at === null && row.start_time !== null) lastRunAt -= 365 * 30 * 86400_000;
    const data: RowData = {
      id: row.id,
      oneOff: row.one_off,
      startTime: row.start_time?.getTime() ?? null,
      expires: row.expires?.getTime() ?? null,
    };
    return {
      name: row.name,
      task: row.task,
      schedule,
      args: args as unknown[],
      kwargs: kwargs as Record<string, unknown>,
      options,
      lastRunAt,
      totalRunCount: row.total_run_count,
      storeData: data,
    };
  }

  /** `DatabaseScheduler.schedule`: the same map until the change marker moves (or 5 minutes pass). */
  async entries(): Promise<ReadonlyMap<string, BeatEntry>> {
    if (this.pendingDisable.size > 0) await this.read();
    else if (this.now() - this.lastFullRead >= FULL_SYNC_MS) await this.read();
    else {
      const marker = await this.tables.changeMarker();
      if (marker !== null && (this.lastChange === null || marker > this.lastChange)) {
        this.o.log.info("beat: DatabaseScheduler: Schedule changed.");
        await this.read();
      }
    }
    return this.map;
  }

  /** `ModelEntry.is_due` before the schedule's own. */
  isDue(entry: BeatEntry, _lastRunAt: number, now: number): SchedState | undefined {
    const data = entry.storeData as RowData | undefined;
    if (!data) return undefined;
    if (data.startTime !== null && now < data.startTime) {
      return { isDue: false, next: Math.ceil((data.startTime - now) / 1000) };
    }
    if (data.expires !== null && now >= data.expires) {
      this.pendingDisable.set(data.id, { resetCount: false, markChanged: false });
      return { isDue: false, next: NEVER_CHECK_TIMEOUT };
    }
    if (data.oneOff && entry.totalRunCount > 0) {
      this.pendingDisable.set(data.id, { resetCount: true, markChanged: true });
      return { isDue: false, next: NEVER_CHECK_TIMEOUT };
    }
    return undefined;
  }

  /** `reserve` + `ModelEntry.save`: the run is recorded in the row before the task is sent. */
  async reserve(entry: BeatEntry, runAt: number): Promise<BeatEntry> {
    const next: BeatEntry = { ...entry, lastRunAt: runAt, totalRunCount: entry.totalRunCount + 1 };
    const data = entry.storeData as RowData | undefined;
    if (data) {
      await this.tables.recordRun(data.id, runAt, next.totalRunCount);
    }
    this.map = new Map(this.map).set(entry.name, next);
    return next;
  }

  /** Writes what `isDue` decided (`ModelEntry._disable`, the one-off reset). */
  async sync(): Promise<void> {
    for (const [id, how] of [...this.pendingDisable]) {
      this.pendingDisable.delete(id);
      // PeriodicTask.save(): a disabled task's last_run_at is cleared; the model's `no_changes`
      // attribute (not a column) decides whether the change marker moves.
      await this.tables.disable(id, how.resetCount);
      if (how.markChanged) await this.tables.bumpChangeMarker();
    }
  }

  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      await this.tables.close();
    }
  }
}
