import type { Redis } from "ioredis";
import { ConnectionLostError, TimeoutError } from "../errors.js";
import { READY_STATES } from "../protocol/states.js";
import {
  closeClient,
  createRedisClient,
  ensureConnecting,
  isConnectionError,
  type RedisConnectionOptions,
} from "../transports/redis/connection.js";
import type { ResultKeys } from "../transports/redis/keys.js";
import { describeEndpoint, type RedisEndpoint } from "../transports/redis/url.js";
import type { ResultMetaRecord, WaitOptions } from "./backend.js";

/**
 * The client side of Celery's Redis result backend
 * (celery/backends/redis.py `ResultConsumer`): ONE pub/sub connection shared
 * by every outstanding result.
 *
 * - `wait(id)`: SUBSCRIBE `celery-task-meta-<id>`, then GET (MGET for all ids
 *   subscribed in the same tick) to cover a result stored before the
 *   subscription, then wait for the PUBLISH. No polling loop.
 * - A ready meta resolves every waiter of that id and UNSUBSCRIBEs.
 * - After a reconnect: re-SUBSCRIBE every outstanding channel, then MGET them
 *   all (`ResultConsumer.reconnect_on_error` + `_consume_from`), so a result
 *   published while the connection was down is still seen.
 * - If the connection is given up for good, every waiter rejects with
 *   {@link ConnectionLostError}; a `timeout` rejects with {@link TimeoutError}.
 */
export interface ResultConsumerOptions {
  endpoint: RedisEndpoint;
  connection: RedisConnectionOptions;
  keys: ResultKeys;
  decode(data: Buffer, taskId: string): ResultMetaRecord;
  mget(keys: string[]): Promise<(Buffer | null)[]>;
}

interface Waiter {
  resolve(meta: ResultMetaRecord): void;
  reject(err: unknown): void;
}

/** Longest an UNSUBSCRIBE waits to ride along with the next SUBSCRIBE. */
const LEAVE_DELAY_MS = 20;

/** Ready metas that arrived for a prefetched id before anyone waited; bounded. */
const EARLY_CACHE_LIMIT = 10_000;

