import type { Logger } from "../logging.js";
import { type BeatEntry, editableFieldsEqual } from "./entry.js";
import type { SchedState, ScheduleContext } from "./schedule.js";
import { humanizeSeconds } from "./schedule.js";

/**
 * The scheduler interfaces (celery/beat.py `Scheduler`, 5.7.0) and Celery's
 * default heap scheduler over a pluggable {@link ScheduleStore}.
 *
 * Two levels to plug in at:
 * - a {@link ScheduleStore} (where entries and their last-run times live:
 *   memory, a JSON file, a database) under the {@link HeapScheduler}, which
 *   keeps Celery's `tick` (a heap of next-run times, one due entry sent per
 *   tick, `reserve` before the publish so a crash never re-sends);
 * - or a whole {@link BeatScheduler} with its own `tick` (RedBeat's, which
 *   takes due entries from a Redis sorted set under a lock).
 * The {@link Beat} service (src/beat/service.ts) drives either.
 */

/** What the beat service drives (celery/beat.py `Scheduler` as `Service` uses it). */
export interface BeatScheduler {
  /** Seconds the service may sleep at most between ticks (`max_interval`). */
  readonly maxInterval: number;
  /** One line per fact for the start-up banner (`Scheduler.info`). */
  readonly info: string;
  /** `setup_schedule`: open storage, merge the configured entries, take locks. */
  setup(): Promise<void>;
  /** One iteration: sends at most what is due now; resolves to seconds until the next call. */
  tick(): Promise<number>;
  /** `should_sync` / `_do_sync`: called by the service after each sleep. */
  maybeSync(): Promise<void>;
  /** Final sync, then release storage and locks (`Scheduler.close`). */
  close(): Promise<void>;
}

/** Sends one entry's task (the beat service wires it to the app's producer). Resolves to the task id. */
export type SendEntry = (entry: BeatEntry) => Promise<string>;

/**
 * Where a {@link HeapScheduler} keeps its entries (Celery's `Scheduler.schedule`
 * dict and what persists it). Implemented by MemoryStore, JsonFileStore and
 * database stores.
 */
export interface ScheduleStore {
  /** For the banner, e.g. `. db -> /var/run/celerybeat-schedule.json`. */
  readonly info: string;
  /** The max loop interval this store wants when `beatMaxLoopInterval` is 0 (Celery: 300 s; django-celery-beat: 5 s). */
  readonly defaultMaxInterval?: number;
  /**
   * `setup_schedule`: open the store and merge the app's `beatSchedule`
   * entries into it (new ones added, edited fields updated, last-run times
   * kept). `now` is the start time (UTC ms).
   */
  open(configured: readonly BeatEntry[], now: number): Promise<void>;
  /**
   * The current entries, asked on every tick. Return the same map while
   * nothing changed; a changed set of names or changed editable fields makes
   * the scheduler rebuild its heap (`Scheduler.schedules_equal`).
   */
  entries(): Promise<ReadonlyMap<string, BeatEntry>>;
  /**
   * `Scheduler.reserve`: the entry is sent now. Record `lastRunAt: runAt` and
   * `totalRunCount + 1` (in memory or durably) and return that entry. Called
   * before the publish; a failed publish still counts as a run, as in Celery.
   */
  reserve(entry: BeatEntry, runAt: number): Promise<BeatEntry>;
  /**
   * Optional `ScheduleEntry.is_due` override, for entries a store can disable
   * (django-celery-beat's `enabled`, `one_off`, `start_time`, `expires`).
   * Return undefined to use `entry.schedule.isDue`.
   */
  isDue?(entry: BeatEntry, lastRunAt: number, now: number, ctx: ScheduleContext): SchedState | undefined;
  /** Persist what `reserve` recorded (`Scheduler.sync`). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Celery's `DEFAULT_MAX_INTERVAL`: 5 minutes. */
export const DEFAULT_MAX_INTERVAL = 300;

/** celery/beat.py `Scheduler.adjust`: wake 10 ms early. */
function adjust(n: number): number {
  return n > 0 ? n - 0.01 : n;
}

interface HeapEvent {
  /** Seconds since the epoch. */
  time: number;
  entry: BeatEntry;
}

export interface HeapSchedulerOptions {
  store: ScheduleStore;
  configured: readonly BeatEntry[];
  send: SendEntry;
  ctx: ScheduleContext;
  log: Logger;
  /** `beat_max_loop_interval` (0 = the store's default, else 300 s). */
  maxInterval?: number;
  /** `beat_sync_every`: sync after this many sent tasks (0 = by time only). */
  syncEveryTasks?: number;
  /** Clock (UTC ms); tests pass their own. */
  now?: () => number;
}

/**
 * celery/beat.py `Scheduler` with its heap `tick`: pops the earliest entry,
 * sends it when `is_due` says so, pushes it back at its next run time. Only
 * one due entry is sent per tick (the service calls again at once).
 */
export class HeapScheduler implements BeatScheduler {
  readonly maxInterval: number;
  /** celery/beat.py `Scheduler.sync_every`: 3 minutes. */
  private readonly syncEvery = 180_000;
  private heap: HeapEvent[] | null = null;
  private old: ReadonlyMap<string, BeatEntry> | null = null;
  private readonly firstSeen = new Map<string, number>();
  private lastSync: number | null = null;
  private tasksSinceSync = 0;
  private readonly now: () => number;

