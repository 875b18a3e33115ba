import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { ConsumeOptions, Consumer, Delivery, QueueSpec } from "../transport.js";
import type { QosKeys } from "./qos.js";
import { RedisQoS } from "./qos.js";

/**
 * The Redis side of `Transport.consume`: kombu's BRPOP consumer
 * (kombu/transport/redis.py `Channel._brpop_start` / `_brpop_read`,
 * `MultiChannelPoller`) with its ack emulation ({@link RedisQoS}).
 *
 * - One dedicated blocking connection runs one `BRPOP` at a time over every
 *   queue's priority buckets in kombu's key order (all bucket-0 keys, then
 *   bucket 3, 6, 9), with a short server timeout (1 s), rotating the queue
 *   order round-robin after each hit (`queue_order_strategy = round_robin`).
 * - A client-side watchdog bounds every BRPOP (server timeout + grace): a
 *   half-dead socket is dropped and the loop goes on (ioredis would otherwise
 *   wait forever on a reply that never comes).
 * - No new BRPOP while `prefetch` deliveries are unsettled (kombu
 *   `QoS.can_consume`).
 * - Every popped message is recorded in `unacked`/`unacked_index` before it
 *   is handed over; a visibility sweep (kombu `restore_visible`, same mutex)
 *   runs at start and then every `restoreInterval × restoreThrottle` seconds.
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
}

export const DEFAULT_PRIORITY_STEPS = [0, 3, 6, 9];

/** A message popped off a Redis list, with its raw envelope for diagnostics. */
export interface RedisDelivery extends Delivery {
  readonly rawEnvelope: string;
}

interface Parsed {
  raw: string;
  envelope: Envelope;
  properties: Record<string, unknown>;
  deliveryInfo: Record<string, unknown>;
  tag: string;
  exchange: string;
  routingKey: string;
}

interface Envelope {
  body?: unknown;
  "content-type"?: unknown;
  "content-encoding"?: unknown;
  headers?: unknown;
  properties?: unknown;
}

export class RedisConsumer implements Consumer {
  private readonly qos: RedisQoS;
  private readonly queueOrder: QueueSpec[];
  private prefetch: number;
  private unsettled = 0;
  private cancelled = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepTicks = 0;
  private readonly steps: number[];
  private readonly sep: string;
  private readonly handling = new Set<Promise<void>>();
  private lmpop = true;

  constructor(private readonly options: RedisConsumeOptions) {
    this.qos = new RedisQoS(options.client, {
      keys: options.keys,
      visibilityTimeout: options.visibilityTimeout,
      ...(options.mutexExpire !== undefined ? { mutexExpire: options.mutexExpire } : {}),
      ...(options.sep !== undefined ? { sep: options.sep } : {}),
    });
    this.queueOrder = [...options.queues];
    this.prefetch = options.prefetch;
    this.steps = options.prioritySteps ?? DEFAULT_PRIORITY_STEPS;
    this.sep = options.sep ?? "\x06\x16";
  }

  get ackEmulation(): RedisQoS {
    return this.qos;
  }

