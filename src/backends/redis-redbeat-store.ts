import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { createRedisClient } from "../transports/redis/connection.js";
import { parseRedisUrl } from "../transports/redis/url.js";
import type { RedBeatStore } from "./redbeat-store.js";

/** redbeat/schedulers.py `LUA_EXTEND_TO_SCRIPT` (celery-redbeat 2.4.2): set the TTL to ARGV[2] ms if we still own the lock. */
const LUA_EXTEND_TO = `
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
local expiration = redis.call('pttl', KEYS[1])
if not expiration then
    expiration = 0
end
if expiration < 0 then
    return 0
end
redis.call('pexpire', KEYS[1], ARGV[2])
return 1
`;

/** redis-py `Lock.LUA_RELEASE_SCRIPT`. */
const LUA_RELEASE = `
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1
`;

/** {@link RedBeatStore} on ioredis. */
export class RedisRedBeatStore implements RedBeatStore {
  private readonly redis: Redis;

  constructor(url: string, useSsl: Settings["brokerUseSsl"]) {
    this.redis = createRedisClient(parseRedisUrl("redbeatRedisUrl", url, useSsl));
  }

  statics(staticsKey: string): Promise<string[]> {
    return this.redis.smembers(staticsKey);
  }

  async removeStatic(
    keys: { schedule: string; statics: string; entry: string },
    name: string,
  ): Promise<void> {
    await this.redis.multi().zrem(keys.schedule, keys.entry).del(keys.entry).srem(keys.statics, name).exec();
  }

  async addStatics(staticsKey: string, names: readonly string[]): Promise<void> {
    await this.redis.sadd(staticsKey, ...names);
  }

  async readEntry(entryKey: string): Promise<{ definition: string | null; meta: string | null }> {
    const [definition, meta] = await this.redis.hmget(entryKey, "definition", "meta");
    return { definition: definition ?? null, meta: meta ?? null };
  }

  async storeEntry(
    keys: { schedule: string; entry: string },
    entry: { definition: string; meta: string; score: number },
  ): Promise<void> {
    await this.redis
      .multi()
      .hset(keys.entry, "definition", entry.definition)
      .hsetnx(keys.entry, "meta", entry.meta)
      .zadd(keys.schedule, entry.score, keys.entry)
      .exec();
  }

  async reserve(keys: { schedule: string; entry: string }, meta: string, score: number): Promise<void> {
    await this.redis.multi().hset(keys.entry, "meta", meta).zadd(keys.schedule, score, keys.entry).exec();
  }

  async unschedule(scheduleKey: string, entryKey: string): Promise<void> {
    await this.redis.zrem(scheduleKey, entryKey);
  }

  async dueAndNext(
    scheduleKey: string,
    maxDueAt: number,
    until: number,
  ): Promise<{ due: string[]; next: string[] }> {
    const [due, next] = await Promise.all([
      this.redis.zrangebyscore(scheduleKey, 0, maxDueAt),
      this.redis.zrangebyscore(scheduleKey, `(${maxDueAt}`, until, "LIMIT", 0, 1),
    ]);
    return { due, next };
  }

  async acquireLock(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(lockKey, token, "PX", ttlMs, "NX")) === "OK";
  }

  async extendLock(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(LUA_EXTEND_TO, 1, lockKey, token, ttlMs)) === 1;
  }

  async releaseLock(lockKey: string, token: string): Promise<void> {
    await this.redis.eval(LUA_RELEASE, 1, lockKey, token);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
