import type { Settings } from "../config.js";
import { LamportClock } from "../events/clock.js";
import { EventDispatcher } from "../events/dispatcher.js";
import { Heart } from "../events/heartbeat.js";
import { brokerEventSink, type EventBroker } from "../events/sink.js";
import { type TaskEventSource, taskEventFields } from "../events/task-events.js";
import { confTable, givenTransportOptions } from "./conf-table.js";
import type { RequestInfo, ScheduledInfo, TaskInfo, WorkerControlHost } from "./host.js";
import type { MailboxBroker } from "./mailbox.js";
import { mingle } from "./mingle.js";
import { bugreport } from "./report.js";
import type { RevokedSet } from "./revoked.js";
import type { RevokedStamps } from "./revoked-stamps.js";
import { type RunningNode, startWorkerPidbox } from "./worker-pidbox.js";

/** What WorkerOps needs of the broker: events and the pidbox mailbox (`Transport.events`, `Transport.mailbox`). */
export type OpsTransport = EventBroker & MailboxBroker;

import { type RunAbort, type TrackedRequest, WorkerBookkeeping } from "./worker-state.js";

export type { TrackedRequest } from "./worker-state.js";

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
  /** The prefetch count in effect (`stats` `prefetch_count`: Celery's `consumer.qos.value`). */
  prefetchCount?(): number;
  /** The process pool's children and recycling limit for `stats` (absent or null = no process pool). */
  processPool?(): { pids: number[]; maxTasksPerChild: number | null } | null;
  /** Warm shutdown requested by remote control. */
  shutdown(): void;
  /** REVOKED meta for an id, used by revoke (5.7: only if not yet started elsewhere). */
  markRevoked?(id: string): Promise<void>;
}

export interface WorkerOpsOptions {
  settings: Settings;
  /** The broker: its event sink carries the worker's events, its mailbox remote control and mingle. */
  transport: OpsTransport;
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

/**
 * Events, remote control and mingle for one TS worker: the worker calls
 * `received / scheduled / started / finished / revokedRun`; WorkerOps pairs
 * each with Celery's worker state ({@link WorkerBookkeeping}: requests, totals,
 * revoked ids) and its task event (dispatcher + heartbeat), starts the pidbox
 * node (worker-pidbox.ts) and mingle (mingle.ts), and answers pidbox commands
 * (it is the {@link WorkerControlHost}).
 */
export class WorkerOps implements WorkerControlHost {
  readonly hostname: string;
  readonly clock = new LamportClock();
  readonly events: EventDispatcher;
  private readonly state: WorkerBookkeeping;
  private readonly heart: Heart;
  private node: RunningNode | null = null;
  private readonly startedAt = Date.now();
  private readonly log: NonNullable<WorkerOpsOptions["log"]>;

  constructor(private readonly options: WorkerOpsOptions) {
    const s = options.settings;
    this.hostname = options.worker.hostname;
    this.state = new WorkerBookkeeping(this.hostname);
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
    const sendTaskEvents = options.sendTaskEvents ?? s.workerSendTaskEvents;
    this.events = new EventDispatcher({
      hostname: this.hostname,
      compat: s.compat,
      clock: this.clock,
      sink: brokerEventSink(options.transport, s),
      // celery/worker/consumer/events.py: without -E only the worker group (heartbeats) is sent.
      groups: sendTaskEvents ? [] : ["worker"],
      bufferGroups: ["task"],
      enabled: false,
    });
    this.heart = new Heart(
      this.events,
      { active: () => this.state.count("active"), processed: () => this.state.processed },
      options.heartbeatInterval ?? 2.0,
    );
  }

  /** Revoked ids (remote `revoke`, mingle, the state file). */
  get revoked(): RevokedSet {
    return this.state.revoked;
  }

  /** Stamps revoked by `revoke_by_stamped_headers`. */
  get revokedStamps(): RevokedStamps {
    return this.state.revokedStamps;
  }

