import * as SunCalc from "suncalc";
import { ConfigError } from "../errors.js";
import type { SchedState, Schedule } from "./schedule.js";

/**
 * celery/schedules.py `solar` (5.7.0): run at a solar event at a place.
 * Celery computes events with `ephem` (an observer at sea level, no
 * refraction, `sunrise`/`sunset` when the upper limb is at -0:34, twilights
 * by the sun's centre at -6/-12/-18 degrees, `solar_noon` at transit); there
 * is no npm port of ephem, so the times here come from suncalc, whose
 * definitions are the same angles (-0.833 degrees for the centre at sunrise
 * is ephem's -0:34 for the limb plus the sun's radius). The two astronomical
 * models differ by seconds (under 15 s in the comparison test, latitudes up
 * to 60 degrees); near polar day and night, where the sun grazes the
 * horizon, they can differ by minutes.
 */

const EVENTS = {
  dawn_astronomical: "nightEnd",
  dawn_nautical: "nauticalDawn",
  dawn_civil: "dawn",
  sunrise: "sunrise",
  solar_noon: "solarNoon",
  sunset: "sunset",
  dusk_civil: "dusk",
  dusk_nautical: "nauticalDusk",
  dusk_astronomical: "night",
} as const;

export type SolarEvent = keyof typeof EVENTS;

const DAY = 86_400_000;
/** celery/schedules.py `solar.max_search_days`. */
const MAX_SEARCH_DAYS = 366;

export class SolarSchedule implements Schedule {
  readonly kind = "solar";

  constructor(
    readonly event: SolarEvent,
    readonly lat: number,
    readonly lon: number,
  ) {
    if (!Object.hasOwn(EVENTS, event)) {
      throw new ConfigError(
        "solar",
        `Argument event "${event}" is invalid, must be one of ${Object.keys(EVENTS).sort().join(", ")}.`,
      );
    }
    if (typeof lat !== "number" || !(lat >= -90 && lat <= 90))
      throw new ConfigError("solar", `Argument latitude ${lat} is invalid, must be between -90 and 90.`);
    if (typeof lon !== "number" || !(lon >= -180 && lon <= 180))
      throw new ConfigError("solar", `Argument longitude ${lon} is invalid, must be between -180 and 180.`);
  }

  /** `solar._next_event`: the first event after `start`; the end of the search when none happens within a year. */
  nextEvent(start: number): number {
    const key = EVENTS[this.event];
    for (let day = -1; day <= MAX_SEARCH_DAYS; day++) {
      // suncalc gives the events of the solar day around its date; look at each day in turn.
      const times = SunCalc.getTimes(new Date(start + day * DAY), this.lat, this.lon);
      const candidates = [
        times[key],
        SunCalc.getTimes(new Date(start + (day + 1) * DAY), this.lat, this.lon)[key],
      ]
        .map((d) => (d ? d.getTime() : Number.NaN))
        .filter((t) => Number.isFinite(t) && t > start);
      if (candidates.length > 0) return Math.min(...candidates);
    }
    return start + MAX_SEARCH_DAYS * DAY;
  }

  remainingEstimate(lastRunAt: number, now: number): number {
    return this.nextEvent(lastRunAt) - now;
  }

  isDue(lastRunAt: number, now: number): SchedState {
    let rem = Math.max(this.remainingEstimate(lastRunAt, now) / 1000, 0);
    const due = rem === 0;
    if (due) rem = Math.max(this.remainingEstimate(now, now) / 1000, 0);
    return { isDue: due, next: rem };
  }

  equals(other: Schedule): boolean {
    return (
      other instanceof SolarSchedule &&
      other.event === this.event &&
      other.lat === this.lat &&
      other.lon === this.lon
    );
  }

  toString(): string {
    return `<solar: ${this.event} at latitude ${this.lat}, longitude: ${this.lon}>`;
  }
}
