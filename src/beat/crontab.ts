import { type CronField, CrontabParseError, expandCronspec } from "./crontab-parser.js";
import type { SchedState, Schedule, ScheduleContext } from "./schedule.js";
import { atInstant, dayExists, daysInMonth, fields, toInstant, wallOf, type ZonedDateTime } from "./zoned.js";

export type { CronField } from "./crontab-parser.js";
export { CrontabParseError } from "./crontab-parser.js";

/** celery/schedules.py `CRON_DAYS_IN_MONTH`: the longest February. */
const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The five fields, each as Celery takes it (default `"*"`). */
export interface CrontabFields {
  minute?: CronField;
  hour?: CronField;
  dayOfWeek?: CronField;
  dayOfMonth?: CronField;
  monthOfYear?: CronField;
}

/** What `ffwd` (celery/utils/time.py) replaces on the last-run wall clock. */
interface Ffwd {
  year?: number;
  month?: number;
  day?: number;
  hour?: number;
  minute: number;
  weeks?: number;
  /** Python weekday (Monday = 0). */
  weekday?: number;
}

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
const maxOf = (s: Set<number>) => Math.max(...s);
const minOf = (s: Set<number>) => Math.min(...s);

/** `bisect.bisect_right` / `bisect_left` on a sorted list. */
function bisect(list: number[], x: number, left = false): number {
  let i = 0;
  while (i < list.length && ((list[i] as number) < x || (!left && list[i] === x))) i++;
  return i;
}

/**
 * celery/schedules.py `crontab` (5.7.0): Celery's own next-run rules, not
 * cron(8)'s. Day of week, day of month and month must all match (cron ORs
 * day of week with day of month); the next run is computed from the last
 * run's wall clock in the app's zone (`remaining_delta`), so DST gaps and
 * repeats behave as in Celery; `beat_cron_starting_deadline` is honoured.
 */
export class CrontabSchedule implements Schedule {
  readonly kind = "crontab";
  readonly minute: Set<number>;
  readonly hour: Set<number>;
  readonly dayOfWeek: Set<number>;
  readonly dayOfMonth: Set<number>;
  readonly monthOfYear: Set<number>;
  /** The fields as given (Celery's `_orig_*`), for reprs and stores. */
  readonly orig: Required<CrontabFields>;

