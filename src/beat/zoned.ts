import { ConfigError } from "../errors.js";

/**
 * Python's aware `datetime` as Celery's schedules use it, over a time zone
 * name: a wall-clock reading (encoded as if it were UTC, in ms), the PEP 495
 * `fold` and the zone. Celery's crontab and relative-interval arithmetic is
 * wall-clock arithmetic (`datetime + timedelta` keeps the tzinfo and resets
 * `fold` to 0) with the UTC instant resolved only at the end, so reproducing
 * its DST behaviour needs exactly these operations, not instant arithmetic.
 *
 * Zone offsets come from Node's ICU time-zone data through `Intl`; Python's
 * `zoneinfo` reads the system tzdata. Both are the IANA database; a zone whose
 * rules changed between the two data versions can differ.
 */

const DAY_MS = 86_400_000;

/** One IANA zone (or UTC), with Python `zoneinfo`'s fold rules (PEP 495). */
export class Zone {
  readonly name: string;
  private readonly format: Intl.DateTimeFormat | null;
  private readonly cache = new Map<number, number>();

  private constructor(name: string) {
    this.name = name;
    this.format =
      name === "UTC"
        ? null
        : new Intl.DateTimeFormat("en-US", {
            timeZone: name,
            hourCycle: "h23",
            year: "numeric",
            month: "numeric",
            day: "numeric",
            hour: "numeric",
            minute: "numeric",
            second: "numeric",
          });
  }

  private static zones = new Map<string, Zone>();

  /** The zone named `name` (IANA, e.g. "Europe/Paris"); a ConfigError naming `option` when unknown. */
  static get(name: string, option = "timezone"): Zone {
    const known = Zone.zones.get(name);
    if (known) return known;
    let zone: Zone;
    try {
      zone = new Zone(name === "Etc/UTC" || name === "utc" ? "UTC" : name);
    } catch {
      throw new ConfigError(option, `${option} ${JSON.stringify(name)} is not a known IANA time zone`);
    }
    Zone.zones.set(name, zone);
    return zone;
  }

  /** The system's zone (Celery's `timezone.local`, tzlocal's `get_localzone()`). */
  static local(): Zone {
    return Zone.get(Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  }

  /** Offset east of UTC, in ms, in force at `instant`. */
  offsetAt(instant: number): number {
    if (this.format === null) return 0;
    // Offsets change on whole seconds at most; cache per minute of UTC.
    const key = Math.floor(instant / 60_000);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const at = key * 60_000;
    const parts: Record<string, number> = {};
    for (const p of this.format.formatToParts(new Date(at))) {
      if (p.type !== "literal") parts[p.type] = Number(p.value);
    }
    const wall = Date.UTC(
      parts.year ?? 1970,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    // Date.UTC maps years 0-99 to 1900-1999; reset the year for those.
    const fixed = (parts.year ?? 1970) < 100 ? setUtcYear(wall, parts.year ?? 1970) : wall;
    const offset = fixed - at;
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(key, offset);
    return offset;
  }

  /** Every instant whose wall clock here reads `wall` (0 in a gap, 2 when ambiguous), ascending. */
  instantsFor(wall: number): number[] {
    const offsets = new Set([
      this.offsetAt(wall - DAY_MS),
      this.offsetAt(wall),
      this.offsetAt(wall + DAY_MS),
    ]);
    const found = new Set<number>();
    for (const offset of offsets) {
      const instant = wall - offset;
      if (this.offsetAt(instant) === offset) found.add(instant);
    }
    return [...found].sort((a, b) => a - b);
  }
}

function setUtcYear(ms: number, year: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(year);
  return d.getTime();
}

/** An aware Python `datetime`: wall-clock ms (as if UTC), PEP 495 fold, zone. */
export interface ZonedDateTime {
  readonly wall: number;
  readonly fold: 0 | 1;
  readonly zone: Zone;
}

/** `datetime.fromtimestamp(instant, zone)` / `dt.astimezone(zone)`: the fold is 1 on the second pass. */
export function atInstant(instant: number, zone: Zone): ZonedDateTime {
  const wall = instant + zone.offsetAt(instant);
  const candidates = zone.instantsFor(wall);
  const fold = candidates.length === 2 && candidates[1] === instant ? 1 : 0;
  return { wall, fold, zone };
}

/**
 * The UTC instant of an aware datetime (`dt.astimezone(timezone.utc)`), with
 * zoneinfo's PEP 495 rules: an ambiguous time takes the first occurrence for
 * fold 0; a time in a gap uses the offset before the gap for fold 0 (so it
 * lands after the gap) and the offset after it for fold 1.
 */
export function toInstant(dt: ZonedDateTime): number {
  const candidates = dt.zone.instantsFor(dt.wall);
  const [first, second] = candidates;
  if (first !== undefined && second !== undefined) return dt.fold === 1 ? second : first;
  if (first !== undefined) return first;
  const before = dt.zone.offsetAt(dt.wall - DAY_MS);
  const after = dt.zone.offsetAt(dt.wall + DAY_MS);
  return dt.wall - (dt.fold === 1 ? after : before);
}

/** `dt + timedelta(ms)`: wall-clock arithmetic in the same zone, fold reset to 0. */
export function plusWall(dt: ZonedDateTime, ms: number): ZonedDateTime {
  return { wall: dt.wall + ms, fold: 0, zone: dt.zone };
}

/** Wall-clock fields of a datetime (month 1-12, isoWeekday 1 = Monday ... 7 = Sunday). */
export interface WallFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  isoWeekday: number;
}

export function fields(wall: number): WallFields {
  const d = new Date(wall);
  const dow = d.getUTCDay();
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
    isoWeekday: dow === 0 ? 7 : dow,
  };
}

/** Wall-clock ms for the given fields (`datetime(year, month, day, ...)`). */
export function wallOf(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

/** `calendar.monthrange(year, month)[1]`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return new Date(Date.UTC(2001, month, 0)).getUTCDate();
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Python's `datetime(year, month, day)` validity check. */
export function dayExists(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Python's `datetime.isoformat()` of `instant` in `zone`: `2026-01-02T03:04:05.678000+01:00` (no fraction when 0). */
export function isoformat(instant: number, zone: Zone): string {
  const f = fields(instant + zone.offsetAt(instant));
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const offsetMin = Math.round(zone.offsetAt(instant) / 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const frac = f.ms === 0 ? "" : `.${p(f.ms, 3)}000`;
  return `${p(f.year, 4)}-${p(f.month)}-${p(f.day)}T${p(f.hour)}:${p(f.minute)}:${p(f.second)}${frac}${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
}
