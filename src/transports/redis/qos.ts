import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { DEFAULT_WIRE_BUDGET, type WireBudget } from "../../serialization/index.js";
import { ensureConnecting } from "./connection.js";
import { decodeUnackedEntry, encodeRestoredEnvelope, messagePriority } from "./envelope.js";
import { DEFAULT_SEP } from "./keys.js";

/**
 * kombu's Redis ack emulation (kombu/transport/redis.py `QoS`,
 * `Channel._do_restore_message`), byte-compatible so TS and Python workers
 * share one `unacked` hash, one `unacked_index` sorted set and one
 * `unacked_mutex` lock:
 *
 * - delivery: `ZADD unacked_index <now> <tag>` + `HSET unacked <tag> [envelope, exchange, routing_key]`,
 *   done by the take script in the same atomic step as the pop (`take.ts`);
 * - ack / reject without requeue: `ZREM` + `HDEL`;
 * - reject with requeue: `QoS.reject(requeue=True)` restores with `leftmost=True`,
 *   i.e. `LPUSH`: the far end from BRPOP, so the message queues up again;
 * - visibility sweep and shutdown restore: `restore_by_tag` with `leftmost=False`,
 *   i.e. `RPUSH`: the consumer end, so it is next (kombu 5.7.0 `_do_restore_message`);
 *   to the priority sub-list of the message's priority (kombu >= 5.4), with
 *   `headers.redelivered` and `properties.delivery_info.redelivered` set.
 * - an entry that is not JSON aborts its restore transaction and stays for the next
 *   sweep (kombu's `loads` raises inside `client.transaction`); a parsed entry whose
 *   envelope cannot be restored is logged and dropped (kombu's "Could not restore message").
 */
export interface QosKeys {
  unacked: string;
  unackedIndex: string;
  unackedMutex: string;
  /** `_kombu.binding.<exchange>` (with the global key prefix, if any). */
  bindingTable(exchange: string): string;
  /** The list key of a queue's priority bucket for a message priority 0-9 (kombu `_q_for_pri`). */
  queueKey(queue: string, priority: number): string;
}

export interface QosOptions {
  keys: QosKeys;
  /** Seconds a delivered message may stay unacked before a sweep restores it (kombu default 3600). */
  visibilityTimeout: number;
  /** Seconds the sweep lock lives (kombu `unacked_mutex_expire`, 300). */
  mutexExpire?: number;
  /** Most tags restored per sweep (kombu `unacked_restore_limit`, unlimited). */
  restoreLimit?: number | null;
  /** Separator inside binding members (kombu `sep`, keys.ts DEFAULT_SEP). */
  sep?: string;
  /** The wire-input budget an unacked entry is read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
  /** Told about an entry that is left for the next sweep or dropped, with the reason. */
  onError?(err: Error): void;
}