  async start(): Promise<void> {
    const s = this.options.settings;
    const t = this.options.transport;
    if (this.options.mingle ?? true) {
      await mingle({
        settings: s,
        oid: this.options.oid,
        transport: t,
        hostname: this.hostname,
        clock: this.clock,
        revoked: this.state.revoked,
        log: this.log,
      });
    }
    if (this.options.remoteControl ?? s.workerEnableRemoteControl) {
      this.node = await startWorkerPidbox(this, {
        settings: s,
        transport: t,
        hostname: this.hostname,
        log: this.log,
      });
    }
    this.events.enable();
  }

  async stop(): Promise<void> {
    this.events.disable();
    this.heart.close();
    await this.events.drain();
    await this.node?.close();
    this.node = null;
  }

  // -- the worker's calls --------------------------------------------------

  /** A task message was accepted; returns false when its id is revoked (do not run it). */
  received(request: TrackedRequest): boolean {
    // Task events are off by default (worker_send_task_events): no fields built for nothing.
    if (this.events.wants("task-received"))
      this.events.send("task-received", taskEventFields.received(request));
    return this.state.track(request);
  }

  /** Held for its ETA/countdown (inspect scheduled). */
  markScheduled(id: string): void {
    this.state.markScheduled(id);
  }

  /** Back from the ETA timer / rate queue: reserved again. False when revoked meanwhile. */
  due(id: string): boolean {
    return this.state.due(id);
  }

  /** Just before the handler runs; `abort` is what `terminate` fires. */
  started(id: string, abort: RunAbort): void {
    const request = this.state.start(id, abort);
    if (request && this.events.wants("task-started"))
      this.events.send("task-started", taskEventFields.started(request));
  }

  finished(id: string, outcome: RunOutcome): void {
    const r = this.state.finish(id);
    // Every task-* event is in the "task" group: one check answers for all four.
    if (!r || !this.events.wants("task-succeeded")) return;
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
    this.state.forget(request.id);
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
    this.state.forget(id);
  }

  // -- WorkerControlHost ---------------------------------------------------

  tasks(): TaskInfo[] {
    const w = this.options.worker;
    return w.taskNames().map((name) => ({ name, attributes: w.taskAttributes(name) }));
  }

  active(safe: boolean): RequestInfo[] {
    return this.state.active(safe);
  }

  reserved(): RequestInfo[] {
    return this.state.reserved();
  }

  scheduled(): ScheduledInfo[] {
    return this.state.scheduled();
  }

  findRequest(id: string) {
    return this.state.findRequest(id);
  }

  activeStamps(): { id: string; stamps: Record<string, unknown> }[] {
    return this.state.activeStamps();
  }

  terminate(id: string, signal: string): boolean {
    if (!this.state.isActive(id)) return false;
    this.log.info(`Terminating ${id} (${signal})`);
    return this.state.terminate(id, new Error(`terminated by remote control (${signal})`));
  }

  markRevoked(id: string): Promise<void> {
    return this.options.worker.markRevoked?.(id) ?? Promise.resolve();
  }

  /**
   * celery/worker/worker.py `WorkController.stats` (5.7.0): `info()` (total, pid, clock, uptime),
   * the Pool step's `pool`, the Connection step's `broker`, the Tasks step's `prefetch_count`,
   * then `rusage`, with the keys and value kinds Celery gives (Flower and `celery inspect stats`
   * read them).
   */
  stats(): Record<string, unknown> {
    const s = this.options.settings;
    const w = this.options.worker;
    const processPool = w.processPool?.() ?? null;
    return {
      total: this.state.totalsByName(),
      pid: process.pid,
      clock: String(this.clock.value),
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      // celery/concurrency/prefork.py TaskPool._get_info's keys (put-guarded-by-semaphore is false
      // there too, the prefork default); the async pool is this process, with no pipe writes.
      pool: {
        implementation: processPool ? "celeriac:process" : "celeriac:async",
        "max-concurrency": w.concurrency,
        processes: processPool ? processPool.pids : [process.pid],
        "max-tasks-per-child": processPool?.maxTasksPerChild ?? "N/A",
        "put-guarded-by-semaphore": false,
        timeouts: [s.taskSoftTimeLimit ?? 0, s.taskTimeLimit ?? 0],
        writes: "N/A",
      },
      broker: brokerInfo(s),
      prefetch_count: w.prefetchCount?.() ?? w.concurrency * s.workerPrefetchMultiplier,
      rusage: rusage(),
    };
  }

