/**
 * ISO-8601 formatting and parsing for the datetimes Celery puts in headers
 * (`eta`, `expires`) and result metas (`date_done`).
 */
import { ProtocolError } from "../errors.js";

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

function checkValid(date: Date, what: string): void {
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 1 || year > 9999) {
    throw new ProtocolError(`${what} is not a valid date (Python datetimes span years 1-9999)`);
  }
}

function isoDateAndTime(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`
  );
}

/**
 * `2024-01-02T03:04:05.678000+00:00`: UTC, exactly 6 fraction digits and an
 * explicit numeric offset. This is what we write into `eta`/`expires`
 * headers (docs/wire.md): `toISOString()`'s `…000Z` is rejected by
 * Celery 5.3.0–5.3.4 on Python < 3.11 (`datetime.fromisoformat`).
 *
 * Deliberate difference from Python: `datetime.isoformat()` omits the
 * fraction entirely when microseconds are 0; we always write 6 digits, which
 * every Celery parser (own regex, fromisoformat, dateutil isoparse) accepts.
 */
export function formatIsoUtc(date: Date, what = "datetime"): string {
  checkValid(date, what);
  return `${isoDateAndTime(date)}.${pad(date.getUTCMilliseconds() * 1000, 6)}+00:00`;
}

/**
 * Python's `datetime.isoformat()` of a UTC datetime, byte for byte: the
 * fraction is omitted when microseconds are 0. `aware` appends `+00:00`
 * (5.4+ `date_done`); naive mirrors 5.2/5.3 `datetime.utcnow().isoformat()`.
 */
export function formatPythonIsoformat(date: Date, aware: boolean): string {
  checkValid(date, "datetime");
  const ms = date.getUTCMilliseconds();
  const fraction = ms === 0 ? "" : `.${pad(ms * 1000, 6)}`;
  return `${isoDateAndTime(date)}${fraction}${aware ? "+00:00" : ""}`;
}

// ---------------------------------------------------------------------------
// Parsing: mirrors dateutil/parser/isoparser.py `isoparser.isoparse` (what
// Celery 5.3.5+ uses in celery/utils/time.py maybe_iso8601). A naive result
// is taken as UTC, as Request.__init__ does via maybe_make_aware.
// Differences, all stricter: every numeric field must be exactly its digits
// (Python's int() would also take "+1" or " 1").
// ---------------------------------------------------------------------------

class IsoError extends Error {}

function digits(s: string, start: number, count: number, what: string): number {
  const part = s.slice(start, start + count);
  if (part.length !== count || !/^[0-9]+$/.test(part)) throw new IsoError(`invalid ${what}`);
  return Number(part);
}

interface DateParts {
  year: number;
  month: number;
  day: number;
  pos: number;
}

function parseCommonDate(s: string): DateParts {
  if (s.length < 4) throw new IsoError("ISO string too short");
  const year = digits(s, 0, 4, "year");
  let pos = 4;
  if (pos >= s.length) return { year, month: 1, day: 1, pos };
  const hasSep = s[pos] === "-";
  if (hasSep) pos += 1;
  const month = digits(s, pos, 2, "month");
  pos += 2;
  if (pos >= s.length) {
    if (hasSep) return { year, month, day: 1, pos };
    throw new IsoError("invalid ISO format");
  }
  if (hasSep) {
    if (s[pos] !== "-") throw new IsoError("invalid separator");
    pos += 1;
  }
  const day = digits(s, pos, 2, "day");
  return { year, month, day, pos: pos + 2 };
}

function utcDate(year: number, month: number, day: number): Date {
  const d = new Date(Date.UTC(2000, month - 1, day));
  d.setUTCFullYear(year);
  return d;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function parseUncommonDate(s: string): DateParts {
  if (s.length < 4) throw new IsoError("ISO string too short");
  const year = digits(s, 0, 4, "year");
  const hasSep = s[4] === "-";
  let pos = 4 + (hasSep ? 1 : 0);
  let base: Date;
  if (s[pos] === "W") {
    pos += 1;
    const week = digits(s, pos, 2, "week");
    pos += 2;
    let weekday = 1;
    if (s.length > pos) {
      if ((s[pos] === "-") !== hasSep) throw new IsoError("inconsistent use of dash separator");
      pos += hasSep ? 1 : 0;
      weekday = digits(s, pos, 1, "weekday");
      pos += 1;
    }
    if (week < 1 || week > 53) throw new IsoError("invalid week");
    if (weekday < 1 || weekday > 7) throw new IsoError("invalid weekday");
    const jan4 = utcDate(year, 1, 4);
    const isoWeekdayJan4 = ((jan4.getUTCDay() + 6) % 7) + 1;
    base = new Date(jan4.getTime() + ((week - 1) * 7 + (weekday - 1) - (isoWeekdayJan4 - 1)) * 86_400_000);
  } else {
    const ordinal = digits(s, pos, 3, "ordinal day");
    pos += 3;
    if (ordinal < 1 || ordinal > (isLeap(year) ? 366 : 365)) throw new IsoError("invalid ordinal day");
    base = new Date(utcDate(year, 1, 1).getTime() + (ordinal - 1) * 86_400_000);
  }
  return { year: base.getUTCFullYear(), month: base.getUTCMonth() + 1, day: base.getUTCDate(), pos };
}

interface TimeParts {
  hour: number;
  minute: number;
  second: number;
  micro: number;
  offsetMinutes: number | null;
}

function parseTz(tz: string): number {
  if (tz === "Z" || tz === "z") return 0;
  if (tz.length !== 3 && tz.length !== 5 && tz.length !== 6) {
    throw new IsoError("time zone offset must be 1, 3, 5 or 6 characters");
  }
  const sign = tz[0] === "-" ? -1 : tz[0] === "+" ? 1 : 0;
  if (sign === 0) throw new IsoError("time zone offset requires sign");
  const hours = digits(tz, 1, 2, "offset hours");
  const minutesStart = tz.length === 3 ? -1 : tz[3] === ":" ? 4 : 3;
  const minutes = minutesStart < 0 ? 0 : digits(tz, minutesStart, tz.length - minutesStart, "offset minutes");
  if (hours === 0 && minutes === 0) return 0;
  if (minutes > 59) throw new IsoError("invalid minutes in time zone offset");
  if (hours > 23) throw new IsoError("invalid hours in time zone offset");
  return sign * (hours * 60 + minutes);
}

function parseTime(t: string): TimeParts {
  if (t.length < 2) throw new IsoError("ISO time too short");
  const comps = [0, 0, 0, 0];
  let offsetMinutes: number | null = null;
  let pos = 0;
  let comp = -1;
  let hasSep = false;
  while (pos < t.length && comp < 5) {
    comp += 1;
    const ch = t[pos];
    if (ch === "-" || ch === "+" || ch === "Z" || ch === "z") {
      offsetMinutes = parseTz(t.slice(pos));
      pos = t.length;
      break;
    }
    if (comp === 1 && ch === ":") {
      hasSep = true;
      pos += 1;
    } else if (comp === 2 && hasSep) {
      if (ch !== ":") throw new IsoError("inconsistent use of colon separator");
      pos += 1;
    }
    if (comp < 3) {
      comps[comp] = digits(t, pos, 2, "time component");
      pos += 2;
    }
    if (comp === 3) {
      const frac = /^[.,]([0-9]+)/.exec(t.slice(pos));
      if (!frac) continue;
      const us = (frac[1] ?? "").slice(0, 6);
      comps[3] = Number(us) * 10 ** (6 - us.length);
      pos += frac[0].length;
    }
  }
  if (pos < t.length) throw new IsoError("unused components in ISO string");
  const [hour = 0, minute = 0, second = 0, micro = 0] = comps;
  if (hour === 24 && (minute !== 0 || second !== 0 || micro !== 0)) {
    throw new IsoError("hour may only be 24 at 24:00:00.000");
  }
  return { hour, minute, second, micro, offsetMinutes };
}

/**
 * Parses what dateutil's `isoparse` accepts (`Z`, any number of fraction
 * digits, `±HH`, `±HHMM`, `±HH:MM`, basic and extended forms, week and
 * ordinal dates, `24:00`). A naive value is UTC. Microseconds beyond the
 * millisecond are dropped (JS Date precision). Throws ProtocolError naming
 * `what` on anything else.
 */
export function parseIsoDatetime(value: string, what = "datetime"): Date {
  try {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII check, as dateutil's _takes_ascii
    if (!/^[\x00-\x7f]*$/.test(value)) throw new IsoError("ISO-8601 strings should contain only ASCII");
    let date: DateParts;
    try {
      date = parseCommonDate(value);
    } catch {
      date = parseUncommonDate(value);
    }
    let time: TimeParts = { hour: 0, minute: 0, second: 0, micro: 0, offsetMinutes: null };
    if (value.length > date.pos) time = parseTime(value.slice(date.pos + 1));
    const { year, month, day } = date;
    if (year < 1) throw new IsoError("year 0 is out of range");
    if (month < 1 || month > 12) throw new IsoError("month must be in 1..12");
    const daysInMonth =
      new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
    if (day < 1 || day > daysInMonth) throw new IsoError("day is out of range for month");
    if (time.hour > 24 || time.minute > 59 || time.second > 59) throw new IsoError("time out of range");
    const midnightRollover = time.hour === 24;
    const base = utcDate(year, month, day).getTime();
    const ms =
      base +
      ((midnightRollover ? 24 : time.hour) * 3600 + time.minute * 60 + time.second) * 1000 +
      Math.floor(time.micro / 1000) -
      (time.offsetMinutes ?? 0) * 60_000;
    return new Date(ms);
  } catch (err) {
    if (err instanceof IsoError) {
      throw new ProtocolError(
        `${what} is not an ISO-8601 datetime (${err.message}): ${JSON.stringify(value)}`,
      );
    }
    throw err;
  }
}