  constructor(private readonly o: HeapSchedulerOptions) {
    this.maxInterval = o.maxInterval || o.store.defaultMaxInterval || DEFAULT_MAX_INTERVAL;
    this.now = o.now ?? Date.now;
  }

  get info(): string {
    return this.o.store.info;
  }

  async setup(): Promise<void> {
    await this.o.store.open(this.o.configured, this.now());
  }

  /** `last_run_at or default_now()`: an entry never run counts from when this process first saw it. */
  private lastRunAt(entry: BeatEntry): number {
    if (entry.lastRunAt !== null) return entry.lastRunAt;
    let seen = this.firstSeen.get(entry.name);
    if (seen === undefined) {
      seen = this.now();
      this.firstSeen.set(entry.name, seen);
    }
    return seen;
  }

  private isDue(entry: BeatEntry): SchedState {
    try {
      const now = this.now();
      const last = this.lastRunAt(entry);
      return (
        this.o.store.isDue?.(entry, last, now, this.o.ctx) ?? entry.schedule.isDue(last, now, this.o.ctx)
      );
    } catch (err) {
      // celery/beat.py Scheduler._is_due_failed: one bad entry must not stop beat.
      this.o.log.error(
        { err },
        `beat: Cannot calculate the next run of ${JSON.stringify(entry.name)}, trying again in ${humanizeSeconds(this.maxInterval)}.`,
      );
      return { isDue: false, next: this.maxInterval };
    }
  }

  /** `Scheduler._when`: now + the (adjusted) delay, in seconds. */
  private when(delay: number): number {
    return this.now() / 1000 + (adjust(delay) || 0);
  }

  private populateHeap(entries: ReadonlyMap<string, BeatEntry>): void {
    this.heap = [];
    for (const entry of entries.values()) {
      const { isDue, next } = this.isDue(entry);
      this.push({ time: this.when(isDue ? 0 : next), entry });
    }
  }

  private push(event: HeapEvent): void {
    const heap = this.heap as HeapEvent[];
    let i = heap.findIndex((e) => e.time > event.time);
    if (i < 0) i = heap.length;
    heap.splice(i, 0, event);
  }

  private schedulesEqual(
    a: ReadonlyMap<string, BeatEntry> | null,
    b: ReadonlyMap<string, BeatEntry>,
  ): boolean {
    if (a === null || a.size !== b.size) return false;
    for (const [name, old] of a) {
      const next = b.get(name);
      if (!next || !editableFieldsEqual(old, next)) return false;
    }
    return true;
  }

  async tick(): Promise<number> {
    const entries = await this.o.store.entries();
    if (this.heap === null || (entries !== this.old && !this.schedulesEqual(this.old, entries))) {
      this.populateHeap(entries);
    }
    this.old = entries;
    const heap = this.heap as HeapEvent[];
    const event = heap[0];
    if (event === undefined) return this.maxInterval;
    const entry = event.entry;
    const now = this.when(0);
    if (event.time > now) return Math.min(event.time - now, this.maxInterval);
    const { isDue, next } = this.isDue(entry);
    heap.shift();
    if (isDue) {
      const nextEntry = await this.o.store.reserve(entry, this.now());
      this.firstSeen.delete(entry.name);
      await this.applyEntry(entry);
      this.push({ time: this.when(next), entry: nextEntry });
      return 0;
    }
    // Not due after all: re-heap at its retry time so the entries behind it
    // get their turn (celery/celery#7649).
    const delay = Number.isFinite(next) ? next : this.maxInterval;
    this.push({ time: this.when(delay), entry });
    return heap[0] !== undefined && heap[0].entry.name !== entry.name
      ? 0
      : Math.min(adjust(delay), this.maxInterval);
  }

  /** celery/beat.py `Scheduler.apply_entry`: a failed send is logged; beat goes on. */
  private async applyEntry(entry: BeatEntry): Promise<void> {
    this.o.log.info(`Scheduler: Sending due task ${entry.name} (${entry.task})`);
    try {
      const id = await this.o.send(entry);
      this.o.log.debug(`${entry.task} sent. id->${id}`);
    } catch (err) {
      this.o.log.error(
        { err },
        `Message Error: Couldn't apply scheduled task ${entry.name}: ${(err as Error).message}`,
      );
    } finally {
      this.tasksSinceSync += 1;
      if (this.shouldSync()) await this.doSync();
    }
  }

  private shouldSync(): boolean {
    const every = this.o.syncEveryTasks ?? 0;
    return (
      this.lastSync === null ||
      performance.now() - this.lastSync > this.syncEvery ||
      (every > 0 && this.tasksSinceSync >= every)
    );
  }

  private async doSync(): Promise<void> {
    try {
      await this.o.store.sync();
    } finally {
      this.lastSync = performance.now();
      this.tasksSinceSync = 0;
    }
  }

  async maybeSync(): Promise<void> {
    if (this.shouldSync()) await this.doSync();
  }

  async close(): Promise<void> {
    try {
      await this.o.store.sync();
    } finally {
      await this.o.store.close();
    }
  }
}
