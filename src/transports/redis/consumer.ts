import type { Redis } from "ioredis";
import { ConnectionLostError } from "../../errors.js";
import type { WireBudget } from "../../serialization/index.js";
import {
  brokerGoneError,
  brokerReconnectPolicy,
  type ReconnectPolicy,
  RetrySchedule,
} from "../retry-policy.js";
import type { ConsumeOptions, Consumer, QueueSpec } from "../transport.js";
import { ensureConnecting } from "./connection.js";
import { asError, type ParsedMessage, parseTaken, redisDelivery } from "./delivery.js";
import { IdleWait } from "./idle-wait.js";
import { DEFAULT_PRIORITY_STEPS, DEFAULT_SEP } from "./keys.js";
import type { QosKeys } from "./qos.js";
import { RedisQoS } from "./qos.js";
import { type TakenMessage, takeMessages } from "./take.js";

/**
 * The Redis side of `Transport.consume`: kombu's Redis consumer
 * (kombu/transport/redis.py `Channel._brpop_start` / `_brpop_read`,
 * `MultiChannelPoller`, 5.7.0) with its ack emulation ({@link RedisQoS}).
 *
 * - One dedicated connection takes messages over every queue's priority
 *   buckets in kombu's order (all bucket-0 keys, then bucket 3, 6, 9;
 *   queues round-robin, `queue_order_strategy = round_robin`), popping and
 *   recording each in `unacked`/`unacked_index` in one atomic script
 *   (`take.ts`): a SIGKILL at any instant loses nothing, where kombu's
 *   BRPOP-then-HSET can lose one message.
 * - Idle, it waits on a bounded, non-destructive BLMOVE (1 s server timeout
 *   like kombu's BRPOP, shorter while other lists need polling) with the
 *   take pipelined behind it, and a client-side watchdog that drops a
 *   half-dead socket (`idle-wait.ts`).
 * - No new take while `prefetch` deliveries are unsettled (kombu
 *   `QoS.can_consume`).
 * - A lost connection is retried under the broker reconnect policy
 *   (`retry-policy.ts`); when it gives up, `onFatal` tells the worker.
 * - A visibility sweep (kombu `restore_visible`, same mutex) runs at start
 *   and then every `restoreInterval × restoreThrottle` seconds.
 */
export interface RedisConsumeOptions extends ConsumeOptions {
  /** Dedicated connection for BRPOP (nothing else may run on it). */
  blockingClient: Redis;
  /** Connection for the ack-emulation commands. */
  client: Redis;
  keys: QosKeys;
  /** Seconds (kombu `visibility_timeout`, 3600). */
  visibilityTimeout: number;
  /** Server-side BRPOP timeout in seconds (kombu `brpop_timeout`, 1). */
  brpopTimeout?: number;
  /** Seconds between sweep ticks (kombu `unacked_restore_interval`, 10). */
  restoreInterval?: number;
  /** Only every n-th tick scans (kombu `unacked_restore_throttle`, 10). */
  restoreThrottle?: number;
  /** Seconds (kombu `unacked_mutex_expire`, 300). */
  mutexExpire?: number;
  /** kombu `sep`. */
  sep?: string;
  /** Priority buckets (kombu `priority_steps`). */
  prioritySteps?: number[];
  /** The wire-input budget every envelope is read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
  /** `broker_connection_*` (default: Celery's defaults). */
  reconnect?: ReconnectPolicy;
  /** The broker URL with the password masked, for log lines. */
  brokerUrl?: string;
}

export class RedisConsumer implements Consumer {
  private readonly qos: RedisQoS;
  private readonly queueOrder: QueueSpec[];
  private prefetch: number;
  private unsettled = 0;
  private cancelled = false;
  private wake: (() => void) | null = null;
  /** A wake of the take loop is due at the end of this event-loop turn ({@link released}). */
  private refillScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepTicks = 0;
  private readonly steps: number[];
  private readonly sep: string;
  private readonly handling = new Set<Promise<void>>();
  /** The wait between takes when the queues are empty. */
  private readonly idle: IdleWait;
  /** Each bucket list key of the consumed queues -> its queue. */
  private readonly queueOfKey = new Map<string, string>();
  /** The connection was lost and is not back yet (for onReconnected). */
  private lost = false;
  private unlisten: () => void = () => {};

