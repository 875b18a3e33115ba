import type { CompatProfile } from "../compat.js";
import { LamportClock } from "./clock.js";
import { buildEvent, type EventBody, type EventOrigin, groupFrom, routingKeyOf } from "./event.js";

/**
 * Where events go: one call per message. `body` is one event, or a list of
 * events for a `<group>.multi` batch. Implemented per broker
 * (`redis-sink.ts`: PUBLISH on the `celeryev` fanout).
 */
export interface EventSink {
  publish(routingKey: string, body: EventBody | EventBody[], headers: { hostname: string }): Promise<void>;
}

export interface DispatcherOptions {
  hostname: string;
  sink: EventSink;
  compat: CompatProfile;
  clock?: LamportClock;
  pid?: number;
  /** Send anything at all (Celery's `enabled`). */
  enabled?: boolean;
  /** Groups sent; empty = every group (Celery's `groups`: `['worker']` without `-E`). */
  groups?: Iterable<string>;
  /** Groups batched into `<group>.multi` per loop tick (a worker: `['task']`). */
  bufferGroups?: Iterable<string>;
  /** Celery's `buffer_limit`: a full buffer flushes at once (24). */
  bufferLimit?: number;
  /** Events queued or in flight at most; beyond that new events are dropped and counted. */
  maxPending?: number;
  /** Called with each failed publish (the events are counted as dropped). */
  onError?(err: unknown): void;
}

/**
 * celery/events/dispatcher.py `EventDispatcher`. Differences, on purpose:
 * - never blocks and never throws: `send()` queues and returns; a broker
 *   that is slow or down makes events drop (counted in `dropped`), never a
 *   task wait (Python buffers offline events without bound);
 * - the buffered groups flush on the next loop tick (`setImmediate`), which
 *   is what Celery's hub does through `on_send_buffered`, or at once when
 *   `bufferLimit` events are waiting.
 */
export class EventDispatcher {
  readonly hostname: string;
  readonly clock: LamportClock;
  readonly groups: Set<string>;
  enabled: boolean;
  /** Events dropped because too many were pending, or because their publish failed. */
  dropped = 0;
  /** Events handed to the sink successfully. */
  sent = 0;
  readonly onEnabled = new Set<() => void>();
  readonly onDisabled = new Set<() => void>();
  private readonly origin: EventOrigin;
  private readonly sink: EventSink;
  private readonly bufferGroups: Set<string>;
  private readonly bufferLimit: number;
  private readonly maxPending: number;
  private readonly buffers = new Map<string, EventBody[]>();
  private flushScheduled = false;
  private pending = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly onError: ((err: unknown) => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.hostname = options.hostname;
    this.sink = options.sink;
    this.clock = options.clock ?? new LamportClock();
    this.origin = { hostname: options.hostname, pid: options.pid ?? process.pid, compat: options.compat };
    this.enabled = options.enabled ?? true;
    this.groups = new Set(options.groups ?? []);
    this.bufferGroups = new Set(options.bufferGroups ?? []);
    this.bufferLimit = Math.max(1, options.bufferLimit ?? 24);
    this.maxPending = Math.max(1, options.maxPending ?? 10_000);
    this.onError = options.onError;
  }

  enable(): void {
    this.enabled = true;
    for (const cb of this.onEnabled) cb();
  }

  disable(): void {
    if (!this.enabled) return;
    for (const cb of this.onDisabled) cb();
    this.flush();
    this.enabled = false;
  }

  /** Would an event of this type be sent now (saves building fields for nothing)? */
  wants(type: string): boolean {
    if (!this.enabled) return false;
    return this.groups.size === 0 || this.groups.has(groupFrom(type));
  }

  /** `EventDispatcher.send(type, **fields)`. `blind` sends `clock: null` without moving our clock. */
  send(type: string, fields: Record<string, unknown> = {}, options: { blind?: boolean } = {}): void {
    if (!this.wants(type)) return;
    if (this.pending >= this.maxPending) {
      this.dropped += 1;
      return;
    }
    const group = groupFrom(type);
    const clock = options.blind ? null : this.clock.forward();
    const event = buildEvent(type, fields, this.origin, clock);
    this.pending += 1;
    if (this.bufferGroups.has(group)) {
      let buffer = this.buffers.get(group);
      if (!buffer) {
        buffer = [];
        this.buffers.set(group, buffer);
      }
      buffer.push(event);
      if (buffer.length >= this.bufferLimit) this.flushGroup(group);
      else this.scheduleFlush();
      return;
    }
    this.publish(routingKeyOf(type), event, 1);
  }

  /** Sends every buffered group now as `<group>.multi` lists (`EventDispatcher.flush`). */
  flush(): void {
    for (const group of [...this.buffers.keys()]) this.flushGroup(group);
  }

  /** Flushes, then waits for every publish in flight (used at shutdown). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Events queued or being published. */
  get pendingCount(): number {
    return this.pending;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flushGroup(group: string): void {
    const buffer = this.buffers.get(group);
    if (!buffer || buffer.length === 0) return;
    this.buffers.set(group, []);
    this.publish(`${group}.multi`, buffer, buffer.length);
  }

  private publish(routingKey: string, body: EventBody | EventBody[], count: number): void {
    let done: Promise<void>;
    try {
      done = this.sink.publish(routingKey, body, { hostname: this.hostname });
    } catch (err) {
      done = Promise.reject(err);
    }
    const tracked = done.then(
      () => {
        this.sent += count;
      },
      (err: unknown) => {
        this.dropped += count;
        this.onError?.(err);
      },
    );
    const settled = tracked.finally(() => {
      this.pending -= count;
      this.inFlight.delete(settled);
    });
    this.inFlight.add(settled);
  }
}