/** kombu/transport/redis.py uses redis-py `Lock.release`'s compare-and-delete; this script does the same. */
const RELEASE_IF_OWNER =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisQoS {
  private readonly keys: QosKeys;
  private readonly visibilityTimeout: number;
  private readonly mutexExpireMs: number;
  private readonly restoreLimit: number | null;
  private readonly sep: string;
  private readonly budget: WireBudget;
  private readonly onError: ((err: Error) => void) | undefined;
  private restoreChain: Promise<void> = Promise.resolve();
  /** Tags acked during this event-loop turn, and the one promise their shared pipeline settles. */
  private ackTags: string[] = [];
  private ackBatch: Promise<void> | null = null;

  constructor(
    private readonly client: Redis,
    options: QosOptions,
  ) {
    this.keys = options.keys;
    this.visibilityTimeout = options.visibilityTimeout;
    this.mutexExpireMs = Math.round((options.mutexExpire ?? 300) * 1000);
    this.restoreLimit = options.restoreLimit ?? null;
    this.sep = options.sep ?? DEFAULT_SEP;
    this.budget = options.budget ?? DEFAULT_WIRE_BUDGET;
    this.onError = options.onError;
  }

  /**
   * kombu `QoS.ack` (and `reject(requeue=False)`): `ZREM` + `HDEL`. Acks
   * issued in the same event-loop turn share one pipeline (`ZREM idx t1 t2
   * ...`, `HDEL unacked t1 t2 ...`): the same end state as kombu's one pair
   * per tag, in far fewer round trips. Every ack of the turn gets the pipeline's one promise
   * (no promise and record per message).
   */
  ack(tag: string): Promise<void> {
    this.ackTags.push(tag);
    this.ackBatch ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushAcks());
    return this.ackBatch;
  }

  private async flushAcks(): Promise<void> {
    const tags = this.ackTags;
    this.ackTags = [];
    this.ackBatch = null;
    // After a long outage ioredis may have given up on this connection: open it again.
    ensureConnecting(this.client);
    throwPipelineError(
      await this.client
        .pipeline()
        .zrem(this.keys.unackedIndex, ...tags)
        .hdel(this.keys.unacked, ...tags)
        .exec(),
    );
  }

  /** kombu `QoS.reject`: requeue restores to the far end (LPUSH), otherwise the same as ack. */
  async reject(tag: string, requeue: boolean): Promise<void> {
    if (requeue) await this.restoreByTag(tag, true);
    else await this.ack(tag);
  }

  /**
   * kombu `QoS.restore_by_tag`: in a WATCH/MULTI transaction on `unacked`,
   * remove the tag from both indices and push the stored envelope back to
   * every queue its (exchange, routing key) reaches. Returns whether the message
   * was pushed back (false when someone else restored or acked it first, or when its envelope
   * could not be restored and was dropped).
   */
  restoreByTag(tag: string, leftmost = false): Promise<boolean> {
    // WATCH state is per connection: run one restore transaction at a time on it.
    const run = this.restoreChain.then(() => this.restoreByTagNow(tag, leftmost));
    this.restoreChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async restoreByTagNow(tag: string, leftmost: boolean): Promise<boolean> {
    ensureConnecting(this.client);
    for (let attempt = 0; attempt < 50; attempt++) {
      await this.client.watch(this.keys.unacked);
      const stored = await this.client.hget(this.keys.unacked, tag);
      let entry: ReturnType<typeof decodeUnackedEntry> | null = null;
      if (stored !== null) {
        try {
          entry = decodeUnackedEntry(stored, this.budget);
        } catch (err) {
          // kombu: loads() raises inside the transaction, which aborts; the entry stays.
          await this.client.unwatch();
          throw new Error(
            `could not restore unacked message ${tag}: ${(err as Error).message}; left in unacked for the next sweep`,
            { cause: err },
          );
        }
      }
      const multi = this.client.multi().zrem(this.keys.unackedIndex, tag).hdel(this.keys.unacked, tag);
      const pushes = entry === null ? null : await this.restorePushes(tag, entry);
      for (const [key, value] of pushes ?? []) {
        if (leftmost) multi.lpush(key, value);
        else multi.rpush(key, value);
      }
      const result = await multi.exec();
      if (result !== null) return pushes !== null;
      // WATCH fired: another client touched `unacked`; retry like redis-py's transaction().
    }
    throw new Error(`could not restore unacked message ${tag}: unacked hash kept changing`);
  }

  /**
   * kombu `QoS.restore_visible`: under the shared `unacked_mutex`, restore
   * every message unacked for longer than the visibility timeout. Returns
   * how many were restored, or -1 when another worker holds the lock.
   */
  async restoreVisible(): Promise<number> {
    const token = randomUUID().replace(/-/g, "");
    ensureConnecting(this.client);
    const locked = await this.client.set(this.keys.unackedMutex, token, "PX", this.mutexExpireMs, "NX");
    if (locked !== "OK") return -1;
    try {
      const ceil = Date.now() / 1000 - this.visibilityTimeout;
      // kombu 5.7 sends ZRANGE ... BYSCORE REV (Redis >= 6.2); ZREVRANGEBYSCORE is the same query.
      const args: (string | number)[] = [this.keys.unackedIndex, ceil, 0];
      if (this.restoreLimit !== null) args.push("LIMIT", 0, this.restoreLimit);
      const tags = (await this.client.call("ZREVRANGEBYSCORE", ...args)) as string[];
      let restored = 0;
      for (const tag of tags) {
        try {
          if (await this.restoreByTag(tag, false)) restored++;
        } catch (err) {
          // One bad entry must not keep the others in unacked: report it, go on.
          this.onError?.(err as Error);
        }
      }
      return restored;
    } finally {
      await this.client.eval(RELEASE_IF_OWNER, 1, this.keys.unackedMutex, token);
    }
  }

  /**
   * kombu `Channel._do_restore_message`: mark redelivered, then one push per matching queue. An
   * envelope that cannot be restored is reported and dropped (null), as kombu's `crit`.
   */
  private async restorePushes(
    tag: string,
    entry: { envelope: unknown; exchange: unknown; routingKey: unknown },
  ): Promise<[string, string][] | null> {
    let value: string;
    let priority: number;
    try {
      value = encodeRestoredEnvelope(entry.envelope);
      priority = messagePriority(entry.envelope);
    } catch (err) {
      this.onError?.(
        new Error(`Could not restore message ${tag}: ${(err as Error).message}; dropped`, { cause: err }),
      );
      return null;
    }
    const exchange = typeof entry.exchange === "string" ? entry.exchange : "";
    const routingKey = typeof entry.routingKey === "string" ? entry.routingKey : "";
    const queues = await this.lookup(exchange, routingKey);
    return queues.map((q) => [this.keys.queueKey(q, priority), value]);
  }

  /** kombu `Channel._lookup`: the anonymous exchange routes to the queue named by the routing key; others via the binding table. */
  async lookup(exchange: string, routingKey: string): Promise<string[]> {
    if (!exchange) return [routingKey];
    const members = await this.client.smembers(this.keys.bindingTable(exchange));
    const queues = new Set<string>();
    for (const member of members) {
      const [bindingKey, pattern, queue] = member.split(this.sep);
      if (queue === undefined) continue;
      if (bindingKey === routingKey || (pattern && topicMatches(pattern, routingKey))) queues.add(queue);
    }
    return [...queues];
  }
}

function topicMatches(pattern: string, routingKey: string): boolean {
  try {
    return new RegExp(`^${pattern}$`).test(routingKey);
  } catch {
    return false;
  }
}

function throwPipelineError(results: [Error | null, unknown][] | null): void {
  for (const [err] of results ?? []) if (err) throw err;
}
