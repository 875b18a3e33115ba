import type { Redis } from "ioredis";

/**
 * One meta write waiting for the next flush: `SETEX key ttl value` (or `SET`) + `PUBLISH key value`,
 * as celery/backends/redis.py `RedisBackend._set` (5.7.0) does in one MULTI. With `guardTaskId`
 * set, the write is skipped when the key already holds a SUCCESS meta
 * (celery/backends/base.py `BaseBackend._store_result`, 5.7.0).
 */
export interface PendingWrite {
  key: string;
  value: Buffer;
  /** Seconds; null stores without expiry. */
  ttl: number | null;
  /** The meta's status (a SUCCESS written earlier in a batch guards later writes of its key). */
  state: string;
  /** The task id whose stored SUCCESS must not be overwritten; null writes unconditionally. */
  guardTaskId: string | null;
  resolve(): void;
  reject(err: unknown): void;
}

export interface StoreBatchHost {
  /** Runs `command` on the backend's client under the store retry policy. */
  run<T>(what: string, command: (client: Redis) => Promise<T>): Promise<T>;
  /** True when `data` decodes to a meta whose status is SUCCESS (throws on an undecodable value). */
  isSuccess(data: Buffer, taskId: string): boolean;
}

/**
 * Coalesces the result writes of one event-loop turn: the stored-SUCCESS check of the whole
 * batch is one MGET, and every SETEX+PUBLISH pair goes out in one MULTI/EXEC (one socket write,
 * one round trip) instead of a transaction per task.
 *
 * Celery's order is kept exactly: writes are applied in the order they were asked for, a flush
 * starts only after the previous one has finished (so its MGET sees every earlier write), and
 * within a batch a key written with SUCCESS earlier in the same batch counts as stored. Each
 * caller's promise settles when its own write is on the server, so a worker that awaits the
 * store before acking (acks_late) still acks only after the SUCCESS is stored.
 */
export class StoreBatch {
  private queued: PendingWrite[] = [];
  private flushing = false;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly host: StoreBatchHost) {}

  write(entry: Omit<PendingWrite, "resolve" | "reject">): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ ...entry, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every write asked for so far has settled (the backend's close waits for it). */
  drain(): Promise<void> {
    if (!this.scheduled && !this.flushing && this.queued.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // setImmediate: every write asked for during this turn (the whole batch of finished
    // tasks, their continuations) joins the same flush.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return this.notifyIdle();
    this.flushing = true;
    try {
      await this.apply(batch);
    } catch (err) {
      for (const entry of batch) entry.reject(err);
    } finally {
      this.flushing = false;
      if (this.queued.length > 0) this.schedule();
      else this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async apply(batch: PendingWrite[]): Promise<void> {
    const guardedKeys = [...new Set(batch.filter((e) => e.guardTaskId !== null).map((e) => e.key))];
    // The whole flush (the read and the writes) retries together: a retry re-reads what is stored.
    const outcome = await this.host.run("SET", async (client) => {
      const stored = guardedKeys.length === 0 ? [] : await client.mgetBuffer(...guardedKeys);
      const storedByKey = new Map<string, Buffer | null>();
      for (const [i, key] of guardedKeys.entries()) storedByKey.set(key, stored[i] ?? null);
      const successKeys = new Set<string>();
      const written: PendingWrite[] = [];
      const skipped: PendingWrite[] = [];
      const failed: Array<[PendingWrite, unknown]> = [];
      const multi = client.multi();
      for (const entry of batch) {
        if (entry.guardTaskId !== null) {
          try {
            const data = storedByKey.get(entry.key) ?? null;
            if (successKeys.has(entry.key) || (data && this.host.isSuccess(data, entry.guardTaskId))) {
              successKeys.add(entry.key);
              skipped.push(entry);
              continue;
            }
          } catch (err) {
            failed.push([entry, err]);
            continue;
          }
        }
        if (entry.ttl) multi.setex(entry.key, entry.ttl, entry.value);
        else multi.set(entry.key, entry.value);
        multi.publish(entry.key, entry.value);
        written.push(entry);
        if (entry.guardTaskId !== null && entry.state === "SUCCESS") successKeys.add(entry.key);
      }
      const replies = written.length === 0 ? [] : ((await multi.exec()) ?? []);
      return { written, skipped, failed, replies };
    });
    const { written, skipped, failed, replies } = outcome;
    written.forEach((entry, i) => {
      const err = replies[2 * i]?.[0] ?? replies[2 * i + 1]?.[0];
      if (err) entry.reject(err);
      else entry.resolve();
    });
    for (const entry of skipped) entry.resolve();
    for (const [entry, err] of failed) entry.reject(err);
  }
}