  /** Throws {@link CrontabParseError} naming the field and Celery's reason. */
  constructor(spec: CrontabFields = {}) {
    this.orig = {
      minute: spec.minute ?? "*",
      hour: spec.hour ?? "*",
      dayOfWeek: spec.dayOfWeek ?? "*",
      dayOfMonth: spec.dayOfMonth ?? "*",
      monthOfYear: spec.monthOfYear ?? "*",
    };
    const field = (name: string, value: CronField, max: number, min = 0) => {
      try {
        return expandCronspec(value, max, min);
      } catch (err) {
        throw new CrontabParseError(`${name} ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    };
    this.hour = field("hour", this.orig.hour, 24);
    this.minute = field("minute", this.orig.minute, 60);
    this.dayOfWeek = field("day_of_week", this.orig.dayOfWeek, 7);
    this.dayOfMonth = field("day_of_month", this.orig.dayOfMonth, 31, 1);
    this.monthOfYear = field("month_of_year", this.orig.monthOfYear, 12, 1);
    for (const [name, set] of [
      ["hour", this.hour],
      ["minute", this.minute],
      ["day_of_week", this.dayOfWeek],
      ["day_of_month", this.dayOfMonth],
      ["month_of_year", this.monthOfYear],
    ] as const) {
      // Python raises on min()/max() of an empty set when the schedule is first used.
      if (set.size === 0)
        throw new CrontabParseError(`${name} ${JSON.stringify(this.orig)}: selects no value`);
    }
    const possible = [...this.monthOfYear].some((m) =>
      [...this.dayOfMonth].some((d) => d <= (MAX_DAYS[m] ?? 0)),
    );
    if (!possible) {
      throw new CrontabParseError(
        `Invalid crontab: day_of_month ${pyRepr(this.orig.dayOfMonth)} never occurs in month_of_year ${pyRepr(this.orig.monthOfYear)}.`,
      );
    }
  }

  /** celery/schedules.py `crontab.from_string`: "minute hour day_of_month month_of_year day_of_week". */
  static fromString(text: string): CrontabSchedule {
    const parts = text.split(" ");
    if (parts.length !== 5) {
      throw new CrontabParseError(
        `crontab string ${JSON.stringify(text)} must have exactly 5 fields separated by single spaces (minute hour day_of_month month_of_year day_of_week), got ${parts.length}`,
      );
    }
    const [minute, hour, dayOfMonth, monthOfYear, dayOfWeek] = parts as [
      string,
      string,
      string,
      string,
      string,
    ];
    return new CrontabSchedule({ minute, hour, dayOfMonth, monthOfYear, dayOfWeek });
  }

  /** celery/schedules.py `crontab._delta_to_next`: the next allowed day when day of month / month are limited. */
  private deltaToNext(last: ZonedDateTime, nextHour: number, nextMinute: number): Ffwd {
    const lf = fields(last.wall);
    const days = sorted(this.dayOfMonth);
    const months = sorted(this.monthOfYear);
    let year = lf.year;
    let dom: number;
    let moy: number;
    const monthAt = () => months[moy] as number;
    const dayAt = () => days[dom] as number;
    // Same tzinfo on both sides: Python compares the wall clocks.
    const beforeLastRun = (y: number, m: number, d: number) =>
      wallOf(y, m, d, nextHour, nextMinute) < last.wall;
    const rollOver = () => {
      for (let i = 0; i < 2000; i++) {
        const flag =
          dom === days.length ||
          !dayExists(year, monthAt(), dayAt()) ||
          beforeLastRun(year, monthAt(), dayAt());
        if (!flag) return;
        dom = 0;
        moy += 1;
        if (moy === months.length) {
          moy = 0;
          year += 1;
        }
      }
      throw new CrontabParseError("unable to rollover, time specification is probably invalid");
    };
    if (this.monthOfYear.has(lf.month)) {
      dom = bisect(days, lf.day);
      moy = bisect(months, lf.month, true);
    } else {
      dom = 0;
      moy = bisect(months, lf.month);
      if (moy === months.length) moy = 0;
    }
    rollOver();
    for (;;) {
      const dow = fields(wallOf(year, monthAt(), dayAt())).isoWeekday % 7;
      if (this.dayOfWeek.has(dow)) break;
      dom += 1;
      rollOver();
    }
    return { year, month: monthAt(), day: dayAt(), hour: nextHour, minute: nextMinute };
  }

  /** celery/schedules.py `crontab.remaining_delta`: the last run in the app's zone and what to change on it. */
  private remainingDelta(lastRunAt: number, ctx: ScheduleContext): { last: ZonedDateTime; delta: Ffwd } {
    const last = atInstant(lastRunAt, ctx.zone);
    const lf = fields(last.wall);
    const dowNum = lf.isoWeekday % 7; // Sunday is day 0
    const executeThisDate =
      this.monthOfYear.has(lf.month) && this.dayOfMonth.has(lf.day) && this.dayOfWeek.has(dowNum);
    const executeThisHour = executeThisDate && this.hour.has(lf.hour) && lf.minute < maxOf(this.minute);
    if (executeThisHour) {
      const nextMinute = minOf(new Set([...this.minute].filter((m) => m > lf.minute)));
      return { last, delta: { minute: nextMinute } };
    }
    const nextMinute = minOf(this.minute);
    if (executeThisDate && lf.hour < maxOf(this.hour)) {
      const nextHour = minOf(new Set([...this.hour].filter((h) => h > lf.hour)));
      return { last, delta: { hour: nextHour, minute: nextMinute } };
    }
    const nextHour = minOf(this.hour);
    if (this.orig.dayOfMonth === "*" && this.orig.monthOfYear === "*") {
      const later = [...this.dayOfWeek].filter((d) => d > dowNum);
      const nextDay = later.length > 0 ? Math.min(...later) : minOf(this.dayOfWeek);
      const addWeek = nextDay === dowNum;
      return {
        last,
        delta: {
          weeks: addWeek ? 1 : 0,
          weekday: (((nextDay - 1) % 7) + 7) % 7,
          hour: nextHour,
          minute: nextMinute,
        },
      };
    }
    return { last, delta: this.deltaToNext(last, nextHour, nextMinute) };
  }

  remainingEstimate(lastRunAt: number, now: number, ctx: ScheduleContext): number {
    const { last, delta } = this.remainingDelta(lastRunAt, ctx);
    return toInstant(applyFfwd(last, delta)) - now;
  }

  isDue(lastRunAt: number, now: number, ctx: ScheduleContext): SchedState {
    const remMs = this.remainingEstimate(lastRunAt, now, ctx);
    let rem = Math.max(remMs / 1000, 0);
    let due = rem === 0;
    let passedDeadline = false;
    if (ctx.cronStartingDeadline !== null && remMs < 0) {
      // No run in [now - deadline, now]: the missed run is too stale to catch up.
      const since = now - ctx.cronStartingDeadline * 1000 - 0.001;
      if (this.remainingEstimate(since, now, ctx) > 0) {
        passedDeadline = true;
        due = false;
      }
    }
    if (due || passedDeadline) rem = Math.max(this.remainingEstimate(now, now, ctx) / 1000, 0);
    return { isDue: due, next: rem };
  }

  equals(other: Schedule): boolean {
    if (!(other instanceof CrontabSchedule)) return false;
    const same = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((n) => b.has(n));
    return (
      same(this.minute, other.minute) &&
      same(this.hour, other.hour) &&
      same(this.dayOfWeek, other.dayOfWeek) &&
      same(this.dayOfMonth, other.dayOfMonth) &&
      same(this.monthOfYear, other.monthOfYear)
    );
  }

  toString(): string {
    const o = this.orig;
    const show = (f: CronField) => (Array.isArray(f) ? `[${f.join(", ")}]` : String(f));
    return `<crontab: ${show(o.minute)} ${show(o.hour)} ${show(o.dayOfMonth)} ${show(o.monthOfYear)} ${show(o.dayOfWeek)} (m/h/dM/MY/d)>`;
  }
}

/** celery/utils/time.py `ffwd.__radd__`: replace fields, snap to a weekday, add weeks (fold ends up 0). */
function applyFfwd(dt: ZonedDateTime, d: Ffwd): ZonedDateTime {
  const f = fields(dt.wall);
  const year = d.year ?? f.year;
  const month = d.month ?? f.month;
  const day = Math.min(daysInMonth(year, month), d.day ?? f.day);
  let wall = wallOf(year, month, day, d.hour ?? f.hour, d.minute, 0, 0);
  if (d.weekday !== undefined) {
    const pyWeekday = fields(wall).isoWeekday - 1;
    wall += ((7 - pyWeekday + d.weekday) % 7) * 86_400_000;
  }
  wall += (d.weeks ?? 0) * 7 * 86_400_000;
  return { wall, fold: 0, zone: dt.zone };
}

function pyRepr(f: CronField): string {
  if (typeof f === "string") return `'${f}'`;
  if (Array.isArray(f)) return `[${f.join(", ")}]`;
  return String(f);
}
