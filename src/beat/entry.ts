import type { SendTaskOptions } from "../canvas/options.js";
import { checkSendOptions } from "../client/send-options.js";
import { ConfigError } from "../errors.js";
import { IntervalSchedule } from "./interval.js";
import type { Schedule } from "./schedule.js";

/**
 * One periodic task (celery/beat.py `ScheduleEntry`, 5.7.0). Immutable:
 * `reserve` in a store returns the next instance, as Celery's `next(entry)`.
 */
export interface BeatEntry {
  readonly name: string;
  /** The task name sent (a Python or TS task). */
  readonly task: string;
  readonly schedule: Schedule;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** `apply_async` options in camelCase (queue, exchange, routingKey, priority, expires, headers, ...). */
  readonly options: Readonly<SendTaskOptions>;
  /** When it was last sent (UTC ms), or null when never: the scheduler then counts from the time it first sees it, as Celery's `last_run_at or default_now()`. */
  readonly lastRunAt: number | null;
  readonly totalRunCount: number;
  /** A store's own data about the entry (a database row, ...); the scheduler never reads it. */
  readonly storeData?: unknown;
}

/**
 * An entry of the `beatSchedule` setting, Celery's `beat_schedule` shape:
 * `schedule` is seconds (a number), or a schedule object (`crontab(...)`,
 * `interval(...)`, `solar(...)`).
 */
export interface BeatScheduleEntry {
  task: string;
  schedule: number | Schedule;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: SendTaskOptions;
  /** Interval schedules given as seconds: round the deadline to the interval's resolution. */
  relative?: boolean;
}

/** The editable fields Celery compares to notice an edited schedule (`ScheduleEntry.editable_fields_equal`). */
export function editableFieldsEqual(a: BeatEntry, b: BeatEntry): boolean {
  return (
    a.task === b.task &&
    a.schedule.equals(b.schedule) &&
    jsonEqual(a.args, b.args) &&
    jsonEqual(a.kwargs, b.kwargs) &&
    jsonEqual(a.options, b.options)
  );
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isSchedule(value: unknown): value is Schedule {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as Schedule).isDue === "function" &&
    typeof (value as Schedule).remainingEstimate === "function"
  );
}

const ENTRY_KEYS = ["task", "schedule", "args", "kwargs", "options", "relative"];

/**
 * Checks one `beatSchedule` entry and builds the {@link BeatEntry}; every
 * problem is a ConfigError naming `beatSchedule["<name>"].<field>`.
 */
export function entryFromSetting(name: string, input: unknown): BeatEntry {
  const where = `beatSchedule[${JSON.stringify(name)}]`;
  const fail = (field: string, message: string): never => {
    throw new ConfigError(`${where}.${field}`, `${where}.${field}: ${message}`);
  };
  if (input === null || typeof input !== "object" || Array.isArray(input))
    throw new ConfigError(
      where,
      `${where} must be an object {task, schedule, args?, kwargs?, options?, relative?}`,
    );
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.includes(key)) fail(key, `unknown field; an entry takes ${ENTRY_KEYS.join(", ")}`);
  }
  if (typeof raw.task !== "string" || raw.task === "") fail("task", "must be a non-empty task name");
  if (raw.relative !== undefined && typeof raw.relative !== "boolean")
    fail("relative", "must be true or false");
  let schedule: Schedule;
  if (typeof raw.schedule === "number") {
    if (!Number.isFinite(raw.schedule))
      fail("schedule", `seconds must be a finite number (got ${raw.schedule})`);
    schedule = new IntervalSchedule(raw.schedule, raw.relative === true);
  } else if (isSchedule(raw.schedule)) {
    schedule = raw.schedule;
  } else {
    schedule = fail(
      "schedule",
      'must be seconds (a number) or a schedule: crontab({minute, hour, ...}), crontab.fromString("*/5 * * * *"), interval(seconds), solar(event, lat, lon)',
    );
  }
  if (raw.args !== undefined && !Array.isArray(raw.args)) fail("args", "must be an array");
  if (
    raw.kwargs !== undefined &&
    (raw.kwargs === null || typeof raw.kwargs !== "object" || Array.isArray(raw.kwargs))
  )
    fail("kwargs", "must be an object");
  try {
    checkSendOptions(raw.task, raw.args, raw.kwargs, raw.options);
  } catch (err) {
    if (err instanceof ConfigError) fail(`options.${err.option}`, err.message);
    throw err;
  }
  return {
    name,
    task: raw.task as string,
    schedule,
    args: (raw.args as unknown[] | undefined) ?? [],
    kwargs: (raw.kwargs as Record<string, unknown> | undefined) ?? {},
    options: (raw.options as SendTaskOptions | undefined) ?? {},
    lastRunAt: null,
    totalRunCount: 0,
  };
}

/** All entries of the `beatSchedule` setting, checked. */
export function entriesFromSettings(beatSchedule: Record<string, unknown>): BeatEntry[] {
  if (beatSchedule === null || typeof beatSchedule !== "object" || Array.isArray(beatSchedule))
    throw new ConfigError("beatSchedule", "beatSchedule must be an object of entry name -> entry");
  return Object.entries(beatSchedule).map(([name, entry]) => entryFromSetting(name, entry));
}
