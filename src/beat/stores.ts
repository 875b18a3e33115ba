import { randomUUID } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import type { Logger } from "../logging.js";
import type { BeatEntry } from "./entry.js";
import type { ScheduleStore } from "./scheduler.js";

/**
 * The two stores of Celery's own schedulers: {@link MemoryStore}
 * (`celery.beat:Scheduler`, nothing survives a restart) and
 * {@link JsonFileStore} (`celery.beat:PersistentScheduler`, whose shelve file
 * only Python can read; this one is JSON, so only TS reads it).
 */

/** `merge_inplace`: configured entries win their editable fields; run times and counts are kept. */
function merge(
  stored: ReadonlyMap<string, BeatEntry>,
  configured: readonly BeatEntry[],
): Map<string, BeatEntry> {
  const out = new Map<string, BeatEntry>();
  for (const entry of configured) {
    const old = stored.get(entry.name);
    out.set(
      entry.name,
      old ? { ...entry, lastRunAt: old.lastRunAt, totalRunCount: old.totalRunCount } : entry,
    );
  }
  return out;
}

/** celery/beat.py `Scheduler`: entries in memory only. */
export class MemoryStore implements ScheduleStore {
  readonly info: string = "    . db -> (memory)";
  protected map: Map<string, BeatEntry> = new Map();

  async open(configured: readonly BeatEntry[], now: number): Promise<void> {
    this.map = merge(this.map, configured);
    // celery/beat.py ScheduleEntry: last_run_at defaults to now when the entry is created.
    for (const [name, entry] of this.map) {
      if (entry.lastRunAt === null) this.map.set(name, { ...entry, lastRunAt: now });
    }
  }

  async entries(): Promise<ReadonlyMap<string, BeatEntry>> {
    return this.map;
  }

  async reserve(entry: BeatEntry, runAt: number): Promise<BeatEntry> {
    const next = { ...entry, lastRunAt: runAt, totalRunCount: entry.totalRunCount + 1 };
    this.map = new Map(this.map).set(entry.name, next);
    return next;
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {}
}

/** The file's shape (version 1). Times are ISO 8601 UTC strings. */
interface StoredFile {
  format: "celeriac-beat-schedule";
  version: 1;
  tz: string | null;
  utc_enabled: boolean;
  entries: Record<
    string,
    { task: string; schedule: string; last_run_at: string | null; total_run_count: number }
  >;
}

export interface JsonFileStoreOptions {
  /** Path of the JSON file (`beat_schedule_filename`). */
  path: string;
  /** The app's `timezone` and `enableUtc`: a change resets the stored run times, as Celery does. */
  timezone: string | null;
  enableUtc: boolean;
  log: Logger;
}

/**
 * celery/beat.py `PersistentScheduler` with a JSON file instead of a shelve:
 * last-run times and counts survive a restart. The file is rewritten (write
 * then rename, so a crash leaves the old or the new file, never half of one)
 * on every reserve, not every 3 minutes as Celery syncs, so a restart never
 * sends an entry again that was already sent.
 */
export class JsonFileStore extends MemoryStore {
  override readonly info: string;

  constructor(private readonly o: JsonFileStoreOptions) {
    super();
    this.info = `    . db -> ${o.path}`;
  }

  private async load(): Promise<Map<string, BeatEntry>> {
    let text: string;
    try {
      text = await readFile(this.o.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw err;
    }
    let data: StoredFile;
    try {
      data = JSON.parse(text) as StoredFile;
      if (
        data?.format !== "celeriac-beat-schedule" ||
        typeof data.entries !== "object" ||
        data.entries === null
      )
        throw new Error("not a celeriac beat schedule file");
    } catch (err) {
      // celery/beat.py PersistentScheduler._destroy_open_corrupted_schedule; kept aside, not deleted.
      const aside = `${this.o.path}.corrupt-${Date.now()}`;
      this.o.log.error(
        `beat: Removing corrupted schedule file ${JSON.stringify(this.o.path)} (moved to ${aside}): ${(err as Error).message}`,
      );
      await rename(this.o.path, aside);
      return new Map();
    }
    if (data.tz !== this.o.timezone) {
      this.o.log.warn(
        `Reset: Timezone changed from ${JSON.stringify(data.tz)} to ${JSON.stringify(this.o.timezone)}`,
      );
      return new Map();
    }
    if (data.utc_enabled !== this.o.enableUtc) {
      const said = (b: boolean) => (b ? "enabled" : "disabled");
      this.o.log.warn(`Reset: UTC changed from ${said(data.utc_enabled)} to ${said(this.o.enableUtc)}`);
      return new Map();
    }
    const out = new Map<string, BeatEntry>();
    for (const [name, e] of Object.entries(data.entries)) {
      const last = e.last_run_at === null ? null : Date.parse(e.last_run_at);
      // Only the run bookkeeping matters: merge() takes everything else from the configured entry.
      out.set(name, {
        name,
        task: e.task,
        schedule: { kind: "stored" } as never,
        args: [],
        kwargs: {},
        options: {},
        lastRunAt: last !== null && Number.isFinite(last) ? last : null,
        totalRunCount: Number.isInteger(e.total_run_count) ? e.total_run_count : 0,
      });
    }
    return out;
  }

  override async open(configured: readonly BeatEntry[], now: number): Promise<void> {
    this.map = await this.load();
    await super.open(configured, now);
    await this.sync();
  }

  override async reserve(entry: BeatEntry, runAt: number): Promise<BeatEntry> {
    const next = await super.reserve(entry, runAt);
    await this.sync();
    return next;
  }

  override async sync(): Promise<void> {
    const data: StoredFile = {
      format: "celeriac-beat-schedule",
      version: 1,
      tz: this.o.timezone,
      utc_enabled: this.o.enableUtc,
      entries: {},
    };
    for (const [name, e] of this.map) {
      data.entries[name] = {
        task: e.task,
        schedule: String(e.schedule),
        last_run_at: e.lastRunAt === null ? null : new Date(e.lastRunAt).toISOString(),
        total_run_count: e.totalRunCount,
      };
    }
    const tmp = `${this.o.path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
    await rename(tmp, this.o.path);
  }
}