  constructor(private readonly options: RedisConsumeOptions) {
    this.qos = new RedisQoS(options.client, {
      keys: options.keys,
      visibilityTimeout: options.visibilityTimeout,
      ...(options.mutexExpire !== undefined ? { mutexExpire: options.mutexExpire } : {}),
      ...(options.sep !== undefined ? { sep: options.sep } : {}),
      ...(options.budget !== undefined ? { budget: options.budget } : {}),
      onError: (err) => options.onError?.(err),
    });
    this.queueOrder = [...options.queues];
    this.prefetch = options.prefetch;
    this.steps = options.prioritySteps ?? [...DEFAULT_PRIORITY_STEPS];
    this.sep = options.sep ?? DEFAULT_SEP;
    this.idle = new IdleWait({
      client: options.blockingClient,
      keys: options.keys,
      steps: this.steps,
      brpopTimeout: options.brpopTimeout ?? 1,
      pause: (ms) => this.pause(ms),
      onLateTake: (taken) => this.handOver(taken),
    });
    // Built once: with many queues a per-message search over queues x priority steps costs.
    for (const q of options.queues) {
      for (const p of this.steps) this.queueOfKey.set(options.keys.queueKey(q.name, p), q.name);
    }
  }

  get ackEmulation(): RedisQoS {
    return this.qos;
  }

