import { Zone, type ZonedDateTime } from "./zoned.js";

/**
 * What a schedule is to the beat scheduler (celery/schedules.py
 * `BaseSchedule`, 5.7.0). Times are UTC instants in ms; each call gets the
 * evaluation context (the app's time zone, `beat_cron_starting_deadline`)
 * instead of a bound app, so one schedule object can serve several apps.
 *
 * Implement this to add a schedule type (django-celery-beat's `clocked`, a
 * store-specific wrapper that disables one-off entries, ...).
 */
export interface Schedule {
  /** "interval", "crontab", "solar", or a store's own kind. */
  readonly kind: string;
  /** `remaining_estimate(last_run_at)`: ms until the next run (negative when overdue). */
  remainingEstimate(lastRunAt: number, now: number, ctx: ScheduleContext): number;
  /** `is_due(last_run_at)`: run now?, and seconds until it should be checked again. */
  isDue(lastRunAt: number, now: number, ctx: ScheduleContext): SchedState;
  /** Same schedule (Celery's `__eq__`, used to notice edited entries). */
  equals(other: Schedule): boolean;
  /** Celery's repr, for logs (`<freq: 30.00 seconds>`, `<crontab: 0 4 * * * (m/h/dM/MY/d)>`). */
  toString(): string;
}

/** celery/schedules.py `schedstate`: `next` is in seconds. */
export interface SchedState {
  readonly isDue: boolean;
  readonly next: number;
}

/** What a schedule is evaluated against (the app's `timezone`/`enable_utc` settings and beat's). */
export interface ScheduleContext {
  /** The app's zone: `timezone` when set, else UTC with `enableUtc`, else the system zone. */
  readonly zone: Zone;
  /** `beat_cron_starting_deadline` in seconds, or null. */
  readonly cronStartingDeadline: number | null;
}

/** celery/app/base.py `Celery.timezone`. */
export function appZone(settings: { timezone: string | null; enableUtc: boolean }): Zone {
  if (settings.timezone) return Zone.get(settings.timezone);
  return settings.enableUtc ? Zone.get("UTC") : Zone.local();
}

/** celery/utils/time.py `humanize_seconds` (for log lines and reprs). */
export function humanizeSeconds(secs: number, prefix = "", now = "now"): string {
  const s = Number(secs.toFixed(2));
  const units: [string, number][] = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  for (const [unit, divider] of units) {
    if (s >= divider) {
      const w = s / divider;
      return `${prefix}${w.toFixed(2)} ${w === 1 ? unit : `${unit}s`}`;
    }
  }
  return now;
}

export type { ZonedDateTime };
