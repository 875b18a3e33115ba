import { ConfigError } from "../errors.js";
import { humanizeSeconds, type SchedState, type Schedule, type ScheduleContext } from "./schedule.js";
import { atInstant, fields, plusWall, toInstant, wallOf, type ZonedDateTime } from "./zoned.js";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * celery/schedules.py `schedule` (5.7.0): run every `seconds`; with
 * `relative` the deadline is rounded down to the interval's resolution
 * (day, hour or minute) in the app's time zone, DST rules included
 * (celery/utils/time.py `remaining`, `delta_resolution`).
 */
export class IntervalSchedule implements Schedule {
  readonly kind = "interval";
  readonly seconds: number;
  readonly relative: boolean;

  constructor(seconds: number, relative = false) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds))
      throw new ConfigError(
        "schedule",
        `an interval must be a finite number of seconds (got ${String(seconds)})`,
      );
    this.seconds = seconds;
    this.relative = relative;
  }

  /** celery/schedules.py `schedule.seconds`: never negative. */
  private get runEverySeconds(): number {
    return Math.max(this.seconds, 0);
  }

  remainingEstimate(lastRunAt: number, now: number, ctx: ScheduleContext): number {
    const everyMs = Math.round(this.seconds * 1000);
    if (!this.relative) return lastRunAt + everyMs - now;
    return remainingRelative(atInstant(lastRunAt, ctx.zone), everyMs) - now;
  }

  isDue(lastRunAt: number, now: number, ctx: ScheduleContext): SchedState {
    const remaining = Math.max(this.remainingEstimate(lastRunAt, now, ctx) / 1000, 0);
    if (remaining === 0) {
      let next = this.runEverySeconds;
      if (this.relative) {
        // Realign to the next rounded clock boundary (celery/schedules.py schedule.is_due).
        next = this.remainingEstimate(now, now, ctx) / 1000;
        if (next <= 0) next = this.runEverySeconds;
      }
      return { isDue: true, next };
    }
    return { isDue: false, next: remaining };
  }

  equals(other: Schedule): boolean {
    return other instanceof IntervalSchedule && other.seconds === this.seconds;
  }

  toString(): string {
    return `<freq: ${humanizeSeconds(this.runEverySeconds)}>`;
  }
}

/** celery/utils/time.py `delta_resolution`: round down to the day, hour or minute. */
function deltaResolution(dt: ZonedDateTime, deltaMs: number): ZonedDateTime {
  const d = Math.max(deltaMs, 0);
  const f = fields(dt.wall);
  if (d / DAY >= 1) return { ...dt, wall: wallOf(f.year, f.month, f.day) };
  if (d / HOUR >= 1) return { ...dt, wall: wallOf(f.year, f.month, f.day, f.hour) };
  if (d / MINUTE >= 1) return { ...dt, wall: wallOf(f.year, f.month, f.day, f.hour, f.minute) };
  return dt;
}

/** celery/utils/time.py `_relative_end_dates`: both UTC occurrences of the rounded local deadline. */
function relativeEndDates(dt: ZonedDateTime, deltaMs: number): number[] {
  const rounded = deltaResolution(dt, deltaMs);
  const noMicros = { ...rounded, wall: rounded.wall - (((rounded.wall % 1000) + 1000) % 1000) };
  const out: number[] = [];
  for (const fold of [0, 1] as const) {
    let candidate: ZonedDateTime = { ...noMicros, fold };
    if (candidate.zone.instantsFor(candidate.wall).length === 0) {
      // dateutil.tz.resolve_imaginary: move forward by the size of the gap.
      const after = candidate.zone.offsetAt(candidate.wall + DAY);
      const before = candidate.zone.offsetAt(candidate.wall - DAY);
      const resolved = plusWall(candidate, after - before);
      if (resolved.wall > candidate.wall) candidate = resolved;
    }
    out.push(toInstant(candidate));
  }
  return out;
}

/** celery/utils/time.py `remaining(start, ends_in, relative=True)`: the deadline instant. */
function remainingRelative(start: ZonedDateTime, endsInMs: number): number {
  const startUtc = toInstant(start);
  // Day-resolution relative schedules advance by local calendar days.
  const endDate = endsInMs >= DAY ? plusWall(start, endsInMs) : atInstant(startUtc + endsInMs, start.zone);
  let candidates = relativeEndDates(endDate, endsInMs);
  if (endsInMs >= DAY) {
    const future = candidates.filter((t) => t > startUtc);
    return future.length > 0 ? Math.min(...future) : toInstant(endDate);
  }
  const endUtc = startUtc + endsInMs;
  let beforeEnd = candidates.filter((t) => t <= endUtc);
  let rounded = beforeEnd.length > 0 ? Math.max(...beforeEnd) : Math.min(...candidates);
  if (endsInMs >= MINUTE && rounded <= startUtc) {
    const unit = endsInMs >= HOUR ? HOUR : MINUTE;
    candidates = [
      ...candidates,
      ...relativeEndDates(plusWall(endDate, unit), endsInMs),
      ...relativeEndDates(plusWall(start, endsInMs), endsInMs),
    ];
    const future = candidates.filter((t) => t > startUtc);
    beforeEnd = future.filter((t) => t <= endUtc);
    rounded =
      beforeEnd.length > 0 ? Math.max(...beforeEnd) : future.length > 0 ? Math.min(...future) : endUtc;
  }
  return rounded;
}