  start(): void {
    // ioredis reconnects the blocking connection by itself and re-sends the BLMOVE in flight, so
    // a short outage may never fail a take: its close/ready events are the loss and the return.
    const client = this.options.blockingClient;
    const onClose = () =>
      this.markLost(new ConnectionLostError(`Connection to ${this.where()} lost; reconnecting`));
    const onReady = () => this.markBack();
    client.on("close", onClose);
    client.on("ready", onReady);
    this.unlisten = () => {
      client.off("close", onClose);
      client.off("ready", onReady);
    };
    this.loopDone = this.loop();
    const interval = (this.options.restoreInterval ?? 10) * 1000;
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), interval);
    this.sweepTimer.unref();
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.unlisten();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.wake?.();
    await this.loopDone;
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.wake?.();
  }

  private where(): string {
    return this.options.brokerUrl ?? "the Redis broker";
  }

  /** The first sign of a loss is reported (onError); later ones wait for markBack. */
  private markLost(err: Error): void {
    if (this.cancelled || this.lost) return;
    this.lost = true;
    this.options.onError?.(err);
  }

  private markBack(): void {
    if (this.cancelled || !this.lost) return;
    this.lost = false;
    this.options.onReconnected?.();
  }

  private async sweep(): Promise<void> {
    // kombu QoS.restore_visible: only every `throttle`-th call scans (the first one does).
    const throttle = Math.max(1, this.options.restoreThrottle ?? 10);
    const tick = this.sweepTicks++;
    if (tick % throttle !== 0 || this.cancelled) return;
    try {
      await this.qos.restoreVisible();
    } catch (err) {
      this.options.onError?.(asError(err, "visibility-timeout restore failed"));
    }
  }

  /**
   * Take (atomically pop and record as unacked, {@link takeMessages}) what
   * the prefetch allows; once a take found the queues empty, wait on a
   * bounded, non-destructive BLMOVE with the next take behind it
   * ({@link IdleWait}). A connection failure is retried under the broker
   * reconnect policy; when that gives up, `onFatal` ends the worker.
   */
  private async loop(): Promise<void> {
    const schedule = new RetrySchedule(this.options.reconnect ?? brokerReconnectPolicy({}));
    // consume() declared the queues first, so the broker was reachable: later failures are losses.
    schedule.succeeded();
    // The last take got fewer messages than it asked for: every list was empty then, so the next
    // take waits for a message first. Taking again at once would find nothing one round trip later
    // (a command, a socket write and a script run per message when messages come one at a time).
    let drained = false;
    let handedOver = false;
    while (!this.cancelled) {
      if (this.prefetch > 0 && this.unsettled >= this.prefetch) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      try {
        if (drained && handedOver) {
          // The next wait goes out after what the messages just handed over asked for in this
          // turn (their result writes, their acks): an idle worker's result is on the critical
          // path of a round trip, the next wait is not (it blocks until a message comes).
          handedOver = false;
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        const count = this.takeCount();
        const taken: TakenMessage[] = drained
          ? await this.idle.wait(
              this.queueOrder.map((q) => q.name),
              count,
            )
          : await this.take(count);
        schedule.succeeded();
        this.markBack();
        this.handOver(taken);
        handedOver = taken.length > 0;
        drained = taken.length < count;
      } catch (err) {
        drained = false;
        if (this.cancelled) break;
        const delay = schedule.next();
        const where = this.where();
        if (delay === null && this.options.onFatal) {
          this.options.onFatal(brokerGoneError(where, schedule, err));
          break;
        }
        const wait = delay ?? this.options.reconnect?.backoff.maxMs ?? 30_000;
        const max = schedule.maxRetries ?? "Inf";
        const reason = err instanceof Error ? err.message : String(err);
        const lostError = new ConnectionLostError(
          `Cannot connect to ${where}: ${reason}. Trying again in ${(wait / 1000).toFixed(2)}s (${schedule.attempts}/${max})`,
          { cause: err },
        );
        // Every failed attempt is logged (Celery's CONNECTION_ERROR line per retry).
        if (this.lost) this.options.onError?.(lostError);
        else this.markLost(lostError);
        ensureConnecting(this.options.blockingClient);
        await this.pause(wait);
      }
    }
    await Promise.all([...this.handling]);
  }

  private track(p: Promise<void>): void {
    this.handling.add(p);
    void p.finally(() => this.handling.delete(p));
  }

  /** Up to the free prefetch (64 at most per round trip), in kombu's priority and round-robin order. */
  private take(count: number): Promise<TakenMessage[]> {
    return takeMessages(
      this.options.blockingClient,
      this.options.keys,
      this.queueOrder.map((q) => q.name),
      this.steps,
      count,
    );
  }

  private takeCount(): number {
    const free = this.prefetch > 0 ? this.prefetch - this.unsettled : 64;
    return Math.min(free, 64);
  }

  private handOver(taken: TakenMessage[]): void {
    if (taken.length === 0) return;
    this.idle.tookWork();
    this.track(this.handleTaken(taken));
  }

  /** Hands over what one take returned, in order; each is already in `unacked`. */
  private async handleTaken(taken: TakenMessage[]): Promise<void> {
    const batch: { base: string; one: ParsedMessage }[] = [];
    for (const { key, raw, tag } of taken) {
      const base = this.queueFromKey(key);
      this.rotate(base);
      this.unsettled++;
      const one = this.parse(base, raw);
      if (one) batch.push({ base, one: { ...one, tag } });
      // Not an envelope: it was logged; settle it so nothing is left in `unacked`.
      else await this.settleUnparsed(tag);
    }
    for (const { base, one } of batch) this.deliver(base, one);
  }

  private async settleUnparsed(tag: string): Promise<void> {
    try {
      await this.qos.ack(tag);
    } catch (err) {
      this.options.onError?.(asError(err, `could not remove discarded message ${tag} from unacked`));
    } finally {
      this.released();
    }
  }

  /**
   * A settled delivery frees a prefetch slot. The take loop is woken once per event-loop turn:
   * the acks one pipeline reply settles free their slots together and are refilled by one take,
   * not by one script call (a socket write and a round trip) each.
   */
  private released(): void {
    this.unsettled--;
    if (this.refillScheduled) return;
    this.refillScheduled = true;
    setImmediate(() => {
      this.refillScheduled = false;
      this.wake?.();
    });
  }

  /** The one Redis envelope codec (envelope.ts), within the budget; null (logged) for a bad one. */
  private parse(base: string, raw: string): ParsedMessage | null {
    return parseTaken(base, raw, this.options.budget, (err) => this.options.onError?.(err));
  }

  private deliver(base: string, one: ParsedMessage): void {
    let settled = false;
    // A plain function, not an async one: one promise per settle instead of three.
    const settle = (action: () => Promise<void>): Promise<void> => {
      if (settled) return Promise.resolve();
      settled = true;
      let acting: Promise<void>;
      try {
        acting = action();
      } catch (err) {
        this.released();
        return Promise.reject(err);
      }
      return acting.then(
        () => this.released(),
        (err: unknown) => {
          this.released();
          throw err;
        },
      );
    };
    try {
      this.options.onMessage(redisDelivery(base, one, settle, this.qos));
    } catch (err) {
      this.options.onError?.(asError(err, "message handler threw"));
    }
  }

  private queueFromKey(key: string): string {
    const known = this.queueOfKey.get(key);
    if (known !== undefined) return known;
    // kombu: dest.rsplit(sep, 1)[0] — strips the priority suffix.
    const at = key.lastIndexOf(this.sep);
    return at === -1 ? key : key.slice(0, at);
  }

  /** kombu round_robin_cycle.rotate: the queue that just delivered goes to the back. */
  private rotate(queue: string): void {
    const at = this.queueOrder.findIndex((q) => q.name === queue);
    if (at === -1 || this.queueOrder.length < 2) return;
    const [used] = this.queueOrder.splice(at, 1);
    if (used) this.queueOrder.push(used);
  }

  private pause(ms: number, evenIfCancelled = false): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      if (!evenIfCancelled) {
        const previous = this.wake;
        this.wake = () => {
          clearTimeout(timer);
          previous?.();
          resolve();
        };
      }
    });
  }
}

export async function consumeRedis(options: RedisConsumeOptions): Promise<RedisConsumer> {
  const consumer = new RedisConsumer(options);
  consumer.start();
  return consumer;
}
