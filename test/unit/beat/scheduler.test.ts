import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { type BeatEntry, entriesFromSettings } from "../../../src/beat/entry.js";
import { crontab, interval } from "../../../src/beat/index.js";
import { appZone } from "../../../src/beat/schedule.js";
import { HeapScheduler } from "../../../src/beat/scheduler.js";
import { JsonFileStore, MemoryStore } from "../../../src/beat/stores.js";
import { ConfigError } from "../../../src/errors.js";
import { createLogger } from "../../../src/logging.js";

const log = createLogger({ level: "silent" });
const ctx = { zone: appZone({ timezone: null, enableUtc: true }), cronStartingDeadline: null };
const dir = mkdtempSync(join(tmpdir(), "beat-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Drives a HeapScheduler on a fake clock the way celery/beat.py Service.start does. */
async function run(
  entries: BeatEntry[],
  store: MemoryStore,
  from: number,
  until: number,
): Promise<{ sent: { name: string; at: number }[]; clock: { now: number } }> {
  const clock = { now: from };
  const sent: { name: string; at: number }[] = [];
  const scheduler = new HeapScheduler({
    store,
    configured: entries,
    send: async (e) => {
      sent.push({ name: e.name, at: clock.now });
      return "id";
    },
    ctx,
    log,
    now: () => clock.now,
  });
  await scheduler.setup();
  while (clock.now < until) {
    const wait = await scheduler.tick();
    // Real time passes while beat loops; Celery's 10 ms early wake-up needs it to.
    clock.now += Math.max(wait * 1000, 1);
  }
  await scheduler.close();
  return { sent, clock };
}

describe("crontab field syntax (celery/schedules.py crontab_parser examples)", () => {
  it("expands steps, ranges, names and wrap-around ranges as Celery does", () => {
    expect([...crontab({ minute: "*/15" }).minute].sort((a, b) => a - b)).toEqual([0, 15, 30, 45]);
    expect([...crontab({ hour: "*/4" }).hour].sort((a, b) => a - b)).toEqual([0, 4, 8, 12, 16, 20]);
    expect([...crontab({ dayOfMonth: "*/3" }).dayOfMonth].sort((a, b) => a - b)).toEqual([
      1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31,
    ]);
    expect([...crontab({ monthOfYear: "2-12/2" }).monthOfYear].sort((a, b) => a - b)).toEqual([
      2, 4, 6, 8, 10, 12,
    ]);
    expect([...crontab({ dayOfWeek: "fri-mon" }).dayOfWeek].sort((a, b) => a - b)).toEqual([0, 1, 5, 6]);
    expect([...crontab({ dayOfWeek: "sunday,sat" }).dayOfWeek].sort((a, b) => a - b)).toEqual([0, 6]);
  });

  it("rejects what Celery rejects, naming the field and the reason", () => {
    expect(() => crontab({ minute: "*/0" })).toThrow(/minute "\*\/0": slice step cannot be zero/);
    expect(() => crontab({ hour: "24" })).toThrow(/hour "24": Invalid end range: 24 > 23/);
    expect(() => crontab({ dayOfWeek: "7" })).toThrow(/Invalid end range: 7 > 6/);
    expect(() => crontab({ minute: "1,,2" })).toThrow(/empty part/);
    expect(() => crontab({ minute: "*/" })).toThrow(/empty filter/);
    expect(() => crontab({ minute: "-5" })).toThrow(/negative numbers not supported/);
    expect(() => crontab({ dayOfWeek: "funday" })).toThrow(/Invalid weekday literal 'funday'/);
    expect(() => crontab({ dayOfMonth: "30", monthOfYear: "2" })).toThrow(
      /never occurs in month_of_year '2'/,
    );
    expect(() => crontab.fromString("* * * *")).toThrow(/exactly 5 fields/);
    expect(() => crontab({ minute: "*/0" })).toThrow(ConfigError);
  });

  it("crontab.fromString takes minute hour day_of_month month_of_year day_of_week", () => {
    const c = crontab.fromString("30 4 1 jan mon");
    expect([...c.minute]).toEqual([30]);
    expect([...c.hour]).toEqual([4]);
    expect([...c.dayOfMonth]).toEqual([1]);
    expect([...c.monthOfYear]).toEqual([1]);
    expect([...c.dayOfWeek]).toEqual([1]);
  });
});

describe("beatSchedule entries", () => {
  it("a malformed entry is a ConfigError naming the entry and field", () => {
    expect(() => entriesFromSettings({ x: { task: "t", schedule: "5" } })).toThrow(
      /beatSchedule\["x"\]\.schedule/,
    );
    expect(() => entriesFromSettings({ x: { task: "", schedule: 5 } })).toThrow(/beatSchedule\["x"\]\.task/);
    expect(() => entriesFromSettings({ x: { task: "t", schedule: 5, option: {} } })).toThrow(
      /beatSchedule\["x"\]\.option: unknown field/,
    );
    expect(() => entriesFromSettings({ x: { task: "t", schedule: 5, options: { queue: 3 } } })).toThrow(
      /beatSchedule\["x"\]\.options\.queue/,
    );
    const app = new Celery({ beatSchedule: { y: { task: "t", schedule: 1, options: { priority: -1 } } } });
    expect(() => app.beat()).toThrow(/beatSchedule\["y"\]\.options\.priority/);
    expect(() => new Celery({ beatScheduler: "nope" }).beat()).toThrow(/unknown beat scheduler "nope"/);
    expect(() => new Celery({ timezone: "Mars/Base" })).toThrow(
      /timezone "Mars\/Base" is not a known IANA time zone/,
    );
  });
});

describe("HeapScheduler (celery/beat.py Scheduler.tick)", () => {
  const t0 = Date.UTC(2026, 0, 5, 10, 0, 0);

  it("sends an interval entry once per interval, the first one interval after start", async () => {
    const entries = entriesFromSettings({ every10: { task: "t.a", schedule: 10 } });
    const { sent } = await run(entries, new MemoryStore(), t0, t0 + 35_000);
    expect(sent.map((s) => Math.round((s.at - t0) / 1000))).toEqual([10, 20, 30]);
  });

  it("no burst of catch-up runs after a long stop: one run, then the normal cadence", async () => {
    const store = new MemoryStore();
    const entries = entriesFromSettings({
      every10: { task: "t.a", schedule: 10 },
      cron: { task: "t.b", schedule: crontab({ minute: "*" }) },
    });
    await run(entries, store, t0, t0 + 1_000);
    // Beat was down for an hour: each entry is due once, then back to its cadence.
    const later = t0 + 3_600_000;
    const { sent } = await run(entries, store, later, later + 25_000);
    const every10 = sent.filter((s) => s.name === "every10").map((s) => Math.round((s.at - later) / 1000));
    expect(every10).toEqual([0, 10, 20]);
    // Sent once, on the tick right after the first one (one due entry per tick).
    expect(sent.filter((s) => s.name === "cron").map((s) => Math.round((s.at - later) / 1000))).toEqual([0]);
  });

  it("JsonFileStore keeps last-run times across a restart: no double fire", async () => {
    const path = join(dir, "restart.json");
    const entries = entriesFromSettings({ every60: { task: "t.a", schedule: 60 } });
    const opts = { path, timezone: null, enableUtc: true, log };
    const first = await run(entries, new JsonFileStore(opts), t0, t0 + 61_000);
    expect(first.sent).toHaveLength(1);
    const saved = JSON.parse(readFileSync(path, "utf8")) as {
      entries: Record<string, { total_run_count: number }>;
    };
    expect(saved.entries.every60?.total_run_count).toBe(1);
    // Restart 5 s after the send: nothing until 60 s after the last run.
    const restart = t0 + 65_000;
    const second = await run(entries, new JsonFileStore(opts), restart, restart + 60_000);
    expect(second.sent.map((s) => s.at - t0)).toEqual([120_000]);
  });

  it("a timezone change resets the stored run times (PersistentScheduler.setup_schedule)", async () => {
    const path = join(dir, "tz.json");
    const entries = entriesFromSettings({ e: { task: "t.a", schedule: 60 } });
    await run(entries, new JsonFileStore({ path, timezone: null, enableUtc: true, log }), t0, t0 + 61_000);
    const store = new JsonFileStore({ path, timezone: "Europe/Paris", enableUtc: true, log });
    await store.open(entries, t0 + 100_000);
    expect((await store.entries()).get("e")?.totalRunCount).toBe(0);
  });

  it("a corrupt schedule file is moved aside with an error, and beat starts afresh", async () => {
    const path = join(dir, "corrupt.json");
    writeFileSync(path, "{not json");
    const store = new JsonFileStore({ path, timezone: null, enableUtc: true, log });
    await store.open(entriesFromSettings({ e: { task: "t", schedule: interval(5) } }), t0);
    expect((await store.entries()).get("e")?.lastRunAt).toBe(t0);
  });

  it("an entry whose next run cannot be computed does not stop the others", async () => {
    const broken = {
      kind: "broken",
      isDue: () => {
        throw new Error("boom");
      },
      remainingEstimate: () => 0,
      equals: () => false,
    };
    const entries = entriesFromSettings({
      bad: { task: "t.bad", schedule: broken },
      good: { task: "t.good", schedule: 5 },
    });
    const { sent } = await run(entries, new MemoryStore(), t0, t0 + 11_000);
    expect(sent.map((s) => s.name)).toEqual(["good", "good"]);
  });
});
