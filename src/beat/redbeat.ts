import { randomUUID } from "node:crypto";
import { createRedBeatStore } from "../backends/beat-store-factory.js";
import type { RedBeatStore } from "../backends/redbeat-store.js";
import type { Settings } from "../config.js";
import type { Logger } from "../logging.js";
import type { BeatEntry } from "./entry.js";
import {
  decodeEntry,
  encodeDefinition,
  encodeMeta,
  RedBeatDecodeError,
  type RedBeatEntry,
} from "./redbeat-codec.js";
import { humanizeSeconds, type SchedState, type ScheduleContext } from "./schedule.js";
import { type BeatScheduler, DEFAULT_MAX_INTERVAL, type SendEntry } from "./scheduler.js";
import { toInstant, wallOf } from "./zoned.js";

/**
 * celery-redbeat 2.4's scheduler (redbeat/schedulers.py `RedBeatScheduler`,
 * 2.4.2) on the same Redis keys, so a Python RedBeat beat and this one share
 * one schedule and take turns holding one lock:
 *
 * - `<prefix><name>` hashes (`definition`, `meta`), `<prefix>:schedule` (a
 *   sorted set of entry keys scored by next run, whole UTC seconds),
 *   `<prefix>:statics` (names that came from `beat_schedule`), and
 *   `<prefix>:lock` (`SET NX PX lock_timeout`, redis-py `Lock` token, TTL
 *   pushed back to the full timeout on every tick by RedBeat's own script).
 * - Only the lock holder ticks. A beat without it tries again every
 *   `max_interval` seconds, so it takes over at most `lock_timeout +
 *   max_interval` after the holder dies.
 * - A tick sends every entry whose score is due, writing its new `meta` and
 *   score before the publish (`_next_instance`), so the other beat never
 *   sends it again.
 * Where Python's RedBeat crashes beat on a lost lock (`LockNotOwnedError`
 * out of `tick`), this one logs an error naming the lock key, sends nothing,
 * and waits to acquire the lock again.
 */

export interface RedBeatOptions {
  settings: Settings;
  configured: readonly BeatEntry[];
  /** Default entries (celery.backend_cleanup): stored like the configured ones, not listed in statics. */
  defaults?: readonly BeatEntry[];
  send: SendEntry;
  ctx: ScheduleContext;
  log: Logger;
  /** `beat_max_loop_interval`; 0 = 300 s. */
  maxInterval?: number;
  now?: () => number;
  /** An open store (tests); default one on `redbeatRedisUrl`, else the broker URL. */
  store?: RedBeatStore;
}

