import { CrontabSchedule } from "./crontab.js";
import type { BeatEntry } from "./entry.js";
import { IntervalSchedule } from "./interval.js";
import { optionsFromPython, optionsToPython } from "./python-options.js";
import type { Schedule } from "./schedule.js";
import { atInstant, fields, toInstant, wallOf, Zone } from "./zoned.js";

/**
 * celery-redbeat 2.4's JSON (redbeat/decoder.py `RedBeatJSONEncoder` /
 * `RedBeatJSONDecoder`): an entry hash `redbeat:<name>` holds `definition`
 * (name, task, args, kwargs, options, schedule, enabled) and `meta`
 * (last_run_at, total_run_count). Datetimes are `{"__type__": "datetime",
 * year..microsecond, "timezone": <zone key> | <offset seconds>}`; schedules
 * `{"__type__": "interval", every, relative}` or `{"__type__": "crontab",
 * minute, hour, day_of_week, day_of_month, month_of_year}`.
 */

/** A definition this codec cannot turn into an entry (unknown schedule type, bad JSON): names the key. */
export class RedBeatDecodeError extends Error {}

type Json = Record<string, unknown>;

/** RedBeat's datetime dict -> UTC ms. */
export function decodeDatetime(d: Json): number {
  const wall = wallOf(
    Number(d.year),
    Number(d.month),
    Number(d.day),
    Number(d.hour ?? 0),
    Number(d.minute ?? 0),
    Number(d.second ?? 0),
    Math.floor(Number(d.microsecond ?? 0) / 1000),
  );
  const zone = d.timezone ?? "UTC";
  // redbeat/decoder.py: a number is the offset in seconds (timedelta(minutes=zone / 60)).
  if (typeof zone === "number") return wall - zone * 1000;
  if (typeof zone !== "string") throw new RedBeatDecodeError(`datetime timezone ${JSON.stringify(zone)}`);
  return toInstant({ wall, fold: 0, zone: Zone.get(zone, "redbeat datetime timezone") });
}

/** UTC ms -> RedBeat's datetime dict, wall clock in `zone` (as app.now() is in the app's zone). */
export function encodeDatetime(instant: number, zone: Zone): Json {
  const f = fields(atInstant(instant, zone).wall);
  return {
    __type__: "datetime",
    year: f.year,
    month: f.month,
    day: f.day,
    hour: f.hour,
    minute: f.minute,
    second: f.second,
    microsecond: f.ms * 1000,
    timezone: zone.name,
  };
}

/** Replaces `{"__type__": "datetime", ...}` dicts anywhere in a value by Dates (options: eta, expires). */
function reviveDates(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveDates);
  if (value === null || typeof value !== "object") return value;
  const d = value as Json;
  if (d.__type__ === "datetime") return new Date(decodeDatetime(d));
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, reviveDates(v)]));
}

function decodeSchedule(s: unknown): Schedule {
  const d = (s ?? {}) as Json;
  if (d.__type__ === "interval") {
    if (typeof d.every !== "number")
      throw new RedBeatDecodeError(`interval "every" ${JSON.stringify(d.every)}`);
    return new IntervalSchedule(d.every, d.relative === true);
  }
  if (d.__type__ === "crontab") {
    const f = (v: unknown) => (v === undefined || v === null ? "*" : (v as string | number | number[]));
    return new CrontabSchedule({
      minute: f(d.minute),
      hour: f(d.hour),
      dayOfWeek: f(d.day_of_week),
      dayOfMonth: f(d.day_of_month),
      monthOfYear: f(d.month_of_year),
    });
  }
  throw new RedBeatDecodeError(
    `schedule type ${JSON.stringify(d.__type__)} is not supported by Celeriac (interval and crontab are)`,
  );
}

function encodeSchedule(s: Schedule): Json {
  if (s instanceof IntervalSchedule) return { __type__: "interval", every: s.seconds, relative: s.relative };
  if (s instanceof CrontabSchedule) {
    return {
      __type__: "crontab",
      minute: s.orig.minute,
      hour: s.orig.hour,
      day_of_week: s.orig.dayOfWeek,
      day_of_month: s.orig.dayOfMonth,
      month_of_year: s.orig.monthOfYear,
    };
  }
  throw new RedBeatDecodeError(
    `a ${s.kind} schedule cannot be stored in RedBeat's schema (interval and crontab can)`,
  );
}

/** A RedBeat entry as read from Redis. `enabled: false` entries are kept but never due. */
export interface RedBeatEntry extends BeatEntry {
  readonly enabled: boolean;
}

/** `RedBeatSchedulerEntry.from_key`: definition + meta -> entry; options Celeriac does not send are listed. */
export function decodeEntry(
  definition: string,
  meta: string | null,
): { entry: RedBeatEntry; ignoredOptions: string[] } {
  let def: Json;
  let m: Json;
  try {
    def = JSON.parse(definition) as Json;
    m = meta ? (JSON.parse(meta) as Json) : { last_run_at: null };
  } catch (err) {
    throw new RedBeatDecodeError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof def.task !== "string") throw new RedBeatDecodeError(`task ${JSON.stringify(def.task)}`);
  const { options, ignored } = optionsFromPython(reviveDates(def.options) as Json | null);
  const last = m.last_run_at;
  return {
    entry: {
      name: String(def.name),
      task: def.task,
      schedule: decodeSchedule(def.schedule),
      args: Array.isArray(def.args) ? def.args : [],
      kwargs: def.kwargs && typeof def.kwargs === "object" ? (def.kwargs as Json) : {},
      options,
      lastRunAt: last && typeof last === "object" ? decodeDatetime(last as Json) : null,
      totalRunCount: typeof m.total_run_count === "number" ? m.total_run_count : 0,
      enabled: def.enabled !== false,
    },
    ignoredOptions: ignored,
  };
}

function jsonWithDates(value: unknown, zone: Zone): unknown {
  if (value instanceof Date) return encodeDatetime(value.getTime(), zone);
  if (Array.isArray(value)) return value.map((v) => jsonWithDates(v, zone));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonWithDates(v, zone)]));
}

/** `RedBeatSchedulerEntry.save`'s definition. */
export function encodeDefinition(entry: BeatEntry, enabled: boolean, zone: Zone): string {
  return JSON.stringify({
    name: entry.name,
    task: entry.task,
    args: entry.args,
    kwargs: entry.kwargs,
    options: jsonWithDates(optionsToPython(entry.options), zone),
    schedule: encodeSchedule(entry.schedule),
    enabled,
  });
}

/** `_next_instance`'s meta (`save` writes only last_run_at, with hsetnx). */
export function encodeMeta(lastRunAt: number | null, zone: Zone, totalRunCount?: number): string {
  const meta: Json = { last_run_at: lastRunAt === null ? null : encodeDatetime(lastRunAt, zone) };
  if (totalRunCount !== undefined) meta.total_run_count = totalRunCount;
  return JSON.stringify(meta);
}
