import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { amqpEventSink } from "../events/amqp-sink.js";
import { LamportClock } from "../events/clock.js";
import { EventDispatcher } from "../events/dispatcher.js";
import { Heart } from "../events/heartbeat.js";
import { redisEventSink } from "../events/redis-sink.js";
import { type TaskEventSource, taskEventFields } from "../events/task-events.js";
import { wireBudget } from "../serialization/index.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import { amqpReplySender, listenAmqpPidbox } from "./amqp-mailbox.js";
import { Control } from "./control.js";
import type { RequestInfo, ScheduledInfo, TaskInfo, WorkerControlHost } from "./host.js";
import { mailboxNames } from "./mailbox.js";
import { PidboxNode } from "./node.js";
import { listenRedisPidbox, type RunningNode, redisReplySender } from "./redis-mailbox.js";
import { RevokedSet } from "./revoked.js";

/** A request as the worker tracks it for inspect and events. */
export interface TrackedRequest extends TaskEventSource {
  args: unknown[];
  kwargs: Record<string, unknown>;
  eta: Date | null;
  deliveryInfo: { exchange: string; routingKey: string; priority: number; redelivered: boolean };
}

/** The outcome of one run, for the task event it produces. */
export type RunOutcome =
  | { kind: "succeeded"; resultRepr: string; runtime: number }
  | { kind: "failed"; exceptionRepr: string; traceback: string }
  | { kind: "retried"; exceptionRepr: string; traceback: string }
  | { kind: "rejected"; requeue: boolean }
  | { kind: "ignored" };

/** What the worker lends to WorkerOps for the control commands it cannot answer from tracking alone. */
export interface WorkerOpsWorker {
  readonly hostname: string;
  readonly concurrency: number;
  taskNames(): string[];
  taskAttributes(name: string): Record<string, unknown>;
  setRateLimit?(name: string, rate: string | number | null): string | null;
  setTimeLimit?(name: string, soft: number | null, hard: number | null): string | null;
  queues(): Record<string, unknown>[];
  addConsumer?(queue: string, exchange: string | null, type: string, routingKey: string | null): void;
  cancelConsumer?(queue: string): void;
  /** pool_grow / pool_shrink: tasks run at once from now on. */
  setConcurrency?(n: number): void;
  /** The process pool's children and recycling limit for `stats` (absent or null = no process pool). */
  processPool?(): { pids: number[]; maxTasksPerChild: number | null } | null;
  /** Warm shutdown requested by remote control. */
  shutdown(): void;
  /** REVOKED meta for an id, used by revoke (5.7: only if not yet started elsewhere). */
  markRevoked?(id: string): Promise<void>;
}

export interface WorkerOpsOptions {
  settings: Settings;
  /** The broker: kombu's Redis transport, or RabbitMQ (`AmqpTransport`). */
  transport:
    | { readonly keys: RedisKeys; readonly client: Redis; newClient(name: string): Redis }
    | AmqpTransport;
  worker: WorkerOpsWorker;
  /** `-E` / `worker_send_task_events`. */
  sendTaskEvents?: boolean;
  /** Heartbeat interval (seconds), Celery's 2.0. */
  heartbeatInterval?: number;
  /** Answer remote control (`worker_enable_remote_control`). */
  remoteControl?: boolean;
  /** Mingle at start: `hello` to the other workers to share revoked ids. */
  mingle?: boolean;
  /** The app's oid (mingle's reply queue). */
  oid: string;
  log?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

interface Entry {
  request: TrackedRequest;
  state: "reserved" | "scheduled" | "active";
  timeStart: number | null;
  abort: AbortController | null;
}

/**
 * Events, remote control and mingle for one TS worker: the worker calls
 * `received / scheduled / started / finished / revokedRun`, WorkerOps keeps
 * Celery's `worker_state` (reserved/active/scheduled requests, totals,
 * revoked ids), sends the task/worker events and answers pidbox commands
 * (it is the {@link WorkerControlHost}).
 */
export class WorkerOps implements WorkerControlHost {
  readonly hostname: string;
  readonly clock = new LamportClock();
  readonly revoked = new RevokedSet();
  readonly events: EventDispatcher;
  private readonly heart: Heart;
  private readonly entries = new Map<string, Entry>();
  private readonly totals = new Map<string, number>();
  private processedCount = 0;
  private node: RunningNode | null = null;
  private subscriber: Redis | null = null;
  private readonly startedAt = Date.now();
  private readonly log: NonNullable<WorkerOpsOptions["log"]>;

