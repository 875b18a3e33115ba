import { loadavg, type as osType } from "node:os";
import type { CompatProfile } from "../compat.js";
import { PyFloat, pyFloat } from "./json.js";

/**
 * Event shapes (celery/events/event.py `Event`, `group_from`;
 * celery/events/dispatcher.py `EventDispatcher._prepare_event`, 5.7.0).
 * An event is a flat dict:
 * `hostname, utcoffset, pid, clock`, then the type's own fields, then `timestamp, type`
 * (the order Python's `Event(type, hostname=…, **fields)` builds, e.g.
 * `{hostname, utcoffset, pid, clock, freq, active, …, timestamp, type}`).
 */
export type EventBody = Record<string, unknown>;

/** Our package identity in `sw_*` (Celery's `SOFTWARE_INFO`: `py-celery`, version, `platform.system()`). */
export const SW_IDENT = "celeriac";
export const SW_VER = "0.1.0";

/** `platform.system()`: `Linux`, `Darwin`, `Windows` (os.type() says `Windows_NT`). */
export function swSys(): string {
  const t = osType();
  return t === "Windows_NT" ? "Windows" : t;
}

export function softwareInfo(): { sw_ident: string; sw_ver: string; sw_sys: string } {
  return { sw_ident: SW_IDENT, sw_ver: SW_VER, sw_sys: swSys() };
}

/** `group_from`: the part before the first `-` (`task-sent` → `task`). */
export function groupFrom(type: string): string {
  const i = type.indexOf("-");
  return i < 0 ? type : type.slice(0, i);
}

/** The routing key an event is published with: `type.replace('-', '.')`. */
export function routingKeyOf(type: string): string {
  return type.replaceAll("-", ".");
}

/**
 * celery/utils/time.py `utcoffset`: hours WEST of UTC (UTC+2 → -2), DST
 * included. 5.7 uses true division (a float, UTC+5:30 → -5.5); earlier
 * minors floor-divide to an int.
 */
export function utcoffset(compat: CompatProfile, now: Date = new Date()): number | PyFloat {
  const minutesWest = now.getTimezoneOffset();
  if (compat.floatUtcoffset) return pyFloat(minutesWest / 60 + 0);
  return Math.floor((minutesWest * 60) / 3600) + 0;
}

/** celery/utils/time.py `adjust_timestamp`: a sender's timestamp in our local frame. */
export function adjustTimestamp(ts: number, offset: number, here: number): number {
  return ts - (offset - here) * 3600;
}

/** Our own offset as a plain number (for receivers). */
export function localUtcoffset(now: Date = new Date()): number {
  return now.getTimezoneOffset() / 60 + 0;
}

/** celery/utils/sysinfo.py `load_average`: each value rounded UP to 2 decimals, floats. */
export function loadAverage(): PyFloat[] {
  return loadavg().map((l) => pyFloat(Math.ceil(l * 1e2) / 1e2));
}

/** `time.time()` as Python sends it: a float of epoch seconds. */
export function nowSeconds(): PyFloat {
  return pyFloat(Date.now() / 1000);
}

export interface EventOrigin {
  hostname: string;
  pid: number;
  compat: CompatProfile;
}

/** `Event(type, hostname=…, utcoffset=…, pid=…, clock=…, **fields)`. */
export function buildEvent(
  type: string,
  fields: Record<string, unknown>,
  origin: EventOrigin,
  clock: number | null,
): EventBody {
  const event: EventBody = {
    hostname: origin.hostname,
    utcoffset: utcoffset(origin.compat),
    pid: origin.pid,
    clock,
    ...fields,
  };
  if (!("timestamp" in fields)) event.timestamp = nowSeconds();
  event.type = type;
  return event;
}

/** The plain number of a field that may be a {@link PyFloat}. */
export function num(value: unknown): number | null {
  if (value instanceof PyFloat) return value.value;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
