/**
 * The Redis operations celery-redbeat 2.4's scheduler does (redbeat/schedulers.py
 * `RedBeatScheduler`, `RedBeatSchedulerEntry`, 2.4.2), in its own words: entry hashes with
 * `definition` and `meta`, the `schedule` sorted set scored by next run, the `statics` set, and
 * the redis-py `Lock` on the lock key. Key names are the scheduler's (beat/redbeat.ts).
 */
export interface RedBeatStore {
  /** `SMEMBERS <statics>`. */
  statics(staticsKey: string): Promise<string[]>;
  /** Drops an old static entry: ZREM from the schedule, DEL its hash, SREM from statics (one MULTI). */
  removeStatic(keys: { schedule: string; statics: string; entry: string }, name: string): Promise<void>;
  /** `SADD <statics> names...`. */
  addStatics(staticsKey: string, names: readonly string[]): Promise<void>;
  /** `HMGET <entry> definition meta`. */
  readEntry(entryKey: string): Promise<{ definition: string | null; meta: string | null }>;
  /** Stores a configured entry: HSET definition, HSETNX meta (a stored run time is kept), ZADD its score. */
  storeEntry(
    keys: { schedule: string; entry: string },
    entry: { definition: string; meta: string; score: number },
  ): Promise<void>;
  /** `_next_instance`: HSET meta and ZADD the new score (one MULTI). */
  reserve(keys: { schedule: string; entry: string }, meta: string, score: number): Promise<void>;
  /** `ZREM <schedule> <entry>` (an entry whose hash is gone). */
  unschedule(scheduleKey: string, entryKey: string): Promise<void>;
  /** The entries due by `maxDueAt` (whole seconds) and the first one due within `(maxDueAt, until]`. */
  dueAndNext(
    scheduleKey: string,
    maxDueAt: number,
    until: number,
  ): Promise<{ due: string[]; next: string[] }>;
  /** `SET <lock> <token> PX ttl NX`: true when taken. */
  acquireLock(lockKey: string, token: string, ttlMs: number): Promise<boolean>;
  /** RedBeat's extend-to script: true while the lock is still ours. */
  extendLock(lockKey: string, token: string, ttlMs: number): Promise<boolean>;
  /** redis-py `Lock.release`: deletes the lock if still ours. */
  releaseLock(lockKey: string, token: string): Promise<void>;
  close(): Promise<void>;
}
