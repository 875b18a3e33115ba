import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import { LamportClock } from "../events/clock.js";
import { wireBudget } from "../serialization/index.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import { AmqpMailboxClient } from "./amqp-mailbox.js";
import { type ControlReply, flattenReplies, mailboxNames } from "./mailbox.js";
import { type BroadcastOptions, RedisMailboxClient } from "./redis-mailbox.js";

/** What `Control` needs from the app (the `Celery` facade satisfies it). */
export interface ControlAppLike {
  readonly settings: Settings;
  readonly oid: string;
  /** The broker transport: an `AmqpTransport` makes `Control` use the AMQP mailbox. */
  readonly transport?: unknown;
  /** Used when the broker is not AMQP (the facade's getter throws on an AMQP broker). */
  readonly redisTransport?: {
    readonly keys: RedisKeys;
    readonly client: Redis;
    newClient(name: string): Redis;
  };
}

export interface DestinationOptions {
  /** Node names; null = every worker. */
  destination?: string[] | null;
  pattern?: string | null;
  matcher?: string | null;
  /** Seconds to wait for (each next) reply; default 1. */
  timeout?: number;
  limit?: number | null;
}

export interface ReplyOptions extends DestinationOptions {
  /** Wait for replies (default false for control commands, as Celery's `reply=False`). */
  reply?: boolean;
}

/**
 * `app.control` (celery/app/control.py `Control`): broadcast remote-control
 * commands to Python and TS workers and gather replies. Broadcasts from one
 * app run one at a time, since they share one reply queue (`<oid>.reply.celery.pidbox`).
 */
export class Control {
  readonly clock: LamportClock;
  private readonly mailbox: RedisMailboxClient | AmqpMailboxClient;
  private blockingClient: Redis | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(app: ControlAppLike, clock: LamportClock = new LamportClock()) {
    this.clock = clock;
    const s = app.settings;
    const transport = app.transport;
    if (transport instanceof AmqpTransport) {
      this.mailbox = new AmqpMailboxClient({
        transport,
        namespace: s.controlExchange,
        exclusive: s.compat.exclusiveOpsQueues,
        budget: wireBudget(s),
        oid: app.oid,
        clockForward: () => this.clock.forward(),
        clockAdjust: (v) => this.clock.adjust(v),
      });
      return;
    }
    const redis = app.redisTransport;
    if (!redis)
      throw new ConfigError("broker", "remote control needs a redis:// or amqp:// broker transport");
    this.mailbox = new RedisMailboxClient({
      client: redis.client,
      keys: redis.keys,
      names: mailboxNames(s.controlExchange),
      bindingDeadlines: s.compat.permanentBindings,
      bodyEncoding: s.brokerTransportOptions.bodyEncoding,
      budget: wireBudget(s),
      oid: app.oid,
      clockForward: () => this.clock.forward(),
      clockAdjust: (v) => this.clock.adjust(v),
      blocking: () => {
        this.blockingClient ??= redis.newClient("celeriac-pidbox-reply");
        return this.blockingClient;
      },
    });
  }

  /** `Control.broadcast`: the raw list of `{host: value}` replies (empty with `reply: false`). */
  broadcast(command: string, options: BroadcastOptions = {}): Promise<ControlReply[]> {
    const run = this.queue.then(() => this.mailbox.broadcast(command, options));
    this.queue = run.catch(() => undefined);
    return run.then((r) => r ?? []);
  }

  /** `Control.ping`: `[{host: {"ok": "pong"}}, …]`. */
  ping(options: DestinationOptions = {}): Promise<ControlReply[]> {
    return this.broadcast("ping", { ...options, reply: true });
  }

  inspect(options: DestinationOptions = {}): Inspect {
    return new Inspect(this, options);
  }

  /** `Control.revoke(task_id, destination, terminate, signal)`. */
  revoke(
    taskId: string | readonly string[],
    options: ReplyOptions & { terminate?: boolean; signal?: string } = {},
  ): Promise<ControlReply[]> {
    const { terminate = false, signal = "SIGTERM", ...rest } = options;
    return this.broadcast("revoke", {
      ...rest,
      arguments: { task_id: typeof taskId === "string" ? taskId : [...taskId], terminate, signal },
    });
  }