export class RedisResultConsumer {
  private readonly options: ResultConsumerOptions;
  private subscriber: Redis | null = null;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Ids whose channel is (being) subscribed. */
  private readonly tracked = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly early = new Map<string, ResultMetaRecord>();
  private flushScheduled = false;
  /** Ids whose channel is to be unsubscribed (after the waiter's continuation has run). */
  private readonly leaving = new Set<string>();
  private leaveTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: ResultConsumerOptions) {
    this.options = options;
  }

  private get sub(): Redis {
    if (this.subscriber === null) {
      const sub = createRedisClient(this.options.endpoint, {
        ...this.options.connection,
        autoPipelining: false,
        connectionName: "celeriac-results",
      });
      sub.on("messageBuffer", (channel: Buffer, message: Buffer) =>
        this.onMessage(channel.toString(), message),
      );
      // Every (re)connect: re-subscribe whatever is outstanding, then re-read it.
      sub.on("ready", () => void this.resync());
      // What made ioredis give up (no Sentinel answered, no such master, refused...), for the error.
      let lastError: Error | undefined;
      sub.on("error", (err: Error) => {
        lastError = err;
      });
      sub.on("end", () => {
        if (this.closed) return;
        const reason = lastError ? `: ${lastError.message}` : "";
        this.failAll(
          new ConnectionLostError(
            `result backend subscriber: cannot reach Redis at ${describeEndpoint(this.options.endpoint)}${reason}; connection given up`,
            { cause: lastError },
          ),
        );
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  /** Resolves with the first READY meta of `taskId`. */
  wait(taskId: string, options: WaitOptions = {}): Promise<ResultMetaRecord> {
    if (this.closed) {
      return Promise.reject(new ConnectionLostError("result backend is closed (app.close() was called)"));
    }
    const cached = this.early.get(taskId);
    if (cached) {
      this.early.delete(taskId);
      return Promise.resolve(cached);
    }
    return new Promise<ResultMetaRecord>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle(() => reject(options.signal?.reason ?? new Error("aborted")));
      const settle = (action: () => void) => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.removeWaiter(taskId, waiter);
        action();
      };
      const waiter: Waiter = {
        resolve: (meta) => settle(() => resolve(meta)),
        reject: (err) => settle(() => reject(err)),
      };
      if (options.signal?.aborted) {
        reject(options.signal.reason ?? new Error("aborted"));
        return;
      }
      if (options.timeout !== undefined) {
        timer = setTimeout(
          () =>
            waiter.reject(
              new TimeoutError(`The operation timed out waiting for the result of task ${taskId}`),
            ),
          Math.max(0, options.timeout),
        );
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      let set = this.waiters.get(taskId);
      if (!set) {
        set = new Set();
        this.waiters.set(taskId, set);
      }
      set.add(waiter);
      this.track(taskId);
    });
  }

  /** Subscribe early (Celery `on_task_call`); a ready meta arriving before `wait()` is kept. */
  async prefetch(taskId: string): Promise<void> {
    this.track(taskId);
  }

  /** Stop listening for `taskId` (`ResultConsumer.cancel_for`). */
  cancel(taskId: string): void {
    this.early.delete(taskId);
    if (!this.waiters.has(taskId)) this.untrack(taskId);
  }

  private track(taskId: string): void {
    // Tracked again before its UNSUBSCRIBE went out: the channel stays subscribed.
    this.leaving.delete(taskId);
    if (this.tracked.has(taskId)) return;
    this.tracked.add(taskId);
    this.pending.add(taskId);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => void this.flush());
    }
  }

  private untrack(taskId: string): void {
    if (!this.tracked.delete(taskId)) return;
    this.pending.delete(taskId);
    // UNSUBSCRIBE later, many ids in one command: ahead of the next SUBSCRIBE (one write, and
    // Redis answers both at once), or after LEAVE_DELAY_MS when no wait comes. Not at once: that
    // write and its reply delayed the caller whose get() this result resolves, and then competed
    // for the CPU with the worker running its next task.
    this.leaving.add(taskId);
    if (this.leaveTimer === null) {
      this.leaveTimer = setTimeout(() => this.unsubscribeLeaving(), LEAVE_DELAY_MS);
      this.leaveTimer.unref();
    }
  }

  private unsubscribeLeaving(): void {
    if (this.leaveTimer !== null) clearTimeout(this.leaveTimer);
    this.leaveTimer = null;
    const ids = [...this.leaving];
    this.leaving.clear();
    const sub = this.subscriber;
    if (ids.length === 0 || !sub || sub.status !== "ready") return;
    sub.unsubscribe(...ids.map((id) => this.options.keys.taskMeta(id))).catch(() => {});
  }

  private removeWaiter(taskId: string, waiter: Waiter): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) {
      this.waiters.delete(taskId);
      this.untrack(taskId);
    }
  }

  /** SUBSCRIBE the ids queued this tick, then MGET them (the race cover). */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const ids = [...this.pending];
    this.pending.clear();
    if (ids.length === 0 || this.closed) return;
    await this.subscribeThenRead(ids);
  }

  private async subscribeThenRead(ids: string[]): Promise<void> {
    const sub = this.sub;
    const keys = ids.map((id) => this.options.keys.taskMeta(id));
    try {
      ensureConnecting(sub);
      this.unsubscribeLeaving();
      await sub.subscribe(...keys);
      const values = await this.options.mget(keys);
      values.forEach((data, i) => {
        const id = ids[i];
        if (data && id !== undefined) this.consider(id, data);
      });
    } catch (err) {
      if (isConnectionError(err)) return; // the 'ready' handler re-subscribes and re-reads after reconnect
      for (const id of ids) this.rejectId(id, err);
    }
  }

  /** After a reconnect: every tracked channel again, then MGET all of them. */
  private async resync(): Promise<void> {
    const ids = [...this.tracked];
    if (ids.length > 0 && !this.closed) await this.subscribeThenRead(ids);
  }

  private onMessage(channel: string, message: Buffer): void {
    const taskId = this.options.keys.taskIdOf(channel);
    if (taskId !== null && this.tracked.has(taskId)) this.consider(taskId, message);
  }

  private consider(taskId: string, data: Buffer): void {
    if (!this.tracked.has(taskId)) return; // already delivered (a duplicate read after resync)
    let meta: ResultMetaRecord;
    try {
      meta = this.options.decode(data, taskId);
    } catch (err) {
      this.rejectId(taskId, err);
      return;
    }
    if (!READY_STATES.has(meta.status)) return;
    const set = this.waiters.get(taskId);
    if (!set || set.size === 0) {
      if (this.early.size >= EARLY_CACHE_LIMIT) {
        const oldest = this.early.keys().next().value;
        if (oldest !== undefined) this.early.delete(oldest);
      }
      this.early.set(taskId, meta);
      this.untrack(taskId);
      return;
    }
    for (const waiter of [...set]) waiter.resolve(meta);
  }

  private rejectId(taskId: string, err: unknown): void {
    const set = this.waiters.get(taskId);
    if (set) for (const waiter of [...set]) waiter.reject(err);
    else this.untrack(taskId);
  }

  private failAll(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.rejectId(id, err);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.leaveTimer !== null) clearTimeout(this.leaveTimer);
    this.leaveTimer = null;
    this.failAll(new ConnectionLostError("result backend closed while waiting"));
    const sub = this.subscriber;
    if (sub) {
      await closeClient(sub);
    }
  }
}