export class RedBeatScheduler implements BeatScheduler {
  readonly maxInterval: number;
  readonly lockTimeout: number;
  readonly keyPrefix: string;
  readonly scheduleKey: string;
  readonly staticsKey: string;
  readonly lockKey: string | null;
  private readonly store: RedBeatStore;
  private readonly url: string;
  private readonly token = randomUUID().replace(/-/g, "");
  private held = false;
  private waitingLogged = false;
  private readonly badKeys = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly o: RedBeatOptions) {
    const s = o.settings;
    this.maxInterval = o.maxInterval || DEFAULT_MAX_INTERVAL;
    this.keyPrefix = s.redbeatKeyPrefix;
    this.scheduleKey = `${this.keyPrefix}:schedule`;
    this.staticsKey = `${this.keyPrefix}:statics`;
    // redbeat/schedulers.py RedBeatConfig: a lock key without the prefix gets it.
    const lock = s.redbeatLockKey === "" ? `${this.keyPrefix}:lock` : s.redbeatLockKey;
    this.lockKey = lock === null ? null : lock.startsWith(this.keyPrefix) ? lock : this.keyPrefix + lock;
    this.lockTimeout = s.redbeatLockTimeout || this.maxInterval * 5;
    this.url = s.redbeatRedisUrl ?? s.broker;
    this.store = o.store ?? createRedBeatStore(this.url, s.brokerUseSsl);
    this.now = o.now ?? Date.now;
  }

  get info(): string {
    const lines = [`       . redis -> ${this.url.replace(/\/\/[^@/]*@/, "//***@")}`];
    if (this.lockKey)
      lines.push(
        `       . lock -> \`${this.lockKey}\` ${humanizeSeconds(this.lockTimeout)} (${this.lockTimeout}s)`,
      );
    return lines.join("\n");
  }

  private key(name: string): string {
    return this.keyPrefix + name;
  }

  /** `RedBeatSchedulerEntry.due_at` as a score: whole UTC seconds; overdue or never run = now. */
  private score(entry: BeatEntry, now: number): number {
    if (entry.lastRunAt === null) return Math.floor(now / 1000);
    const delta = entry.schedule.remainingEstimate(entry.lastRunAt, now, this.o.ctx);
    if (delta < 0) return Math.floor(now / 1000);
    return Math.floor((entry.lastRunAt + delta) / 1000);
  }

  /** `setup_schedule`: drop statics no longer configured, store the configured ones keeping their run times. */
  async setup(): Promise<void> {
    const names = new Set(this.o.configured.map((e) => e.name));
    const previous = await this.store.statics(this.staticsKey);
    for (const name of previous.filter((n) => !names.has(n))) {
      this.o.log.debug(`beat: Removing old static schedule entry '${name}'.`);
      await this.store.removeStatic(
        { schedule: this.scheduleKey, statics: this.staticsKey, entry: this.key(name) },
        name,
      );
    }
    const now = this.now();
    for (const configured of [...(this.o.defaults ?? []), ...this.o.configured]) {
      const key = this.key(configured.name);
      const { definition, meta } = await this.store.readEntry(key);
      // A new entry starts counting now (ScheduleEntry.__init__'s default_now()); a stored one keeps its last run.
      let lastRunAt: number | null = now;
      if (definition) {
        try {
          lastRunAt = decodeEntry(definition, meta).entry.lastRunAt;
        } catch (err) {
          this.o.log.warn(
            `beat: Stored entry ${key} cannot be read (${(err as Error).message}); replacing it`,
          );
        }
      }
      const entry = { ...configured, lastRunAt };
      await this.store.storeEntry(
        { schedule: this.scheduleKey, entry: key },
        {
          definition: encodeDefinition(entry, true, this.o.ctx.zone),
          meta: encodeMeta(lastRunAt, this.o.ctx.zone),
          score: this.score(entry, now),
        },
      );
      this.o.log.debug(`beat: Stored entry: ${configured.name}`);
    }
    if (names.size > 0) await this.store.addStatics(this.staticsKey, [...names]);
  }

  /** Takes or keeps the lock; false when another beat holds it (or ours was lost). */
  private async holdLock(): Promise<boolean> {
    if (this.lockKey === null) return true;
    const ttlMs = Math.trunc(this.lockTimeout * 1000);
    if (this.held) {
      if (await this.store.extendLock(this.lockKey, this.token, ttlMs)) return true;
      this.held = false;
      this.o.log.error(
        `beat: Lost the RedBeat lock ${this.lockKey} (expired or taken by another beat); sending nothing until it is acquired again`,
      );
    }
    if (await this.store.acquireLock(this.lockKey, this.token, ttlMs)) {
      this.held = true;
      this.waitingLogged = false;
      this.o.log.info("beat: Acquired lock");
      return true;
    }
    if (!this.waitingLogged) {
      this.o.log.info(
        `beat: Lock ${this.lockKey} is held by another beat; trying again every ${this.maxInterval}s`,
      );
      this.waitingLogged = true;
    }
    return false;
  }

  async tick(): Promise<number> {
    try {
      if (!(await this.holdLock())) return this.maxInterval;
      return await this.sendDue();
    } catch (err) {
      if (err instanceof RedBeatDecodeError) throw err;
      this.o.log.error(
        { err },
        `beat: Redis error, trying again in ${humanizeSeconds(this.maxInterval)}: ${(err as Error).message}`,
      );
      return this.maxInterval;
    }
  }

  /** `RedBeatScheduler.tick` after the lock: the due entries plus a peek at the next one. */
  private async sendDue(): Promise<number> {
    const maxDueAt = Math.floor(this.now() / 1000);
    const { due, next } = await this.store.dueAndNext(
      this.scheduleKey,
      maxDueAt,
      maxDueAt + this.maxInterval,
    );
    const remaining: number[] = [];
    for (const key of [...due, ...next]) {
      const entry = await this.load(key);
      if (entry === null) continue;
      const nextRun = await this.maybeDue(key, entry);
      if (nextRun) remaining.push(nextRun);
    }
    return Math.min(...remaining, this.maxInterval);
  }

  private async load(key: string): Promise<RedBeatEntry | null> {
    const { definition, meta } = await this.store.readEntry(key);
    if (!definition) {
      this.o.log.warn(`beat: Failed to load ${key}, removing`);
      await this.store.unschedule(this.scheduleKey, key);
      return null;
    }
    try {
      const { entry, ignoredOptions } = decodeEntry(definition, meta);
      if (ignoredOptions.length > 0 && !this.badKeys.has(`${key}:options`)) {
        this.badKeys.add(`${key}:options`);
        this.o.log.warn(`beat: ${key}: options ${ignoredOptions.join(", ")} are not sent by Celeriac`);
      }
      return entry;
    } catch (err) {
      // Left in place for the Python beat (or a fix); reported once per key.
      if (!this.badKeys.has(key)) {
        this.badKeys.add(key);
        this.o.log.error(`beat: Cannot use schedule entry ${key}: ${(err as Error).message}`);
      }
      return null;
    }
  }

  /** `RedBeatSchedulerEntry.is_due`: disabled entries are checked again in 5 s; never run = long ago. */
  private isDue(entry: RedBeatEntry, now: number): SchedState {
    if (!entry.enabled) return { isDue: false, next: 5 };
    const last = entry.lastRunAt ?? toInstant({ wall: wallOf(1, 1, 2), fold: 0, zone: this.o.ctx.zone });
    return entry.schedule.isDue(last, now, this.o.ctx);
  }

  private async maybeDue(key: string, entry: RedBeatEntry): Promise<number> {
    const now = this.now();
    const { isDue, next } = this.isDue(entry, now);
    if (!isDue) return next;
    this.o.log.info(`Scheduler: Sending due task ${entry.name} (${entry.task})`);
    // _next_instance: meta and score first, so neither beat sends this run again.
    const reserved = { ...entry, lastRunAt: now, totalRunCount: entry.totalRunCount + 1 };
    await this.store.reserve(
      { schedule: this.scheduleKey, entry: key },
      encodeMeta(now, this.o.ctx.zone, reserved.totalRunCount),
      this.score(reserved, this.now()),
    );
    try {
      const id = await this.o.send(reserved);
      this.o.log.debug(`Scheduler: ${entry.task} sent. id->${id}`);
    } catch (err) {
      this.o.log.error({ err }, `Scheduler: Message Error: ${(err as Error).message}`);
    }
    return next;
  }

  async maybeSync(): Promise<void> {}

  /** Releases the lock if still ours (redis-py `Lock.release`), then closes the connection. */
  async close(): Promise<void> {
    try {
      if (this.held && this.lockKey) {
        this.o.log.info("beat: Releasing lock");
        await this.store.releaseLock(this.lockKey, this.token);
        this.held = false;
      }
    } finally {
      if (!this.o.store) await this.store.close();
    }
  }
}
