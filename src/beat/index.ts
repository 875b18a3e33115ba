import { type CrontabFields, CrontabSchedule } from "./crontab.js";
import { IntervalSchedule } from "./interval.js";
import { type SolarEvent, SolarSchedule } from "./solar.js";

/**
 * Beat, Celery's periodic task scheduler (celery/beat.py, celery/schedules.py,
 * 5.7.0), in TS. Public surface: the schedule factories below, {@link Beat}
 * (`app.beat()`), and the interfaces a storage plugs in at (see
 * src/beat/scheduler.ts: `ScheduleStore` under Celery's heap scheduler, or a
 * whole `BeatScheduler`; register either by name in src/beat/select.ts).
 */

/** Celery's `crontab(minute, hour, day_of_week, day_of_month, month_of_year)`; `crontab.fromString("0 4 * * *")`. */
export function crontab(fields: CrontabFields = {}): CrontabSchedule {
  return new CrontabSchedule(fields);
}
crontab.fromString = (text: string): CrontabSchedule => CrontabSchedule.fromString(text);

/** Celery's `schedule(run_every, relative)`: every `seconds`. */
export function interval(seconds: number, options: { relative?: boolean } = {}): IntervalSchedule {
  return new IntervalSchedule(seconds, options.relative ?? false);
}

/** Celery's `solar(event, lat, lon)`: at a solar event ("sunrise", "dusk_civil", ...) seen from a place. */
export function solar(event: SolarEvent, lat: number, lon: number): SolarSchedule {
  return new SolarSchedule(event, lat, lon);
}

export { type CronField, type CrontabFields, CrontabParseError, CrontabSchedule } from "./crontab.js";
export type { BeatEntry, BeatScheduleEntry } from "./entry.js";
export { IntervalSchedule } from "./interval.js";
export { appZone, type SchedState, type Schedule, type ScheduleContext } from "./schedule.js";
export {
  type BeatScheduler,
  DEFAULT_MAX_INTERVAL,
  HeapScheduler,
  type ScheduleStore,
  type SendEntry,
} from "./scheduler.js";
export { SCHEDULERS, type SchedulerContext, type SchedulerFactory, schedulerFor } from "./select.js";
export { Beat, type BeatHost, type BeatOptions, entrySender } from "./service.js";
export { type SolarEvent, SolarSchedule } from "./solar.js";
export { JsonFileStore, MemoryStore } from "./stores.js";