  /** `conf` (celery/worker/control.py, 5.7.0): the settings this worker was given, censored. */
  conf(withDefaults: boolean): Record<string, unknown> {
    return confTable(this.options.settings, withDefaults);
  }

  report(): string {
    return bugreport(this.options.settings);
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

  /**
   * billiard `Pool.shrink(n)`: stops up to `n` idle slots; when fewer than `n` are idle it stops
   * those and raises, and Celery's handler replies with the error (running tasks are never cut).
   */
  poolShrink(n: number): string | null {
    const w = this.options.worker;
    const idle = Math.max(0, w.concurrency - this.state.count("active"));
    const by = Math.min(n, idle);
    if (by > 0) w.setConcurrency?.(w.concurrency - by);
    return by < n ? `ValueError("Can't shrink pool. All processes busy!")` : null;
  }

  shutdown(): void {
    this.log.warn("Got shutdown from remote");
    this.options.worker.shutdown();
  }
}

/** celery/worker/worker.py `WorkController.rusage`: getrusage(RUSAGE_SELF)'s sixteen fields. */
function rusage(): Record<string, number> {
  const u = process.resourceUsage();
  return {
    utime: u.userCPUTime / 1e6,
    stime: u.systemCPUTime / 1e6,
    maxrss: u.maxRSS,
    ixrss: u.sharedMemorySize,
    idrss: u.unsharedDataSize,
    isrss: u.unsharedStackSize,
    minflt: u.minorPageFault,
    majflt: u.majorPageFault,
    nswap: u.swappedOut,
    inblock: u.fsRead,
    oublock: u.fsWrite,
    msgsnd: u.ipcSent,
    msgrcv: u.ipcReceived,
    nsignals: u.signalsCount,
    nvcsw: u.voluntaryContextSwitches,
    nivcsw: u.involuntaryContextSwitches,
  };
}

/**
 * kombu `Connection.info()` without the password (celery/worker/consumer/connection.py
 * `Connection.info`, 5.7.0), from the broker URL and the settings Celery reads for it.
 */
function brokerInfo(s: Settings): Record<string, unknown> {
  let u: URL | null = null;
  try {
    u = new URL(s.broker);
  } catch {
    u = null;
  }
  const scheme = u ? u.protocol.replace(/:$/, "") : "";
  const amqp = scheme.startsWith("amqp");
  const defaultPort = amqp ? (scheme === "amqps" ? 5671 : 5672) : 6379;
  const vhost = u ? decodeURIComponent(u.pathname.slice(1)) : "";
  return {
    hostname: u?.hostname || "localhost",
    userid: u?.username ? decodeURIComponent(u.username) : amqp ? "guest" : null,
    virtual_host: amqp ? vhost || "/" : vhost || null,
    port: u?.port ? Number(u.port) : defaultPort,
    insist: false,
    ssl: scheme === "amqps" || scheme === "rediss" || s.brokerUseSsl !== null,
    transport: scheme,
    connect_timeout: s.brokerConnectionTimeout,
    transport_options: givenTransportOptions(s),
    login_method: amqp ? "PLAIN" : null,
    uri_prefix: null,
    heartbeat: s.brokerHeartbeat,
    failover_strategy: "round-robin",
    alternates: [],
    credential_provider: null,
  };
}
