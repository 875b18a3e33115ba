/**
 * The table operations django-celery-beat 2.9's `DatabaseScheduler` does
 * (django_celery_beat/schedulers.py `DatabaseScheduler`, `ModelEntry.save`,
 * `ModelEntry._disable`), in its own words; what the rows mean as a schedule is
 * beat/django-store.ts's. Table and column names are django_celery_beat/models.py's.
 */
export interface DjangoBeatTables {
  /** The database URL with its password masked, for the beat banner. */
  readonly maskedUrl: string;
  /** `PeriodicTasks.last_change()`: `last_update` of the change marker row (ms), or null without one. */
  changeMarker(): Promise<number | null>;
  /** The enabled `PeriodicTask` rows, each joined with its interval, crontab, solar or clocked row. */
  enabledTasks(): Promise<PeriodicTaskRow[]>;
  /** `ModelEntry.save` after a run: `last_run_at`, `total_run_count` and `date_changed` of row `id`. */
  recordRun(id: string, runAt: number, totalRunCount: number): Promise<void>;
  /** `ModelEntry._disable`: row `id` disabled, its `last_run_at` cleared, its count reset if asked. */
  disable(id: string, resetCount: boolean): Promise<void>;
  /** `PeriodicTasks.update_changed()`: the change marker moves to now. */
  bumpChangeMarker(): Promise<void>;
  close(): Promise<void>;
}

/** One `django_celery_beat_periodictask` row with its schedule row's columns (null when absent). */
export interface PeriodicTaskRow {
  id: string;
  name: string;
  task: string;
  args: string | null;
  kwargs: string | null;
  queue: string | null;
  exchange: string | null;
  routing_key: string | null;
  headers: string | null;
  priority: number | null;
  expires: Date | null;
  expire_seconds: number | null;
  one_off: boolean;
  start_time: Date | null;
  enabled: boolean;
  last_run_at: Date | null;
  total_run_count: number;
  date_changed: Date | null;
  every: number | null;
  period: string | null;
  minute: string | null;
  hour: string | null;
  day_of_week: string | null;
  day_of_month: string | null;
  month_of_year: string | null;
  cron_tz: string | null;
  clocked_time: Date | null;
  solar_event: string | null;
  solar_lat: number | null;
  solar_lon: number | null;
}