  /**
   * `Control.revoke_by_stamped_headers(headers, destination, terminate, signal)` (5.7.0): workers
   * discard every task carrying one of these stamps (`{stamp: value}` or `{stamp: [values]}`)
   * instead of running it; with `terminate`, running ones are terminated too.
   */
  revokeByStampedHeaders(
    headers: Record<string, unknown>,
    options: ReplyOptions & { terminate?: boolean; signal?: string } = {},
  ): Promise<ControlReply[]> {
    const { terminate = false, signal = "SIGTERM", ...rest } = options;
    return this.broadcast("revoke_by_stamped_headers", {
      ...rest,
      arguments: { headers, terminate, signal },
    });
  }

  /** `Control.terminate`: revoke with `terminate=True`. */
  terminate(taskId: string | readonly string[], options: ReplyOptions & { signal?: string } = {}) {
    return this.revoke(taskId, { ...options, terminate: true });
  }

  rateLimit(taskName: string, rateLimit: string | number | null, options: ReplyOptions = {}) {
    return this.broadcast("rate_limit", {
      ...options,
      arguments: { task_name: taskName, rate_limit: rateLimit },
    });
  }

  timeLimit(
    taskName: string,
    limits: { soft?: number | null; hard?: number | null },
    options: ReplyOptions = {},
  ) {
    return this.broadcast("time_limit", {
      ...options,
      arguments: { task_name: taskName, soft: limits.soft ?? null, hard: limits.hard ?? null },
    });
  }

  addConsumer(
    queue: string,
    opts: ReplyOptions & { exchange?: string; exchangeType?: string; routingKey?: string } = {},
  ) {
    const { exchange = null, exchangeType = "direct", routingKey = null, ...rest } = opts;
    return this.broadcast("add_consumer", {
      ...rest,
      arguments: { queue, exchange, exchange_type: exchangeType, routing_key: routingKey },
    });
  }

  cancelConsumer(queue: string, options: ReplyOptions = {}) {
    return this.broadcast("cancel_consumer", { ...options, arguments: { queue } });
  }

  shutdown(options: ReplyOptions = {}) {
    return this.broadcast("shutdown", options);
  }

  enableEvents(options: ReplyOptions = {}) {
    return this.broadcast("enable_events", options);
  }

  disableEvents(options: ReplyOptions = {}) {
    return this.broadcast("disable_events", options);
  }

  heartbeat(options: ReplyOptions = {}) {
    return this.broadcast("heartbeat", options);
  }

  poolGrow(n = 1, options: ReplyOptions = {}) {
    return this.broadcast("pool_grow", { ...options, arguments: { n } });
  }

  poolShrink(n = 1, options: ReplyOptions = {}) {
    return this.broadcast("pool_shrink", { ...options, arguments: { n } });
  }

  /** Closes the blocking reply connection (the app closes the rest). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.mailbox instanceof AmqpMailboxClient) await this.mailbox.close();
    const c = this.blockingClient;
    this.blockingClient = null;
    if (c) c.disconnect();
  }
}

/**
 * `app.control.inspect()` (celery/app/control.py `Inspect`): each method
 * returns `{hostname: reply}`, or null when no worker answered.
 */
export class Inspect {
  constructor(
    private readonly control: Control,
    private readonly options: DestinationOptions,
  ) {}

  async request(
    command: string,
    args: Record<string, unknown> = {},
  ): Promise<Record<string, unknown> | null> {
    const replies = await this.control.broadcast(command, { ...this.options, arguments: args, reply: true });
    return replies.length === 0 ? null : flattenReplies(replies);
  }

  ping = () => this.request("ping");
  active = (safe: boolean | null = null) => this.request("active", { safe });
  reserved = () => this.request("reserved");
  scheduled = () => this.request("scheduled");
  revoked = () => this.request("revoked");
  registered = (...taskinfoitems: string[]) => this.request("registered", { taskinfoitems });
  stats = () => this.request("stats");
  activeQueues = () => this.request("active_queues");
  conf = (withDefaults = false) => this.request("conf", { with_defaults: withDefaults });
  report = () => this.request("report");
  clock = () => this.request("clock");
  queryTask = (...ids: (string | string[])[]) => this.request("query_task", { ids: ids.flat() });
  /** Mingle's request: `{from_node, revoked}`. */
  hello = (fromNode: string, revoked: unknown) => this.request("hello", { from_node: fromNode, revoked });
}