  start(): void {
    this.loopDone = this.loop();
    const interval = (this.options.restoreInterval ?? 10) * 1000;
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), interval);
    this.sweepTimer.unref();
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.wake?.();
    await this.loopDone;
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.wake?.();
  }

  /** The BRPOP key list for the current queue order (kombu `_brpop_start`). */
  brpopKeys(): string[] {
    const keys: string[] = [];
    for (const pri of this.steps)
      for (const q of this.queueOrder) keys.push(this.options.keys.queueKey(q.name, pri));
    return keys;
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

  private async loop(): Promise<void> {
    const timeout = this.options.brpopTimeout ?? 1;
    let failures = 0;
    while (!this.cancelled) {
      if (this.prefetch > 0 && this.unsettled >= this.prefetch) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      let popped: [string, string] | null;
      try {
        popped = await this.brpopBounded(timeout);
        failures = 0;
      } catch (err) {
        this.options.onError?.(asError(err, "BRPOP failed"));
        failures++;
        await this.pause(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (!popped) continue;
      this.track(this.handle(popped[0], popped[1]));
      await this.drainMore(popped[0]);
    }
    await Promise.all([...this.handling]);
  }

  private track(p: Promise<void>): void {
    this.handling.add(p);
    void p.finally(() => this.handling.delete(p));
  }

  /**
   * After a BRPOP hit the queue probably holds more: take up to the free
   * prefetch in one non-blocking `LMPOP <bucket keys> RIGHT COUNT n` (Redis
   * >= 7). LMPOP pops from the first non-empty key in the same key order as
   * BRPOP and from the same end, so priority and FIFO order are kombu's; it
   * only saves round trips. Without LMPOP (older Redis) this is skipped.
   */
  private async drainMore(hitKey: string): Promise<void> {
    if (!this.lmpop || this.cancelled) return;
    const free = this.prefetch > 0 ? this.prefetch - this.unsettled : 64;
    if (free <= 0) return;
    const keys = this.brpopKeys();
    try {
      const reply = (await this.options.blockingClient.call(
        "LMPOP",
        keys.length,
        ...keys,
        "RIGHT",
        "COUNT",
        Math.min(free, 64),
      )) as [string, string[]] | null;
      if (!reply) return;
      const [key, items] = reply;
      this.track(this.handleMany(key, items));
    } catch (err) {
      if (/unknown command/i.test(String((err as Error).message))) this.lmpop = false;
      else this.options.onError?.(asError(err, `LMPOP after a hit on ${hitKey} failed`));
    }
  }

  /** BRPOP with a client-side deadline; a late reply is still delivered, never dropped. */
  private brpopBounded(timeout: number): Promise<[string, string] | null> {
    const client = this.options.blockingClient;
    const reply = client.brpop(...this.brpopKeys(), timeout) as Promise<[string, string] | null>;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), (timeout + 4) * 1000);
    });
    return Promise.race([reply, deadline]).then((won) => {
      clearTimeout(timer);
      if (won !== "deadline") return won;
      // The socket went quiet: drop it (ioredis reconnects) and hand over anything that still arrives.
      reply.then(
        (late) => {
          if (late) void this.handle(late[0], late[1]);
        },
        () => undefined,
      );
      client.disconnect(true);
      throw new Error(`BRPOP got no reply within ${timeout + 4}s; reconnecting`);
    });
  }

  private handle(key: string, raw: string): Promise<void> {
    return this.handleMany(key, [raw]);
  }

  /** Parse popped envelopes, record them all as unacked in one pipeline, then hand them over in order. */
  private async handleMany(key: string, raws: string[]): Promise<void> {
    const base = this.queueFromKey(key);
    this.rotate(base);
    const parsed: Parsed[] = [];
    for (const raw of raws) {
      const one = this.parse(base, raw);
      if (one) parsed.push(one);
    }
    if (parsed.length === 0) return;
    this.unsettled += parsed.length;
    await this.appendWithRetry(parsed);
    for (const one of parsed) this.deliver(base, one);
  }

  private parse(base: string, raw: string): Parsed | null {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
      if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope))
        throw new Error("not an object");
    } catch (err) {
      // kombu's loads() would raise here and the message is gone; we log it loudly with a prefix of what we saw.
      this.options.onError?.(
        asError(
          err,
          `discarded a message from ${JSON.stringify(base)} that is not a JSON envelope: ${raw.slice(0, 200)}`,
        ),
      );
      return null;
    }
    const properties = isRecord(envelope.properties) ? envelope.properties : {};
    const deliveryInfo = isRecord(properties.delivery_info) ? properties.delivery_info : {};
    return {
      raw,
      envelope,
      properties,
      deliveryInfo,
      tag: typeof properties.delivery_tag === "string" ? properties.delivery_tag : randomUUID(),
      exchange: typeof deliveryInfo.exchange === "string" ? deliveryInfo.exchange : "",
      routingKey: typeof deliveryInfo.routing_key === "string" ? deliveryInfo.routing_key : base,
    };
  }

  private deliver(base: string, one: Parsed): void {
    const { raw, envelope, properties, deliveryInfo, tag, exchange, routingKey } = one;
    let settled = false;
    const settle = async (action: () => Promise<void>): Promise<void> => {
      if (settled) return;
      settled = true;
      try {
        await action();
      } finally {
        this.unsettled--;
        this.wake?.();
      }
    };
    const delivery: RedisDelivery = {
      rawEnvelope: raw,
      body: decodeBody(envelope.body, properties.body_encoding),
      contentType: typeof envelope["content-type"] === "string" ? envelope["content-type"] : "",
      contentEncoding: typeof envelope["content-encoding"] === "string" ? envelope["content-encoding"] : "",
      headers: isRecord(envelope.headers) ? envelope.headers : {},
      properties,
      deliveryInfo: {
        exchange,
        routingKey,
        priority: typeof properties.priority === "number" ? properties.priority : 0,
        redelivered: deliveryInfo.redelivered === true,
        deliveryTag: tag,
        queue: base,
      },
      ack: () => settle(() => this.qos.ack(tag)),
      reject: (requeue: boolean) => settle(() => this.qos.reject(tag, requeue)),
    };
    try {
      this.options.onMessage(delivery);
    } catch (err) {
      this.options.onError?.(asError(err, "message handler threw"));
    }
  }

  /**
   * The message is only in our memory until it is in `unacked`: keep trying
   * (Redis may be restarting) rather than lose it. kombu loses it here.
   */
  private async appendWithRetry(batch: Parsed[]): Promise<void> {
    const entries = batch.map((p) => ({
      tag: p.tag,
      rawEnvelope: p.raw,
      exchange: p.exchange,
      routingKey: p.routingKey,
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.qos.appendMany(entries);
        return;
      } catch (err) {
        this.options.onError?.(
          asError(err, `could not record ${entries.length} unacked message(s); retrying`),
        );
        await this.pause(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)), true);
      }
    }
  }

  private queueFromKey(key: string): string {
    // kombu: dest.rsplit(sep, 1)[0] — strips the priority suffix.
    const at = key.lastIndexOf(this.sep);
    const stripped = at === -1 ? key : key.slice(0, at);
    const match = this.queueOrder.find((q) =>
      this.steps.some((p) => this.options.keys.queueKey(q.name, p) === key),
    );
    return match?.name ?? stripped;
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

/** kombu virtual `Message.__init__`: base64-decode only when `body_encoding` is set and not utf-8. */
function decodeBody(body: unknown, bodyEncoding: unknown): Uint8Array {
  if (typeof body !== "string")
    return new TextEncoder().encode(body === undefined ? "" : JSON.stringify(body));
  if (typeof bodyEncoding === "string" && bodyEncoding !== "" && bodyEncoding !== "utf-8") {
    return new Uint8Array(Buffer.from(body, "base64"));
  }
  return new TextEncoder().encode(body);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asError(err: unknown, context: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${context}: ${message}`, { cause: err });
}