  constructor(private readonly options: WorkerOpsOptions) {
    const s = options.settings;
    this.hostname = options.worker.hostname;
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
    const sendTaskEvents = options.sendTaskEvents ?? s.workerSendTaskEvents;
    this.events = new EventDispatcher({
      hostname: this.hostname,
      compat: s.compat,
      clock: this.clock,
      sink:
        options.transport instanceof AmqpTransport
          ? amqpEventSink({ transport: options.transport, exchange: s.eventExchange })
          : redisEventSink({
              client: options.transport.client,
              keys: options.transport.keys,
              exchange: s.eventExchange,
              bodyEncoding: s.brokerTransportOptions.bodyEncoding,
            }),
      // celery/worker/consumer/events.py: without -E only the worker group (heartbeats) is sent.
      groups: sendTaskEvents ? [] : ["worker"],
      bufferGroups: ["task"],
      enabled: false,
    });
    this.heart = new Heart(
      this.events,
      { active: () => this.countIn("active"), processed: () => this.processedCount },
      options.heartbeatInterval ?? 2.0,
    );
  }

  async start(): Promise<void> {
    const s = this.options.settings;
    const t = this.options.transport;
    if (this.options.mingle ?? true) await this.mingle();
    if ((this.options.remoteControl ?? s.workerEnableRemoteControl) && t instanceof AmqpTransport) {
      const pidbox = new PidboxNode({ host: this, sendReply: amqpReplySender(t), log: this.log });
      // A node with the same name already holds the exclusive queue (405 RESOURCE_LOCKED):
      // run without remote control rather than not at all, as Celery warns of duplicate nodenames.
      this.node = await listenAmqpPidbox(pidbox, {
        transport: t,
        namespace: s.controlExchange,
        exclusive: s.compat.exclusiveOpsQueues,
        budget: wireBudget(s),
        onError: (err) => this.log.warn(`pidbox: ${(err as Error).message ?? String(err)}`),
      }).catch((err: unknown) => {
        this.log.error(`pidbox: remote control disabled for ${this.hostname}: ${(err as Error).message}`);
        return null;
      });
    } else if ((this.options.remoteControl ?? s.workerEnableRemoteControl) && !(t instanceof AmqpTransport)) {
      const mailbox = {
        client: t.client,
        keys: t.keys,
        names: mailboxNames(s.controlExchange),
        bindingDeadlines: s.compat.permanentBindings,
        bodyEncoding: s.brokerTransportOptions.bodyEncoding,
        budget: wireBudget(s),
      };
      const pidbox = new PidboxNode({ host: this, sendReply: redisReplySender(mailbox), log: this.log });
      this.subscriber = t.newClient("celeriac-pidbox");
      this.node = await listenRedisPidbox(pidbox, {
        ...mailbox,
        subscriber: this.subscriber,
        onError: (err) => this.log.warn(`pidbox: ${(err as Error).message ?? String(err)}`),
      });
    }
    this.events.enable();
  }

  async stop(): Promise<void> {
    this.events.disable();
    this.heart.close();
    await this.events.drain();
    await this.node?.close();
    this.subscriber?.disconnect();
    this.node = null;
  }

  /** celery/worker/consumer/mingle.py `sync`: hello to every worker, merge their revoked ids and clocks. */
  private async mingle(): Promise<void> {
    const s = this.options.settings;
    // Both spellings of the app's Redis transport, so this works whichever the facade exposes.
    const appLike = {
      settings: s,
      oid: this.options.oid,
      transport: this.options.transport,
      ...(this.options.transport instanceof AmqpTransport ? {} : { redisTransport: this.options.transport }),
    };
    const control = new Control(appLike, this.clock);
    try {
      const ours = s.compat.helloRevokedAsList ? this.revoked.ids() : this.revoked.asMap();
      const replies = (await control.inspect({ timeout: 1 }).hello(this.hostname, ours)) ?? {};
      delete replies[this.hostname];
      const nodes = Object.entries(replies).filter(([, v]) => v);
      this.log.info(nodes.length > 0 ? `mingle: sync with ${nodes.length} nodes` : "mingle: all alone");
      for (const [, reply] of nodes) {
        const r = reply as { clock?: unknown; revoked?: unknown };
        if (r.clock) this.clock.adjust(r.clock);
        else this.clock.forward();
        if (r.revoked) this.revoked.merge(r.revoked);
      }
    } catch (err) {
      this.log.warn(`mingle: ${(err as Error).message}`);
    } finally {
      await control.close();
    }
  }

