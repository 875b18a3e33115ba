import type { Redis } from "ioredis";
import { atTurnEnd } from "../transports/turn-end.js";
import { runStoreScript, type ScriptOutcome, type ScriptWrite } from "./redis-store-script.js";

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
 * Coalesces the result writes of one event-loop turn: the stored-SUCCESS check and every
 * SETEX+PUBLISH pair of the whole batch go out in one script call ({@link runStoreScript}: one
 * socket write, one round trip) instead of a transaction per task; only entries whose key already
 * held a value written elsewhere take a second call, after their stored value is decoded here.
 *
 * Celery's order is kept exactly: writes are applied in the order they were asked for, a flush
 * starts only after the previous one has finished (so its check sees every earlier write), and
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
    // At the end of this turn's microtask drain: every write asked for during the turn (the whole
    // batch of finished tasks, their continuations) joins the same flush, and a lone result goes
    // out at once instead of after the loop's check phase (behind the ack pipeline and the next
    // take). Writes asked for while a flush is in flight wait for it and go out together after.
    atTurnEnd(() => {
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
    // The whole flush (both script calls) retries together: a retry re-reads what is stored,
    // and an entry written by the failed attempt then reads as stored by this batch.
    const outcomes = await this.host.run("SET", async (client) => {
      const first = await runStoreScript(client, batch.map(toScriptWrite));
      const deferredAt: number[] = [];
      for (const [i, outcome] of first.entries()) if (outcome.kind === "deferred") deferredAt.push(i);
      if (deferredAt.length === 0) return first;
      return this.settleDeferred(client, batch, first, deferredAt);
    });
    for (const [i, entry] of batch.entries()) {
      const outcome = outcomes[i];
      if (outcome?.kind === "refused") entry.reject(outcome.error);
      else entry.resolve();
    }
  }

  /**
   * The entries whose key already held a value the script did not write: decoded here (the
   * script cannot read every serializer), then written in order as the MGET-then-write check of
   * `_store_result` does: skipped while the key holds a SUCCESS (stored, or written earlier in
   * this batch), written otherwise.
   */
  private async settleDeferred(
    client: Redis,
    batch: readonly PendingWrite[],
    outcomes: ScriptOutcome[],
    deferredAt: readonly number[],
  ): Promise<ScriptOutcome[]> {
    const storedByKey = new Map<string, Buffer>();
    for (const i of deferredAt) {
      const outcome = outcomes[i];
      const entry = batch[i] as PendingWrite;
      if (outcome?.kind === "deferred" && outcome.stored) storedByKey.set(entry.key, outcome.stored);
    }
    const successKeys = new Set<string>();
    const writes: ScriptWrite[] = [];
    const writtenAt: number[] = [];
    for (const i of deferredAt) {
      const entry = batch[i] as PendingWrite;
      if (entry.guardTaskId !== null) {
        try {
          const data = storedByKey.get(entry.key);
          if (successKeys.has(entry.key) || (data && this.host.isSuccess(data, entry.guardTaskId))) {
            successKeys.add(entry.key);
            outcomes[i] = { kind: "skipped" };
            continue;
          }
        } catch (err) {
          outcomes[i] = { kind: "refused", error: err instanceof Error ? err : new Error(String(err)) };
          continue;
        }
        if (entry.state === "SUCCESS") successKeys.add(entry.key);
      }
      writes.push({ ...toScriptWrite(entry), guarded: false });
      writtenAt.push(i);
    }
    const second = await runStoreScript(client, writes);
    for (const [j, i] of writtenAt.entries()) outcomes[i] = second[j] ?? { kind: "written" };
    return outcomes;
  }
}

function toScriptWrite(entry: PendingWrite): ScriptWrite {
  return {
    key: entry.key,
    value: entry.value,
    ttl: entry.ttl,
    state: entry.state,
    guarded: entry.guardTaskId !== null,
  };
}
