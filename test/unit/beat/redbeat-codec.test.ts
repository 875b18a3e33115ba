import { describe, expect, it } from "vitest";
import { crontab, interval } from "../../../src/beat/index.js";
import {
  decodeDatetime,
  decodeEntry,
  encodeDatetime,
  encodeDefinition,
  encodeMeta,
  RedBeatDecodeError,
} from "../../../src/beat/redbeat-codec.js";
import { Zone } from "../../../src/beat/zoned.js";

// Shapes as celery-redbeat 2.4.2's RedBeatJSONEncoder writes them (redbeat/decoder.py); the
// interop test (beat-redbeat.test.ts) has Python read and write them for real.
const paris = Zone.get("Europe/Paris");

describe("RedBeat JSON codec (redbeat/decoder.py)", () => {
  it("datetimes: a zone key, an offset in seconds, microseconds", () => {
    const at = Date.UTC(2026, 6, 1, 10, 30, 0, 123);
    expect(encodeDatetime(at, paris)).toEqual({
      __type__: "datetime",
      year: 2026,
      month: 7,
      day: 1,
      hour: 12,
      minute: 30,
      second: 0,
      microsecond: 123000,
      timezone: "Europe/Paris",
    });
    expect(decodeDatetime(encodeDatetime(at, paris))).toBe(at);
    // A fixed offset is stored as seconds (timezone(timedelta(minutes=zone / 60))).
    expect(
      decodeDatetime({
        __type__: "datetime",
        year: 2026,
        month: 1,
        day: 1,
        hour: 5,
        minute: 30,
        second: 0,
        microsecond: 0,
        timezone: 19800,
      }),
    ).toBe(Date.UTC(2026, 0, 1, 0, 0));
    expect(
      decodeDatetime({ year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 }),
    ).toBe(Date.UTC(2026, 0, 1));
  });

  it("definitions round-trip with Python option names and schedule dicts", () => {
    const entry = {
      name: "report",
      task: "proj.report",
      schedule: crontab({ minute: [0, 30], hour: "8-17", dayOfWeek: "mon-fri" }),
      args: [1, "a"],
      kwargs: { x: 1 },
      options: {
        queue: "q",
        routingKey: "rk",
        priority: 3,
        expires: new Date(Date.UTC(2026, 0, 1)),
        timeLimit: 5,
      },
      lastRunAt: null,
      totalRunCount: 0,
    };
    const text = encodeDefinition(entry, true, paris);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(json.schedule).toEqual({
      __type__: "crontab",
      minute: [0, 30],
      hour: "8-17",
      day_of_week: "mon-fri",
      day_of_month: "*",
      month_of_year: "*",
    });
    expect(json.options).toMatchObject({ queue: "q", routing_key: "rk", priority: 3, time_limit: 5 });
    const back = decodeEntry(text, encodeMeta(Date.UTC(2026, 0, 2), paris, 4));
    expect(back.entry.options).toEqual(entry.options);
    expect(back.entry.schedule.equals(entry.schedule)).toBe(true);
    expect(back.entry.lastRunAt).toBe(Date.UTC(2026, 0, 2));
    expect(back.entry.totalRunCount).toBe(4);
    expect(back.entry.enabled).toBe(true);

    const every = decodeEntry(
      encodeDefinition({ ...entry, schedule: interval(2.5, { relative: true }) }, false, paris),
      null,
    );
    expect(every.entry.schedule.equals(interval(2.5))).toBe(true);
    expect(every.entry.enabled).toBe(false);
    expect(every.entry.lastRunAt).toBeNull();
  });

  it("what it cannot use is a RedBeatDecodeError saying why; unknown options are listed", () => {
    const def = (schedule: unknown, options: unknown = {}) =>
      JSON.stringify({ name: "x", task: "t", args: [], kwargs: {}, options, schedule, enabled: true });
    expect(() => decodeEntry(def({ __type__: "rrule", freq: 5 }), null)).toThrow(
      /schedule type "rrule" is not supported by Celeriac/,
    );
    expect(() => decodeEntry("{not json", null)).toThrow(RedBeatDecodeError);
    expect(() => decodeEntry(def({ __type__: "crontab", minute: "*/0" }), null)).toThrow(
      /slice step cannot be zero/,
    );
    const odd = decodeEntry(
      def({ __type__: "interval", every: 5, relative: false }, { queue: "q", mandatory: true }),
      null,
    );
    expect(odd.ignoredOptions).toEqual(["mandatory"]);
    expect(odd.entry.options).toEqual({ queue: "q" });
  });
});