  // -- the worker's calls --------------------------------------------------

  /** A task message was accepted; returns false when its id is revoked (do not run it). */
  received(request: TrackedRequest): boolean {
    this.events.send("task-received", taskEventFields.received(request));
    if (this.revoked.has(request.id)) return false;
    this.entries.set(request.id, { request, state: "reserved", timeStart: null, abort: null });
    return true;
  }

  /** Held for its ETA/countdown (inspect scheduled). */
  markScheduled(id: string): void {
    const e = this.entries.get(id);
    if (e) e.state = "scheduled";
  }

  /** Back from the ETA timer / rate queue: reserved again. False when revoked meanwhile. */
  due(id: string): boolean {
    const e = this.entries.get(id);
    if (e) e.state = "reserved";
    return !this.revoked.has(id);
  }

  /** Just before the handler runs; `abort` is what `terminate` fires. */
  started(id: string, abort: AbortController): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.state = "active";
    e.timeStart = Date.now() / 1000;
    e.abort = abort;
    this.events.send("task-started", taskEventFields.started(e.request));
  }

  finished(id: string, outcome: RunOutcome): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.processedCount += 1;
    this.totals.set(e.request.name, (this.totals.get(e.request.name) ?? 0) + 1);
    const r = e.request;
    if (outcome.kind === "succeeded")
      this.events.send("task-succeeded", taskEventFields.succeeded(r, outcome.resultRepr, outcome.runtime));
    else if (outcome.kind === "failed")
      this.events.send("task-failed", taskEventFields.failed(r, outcome.exceptionRepr, outcome.traceback));
    else if (outcome.kind === "retried")
      this.events.send("task-retried", taskEventFields.retried(r, outcome.exceptionRepr, outcome.traceback));
    else if (outcome.kind === "rejected")
      this.events.send("task-rejected", taskEventFields.rejected(r, outcome.requeue));
  }

  /** A request dropped without running: revoked, expired, or terminated before/while running. */
  revokedRun(
    request: Pick<TaskEventSource, "id">,
    how: { expired: boolean; terminated?: boolean; signum?: number | null },
  ): void {
    this.entries.delete(request.id);
    this.events.send(
      "task-revoked",
      taskEventFields.revoked(request, {
        terminated: how.terminated ?? false,
        signum: how.signum ?? null,
        expired: how.expired,
      }),
    );
  }

  /** Forget a request put back on the queue (shutdown restore). */
  released(id: string): void {
    this.entries.delete(id);
  }

  // -- WorkerControlHost ---------------------------------------------------

  private countIn(state: Entry["state"]): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === state) n++;
    return n;
  }

  private info(e: Entry, safe = false): RequestInfo {
    const r = e.request;
    return {
      id: r.id,
      name: r.name,
      args: safe ? r.argsrepr : r.args,
      kwargs: safe ? r.kwargsrepr : r.kwargs,
      type: r.name,
      hostname: this.hostname,
      time_start: e.timeStart,
      acknowledged: e.state === "active",
      delivery_info: {
        exchange: r.deliveryInfo.exchange,
        routing_key: r.deliveryInfo.routingKey,
        priority: r.deliveryInfo.priority,
        redelivered: r.deliveryInfo.redelivered,
      },
      worker_pid: e.state === "active" ? process.pid : null,
    };
  }

  tasks(): TaskInfo[] {
    const w = this.options.worker;
    return w.taskNames().map((name) => ({ name, attributes: w.taskAttributes(name) }));
  }

  active(safe: boolean): RequestInfo[] {
    return [...this.entries.values()].filter((e) => e.state === "active").map((e) => this.info(e, safe));
  }

  reserved(): RequestInfo[] {
    return [...this.entries.values()].filter((e) => e.state === "reserved").map((e) => this.info(e));
  }

  scheduled(): ScheduledInfo[] {
    return [...this.entries.values()]
      .filter((e) => e.state === "scheduled")
      .map((e) => ({
        eta:
          typeof e.request.headers.eta === "string"
            ? e.request.headers.eta
            : (e.request.eta?.toISOString() ?? null),
        priority: e.request.deliveryInfo.priority,
        request: this.info(e),
      }));
  }

  findRequest(id: string) {
    const e = this.entries.get(id);
    return e ? { state: e.state, info: this.info(e) } : null;
  }

  terminate(id: string, signal: string): boolean {
    const e = this.entries.get(id);
    if (e?.state !== "active" || !e.abort) return false;
    this.log.info(`Terminating ${id} (${signal})`);
    e.abort.abort(new Error(`terminated by remote control (${signal})`));
    return true;
  }

  markRevoked(id: string): Promise<void> {
    return this.options.worker.markRevoked?.(id) ?? Promise.resolve();
  }

  stats(): Record<string, unknown> {
    const s = this.options.settings;
    const processPool = this.options.worker.processPool?.() ?? null;
    return {
      total: Object.fromEntries(this.totals),
      pid: process.pid,
      clock: String(this.clock.value),
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      // celery/concurrency/prefork.py TaskPool._get_info: child pids, max-tasks-per-child or "N/A".
      pool: {
        implementation: processPool ? "celeriac:process" : "celeriac:async",
        "max-concurrency": this.options.worker.concurrency,
        processes: processPool ? processPool.pids : [process.pid],
        "max-tasks-per-child": processPool ? (processPool.maxTasksPerChild ?? "N/A") : null,
        "put-guarded-by-semaphore": false,
        timeouts: [s.taskSoftTimeLimit, s.taskTimeLimit],
      },
      broker: { transport: this.options.transport instanceof AmqpTransport ? "amqp" : "redis" },
      prefetch_count: this.options.worker.concurrency * s.workerPrefetchMultiplier,
      rusage: rusage(),
      sw_ident: "celeriac",
      events_dropped: this.events.dropped,
    };
  }

  setRateLimit(taskName: string, rateLimit: string | number | null): string | null {
    if (!this.options.worker.taskNames().includes(taskName)) return "unknown task";
    return this.options.worker.setRateLimit?.(taskName, rateLimit) ?? null;
  }

  setTimeLimit(taskName: string, soft: number | null, hard: number | null): string | null {
    if (!this.options.worker.taskNames().includes(taskName)) return "unknown task";
    return this.options.worker.setTimeLimit?.(taskName, soft, hard) ?? null;
  }

  addConsumer(queue: string, exchange: string | null, exchangeType: string, routingKey: string | null): void {
    this.options.worker.addConsumer?.(queue, exchange, exchangeType, routingKey);
  }

  cancelConsumer(queue: string): void {
    this.options.worker.cancelConsumer?.(queue);
  }

  activeQueues(): Record<string, unknown>[] {
    return this.options.worker.queues();
  }

  // celery/worker/control.py pool_grow/pool_shrink: `pool.grow(n)` + `_update_prefetch_count(n)`;
  // a TS worker's pool is its concurrency limit (the worker updates its prefetch with it).
  poolGrow(n: number): void {
    this.options.worker.setConcurrency?.(this.options.worker.concurrency + n);
  }

  poolShrink(n: number): void {
    this.options.worker.setConcurrency?.(this.options.worker.concurrency - n);
  }

  shutdown(): void {
    this.log.warn("Got shutdown from remote");
    this.options.worker.shutdown();
  }
}

function rusage(): Record<string, number> {
  const u = process.resourceUsage();
  return {
    utime: u.userCPUTime / 1e6,
    stime: u.systemCPUTime / 1e6,
    maxrss: u.maxRSS,
    minflt: u.minorPageFault,
    majflt: u.majorPageFault,
    nvcsw: u.voluntaryContextSwitches,
    nivcsw: u.involuntaryContextSwitches,
  };
}
