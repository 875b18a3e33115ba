import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import { LamportClock } from "../events/clock.js";
import { wireBudget } from "../serialization/index.js";
import { type ControlReply, flattenReplies, type MailboxBroker, mailboxOptions } from "./mailbox.js";
import { type BroadcastOptions, MailboxClient } from "./mailbox-client.js";

/** What `Control` needs from the app (the `Celery` facade satisfies it). */
export interface ControlAppLike {
  readonly settings: Settings;
  readonly oid: string;
  /** The broker transport; its `mailbox()` carries the requests and replies. */
  readonly transport: MailboxBroker;
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
  private readonly mailbox: MailboxClient;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(app: ControlAppLike, clock: LamportClock = new LamportClock()) {
    this.clock = clock;
    const s = app.settings;
    const mailbox = app.transport.mailbox?.(mailboxOptions(s));
    if (!mailbox)
      throw new ConfigError("broker", "remote control needs a redis:// or amqp:// broker transport");
    this.mailbox = new MailboxClient({
      mailbox,
      oid: app.oid,
      budget: wireBudget(s),
      clockForward: () => this.clock.forward(),
      clockAdjust: (v) => this.clock.adjust(v),
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

  /** Closes the reply queue's connection or consumer (the app closes the rest). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.mailbox.close();
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
