import { setMaxListeners } from "node:events";
import { hostname as osHostname } from "node:os";
import type { WorkerOps } from "../control/worker-ops.js";
import { createLogger, type Logger } from "../logging.js";
import { wireBudget } from "../serialization/index.js";
import { loadTracing } from "../tracing.js";
import type { Delivery, QueueSpec } from "../transports/transport.js";
import { admitMessage } from "./admission.js";
import { type BodyDecoder, kombuBodyDecoder } from "./body-codec.js";
import { brokerWatch } from "./broker-watch.js";
import { Terminated } from "./errors.js";
import { EtaTimer } from "./eta-timer.js";
import { applyWorkerHeapPolicy } from "./heap-policy.js";
import { startOps, stopOps } from "./ops-lifecycle.js";
import { type OutcomeReport, reportOutcome } from "./outcome-events.js";
import { QueueConsumption } from "./queue-consumption.js";
import { TaskBuckets } from "./rate-limit.js";
import { requestLabel } from "./request.js";
import { discard, expired, type Held, type RevocationContext, revoked, signumOf } from "./revocation.js";
import { RunControl, runsFinishedWithin } from "./run-control.js";
import { RunSlots } from "./run-slots.js";
import { errorMessage, restoreMessage, settleOnce } from "./settlement.js";
import { handleShutdownSignals } from "./shutdown-signals.js";
import { TaskOverrides } from "./task-overrides.js";
import type { TaskRunner } from "./task-runner.js";
import { type WorkerEventListener, type WorkerEventName, WorkerEvents } from "./worker-events.js";
import {
  type CloseOptions,
  checkWorkerOptions,
  startQueues,
  type WorkerDeps,
  type WorkerOptions,
} from "./worker-options.js";
import { checkProcessPoolTasks, WorkerPools } from "./worker-pools.js";
import { wireWorker } from "./worker-wiring.js";

export type { CloseOptions, WorkerDeps, WorkerOptions } from "./worker-options.js";

/**
 * The worker: consumes task messages, gates them (expired, ETA, rate limit,
 * concurrency) and hands them to the {@link TaskRunner}, the way Celery's
 * `Consumer` + `strategy.default` + pool do.
 *
 * ETA/countdown: the message stays unacked in this process until it is due
 * (prefetch is raised meanwhile, as kombu's QoS does). On Redis, an ETA
 * further away than `visibilityTimeout` (default 1 h) gets restored by a
 * visibility sweep (ours or a Python worker's) and runs twice — the same
 * caveat Celery documents for the Redis transport.
 */
export class Worker {
  readonly hostname: string;
  private readonly consumption: QueueConsumption;
  private limit: number;
  readonly prefetchMultiplier: number;
  private readonly logger: Logger;
  private readonly decodeBody: BodyDecoder;
  private readonly runner: TaskRunner;
  private readonly slots = new RunSlots(() => this.concurrency);
  private readonly ready: Held[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly etaTimers = new Map<EtaTimer, Held>();
  private readonly buckets = new TaskBuckets<Held>((held) => this.enqueue(held));
  private readonly shutdown = new AbortController();
  /** The stop switch of every run in progress (aborted together by a cold shutdown). */
  private readonly runControls = new Set<RunControl>();
  private readonly pools: WorkerPools;
  private readonly poolOptions: WorkerOptions;
  private state: "new" | "running" | "closing" | "closed" = "new";
  private readonly overrides = new TaskOverrides();
  private readonly ops: WorkerOps | null;
  private readonly events: WorkerEvents;
  /** What the revocation gates (revocation.ts) and the outcome report (outcome-events.ts) read. */
  private readonly gates: RevocationContext & OutcomeReport;
  /** When each running task's handler started (`performance.now()`), for the failed runtime. */
  private readonly startedAt = new Map<string, number>();
  private readonly statedb: string | undefined;
  /** Queue changes run one after another (each replaces the consumer). */
  private markClosed: () => void = () => {};
  /** Why the worker stopped by itself (its broker gone for good), or null. The process then exits 1. */
  failure: Error | null = null;
  private removeSignalHandlers: () => void = () => {};
  /** Resolves once the worker has closed (also after a remote `celery control shutdown`). */
  readonly closed = new Promise<void>((resolve) => {
    this.markClosed = resolve;
  });

  constructor(
    private readonly deps: WorkerDeps,
    options: WorkerOptions = {},
  ) {
    checkWorkerOptions(options);
    const s = deps.settings;
    // Other parts of the worker listen on this signal too: more than 10 is not a leak.
    setMaxListeners(0, this.shutdown.signal);
    // One listener for every run (not one per task on this shared signal): a cold shutdown
    // aborts each running task's own signal.
    this.shutdown.signal.addEventListener(
      "abort",
      () => {
        for (const run of this.runControls) run.abort(this.shutdown.signal.reason);
      },
      { once: true },
    );
    this.hostname = options.hostname ?? `celery@${osHostname()}`;
    this.logger = deps.logger ?? createLogger();
    this.events = new WorkerEvents((event, err) =>
      this.logger.error({ err }, `worker event listener for ${event} raised: ${String(err)}`),
    );
    const watch = brokerWatch(this.logger, this.events);
    this.consumption = new QueueConsumption(
      startQueues(options, deps),
      (queues) =>
        deps.transport.consume({
          queues,
          prefetch: this.prefetch(),
          onMessage: (delivery) => this.onMessage(delivery),
          onError: watch.onError,
          onReconnected: watch.onReconnected,
          onFatal: (err) => this.fatal(err),
        }),
      this.logger,
    );
    this.limit = Math.max(1, options.concurrency ?? s.workerConcurrency ?? 16);
    this.statedb = options.statedb;
    this.prefetchMultiplier = Math.max(0, options.prefetchMultiplier ?? s.workerPrefetchMultiplier);
    this.poolOptions = options;
    this.pools = new WorkerPools(options, s, () => this.concurrency, this.logger);
    this.decodeBody = deps.decodeBody ?? kombuBodyDecoder(s.acceptContent, s.compat, wireBudget(s));
    const wiring = wireWorker({
      deps,
      hostname: this.hostname,
      logger: this.logger,
      events: this.events,
      pools: this.pools,
      onOutcome: (request, outcome) => reportOutcome(this.gates, request, outcome),
      controls: {
        concurrency: () => this.concurrency,
        overrides: this.overrides,
        queues: this.queues,
        resetRateLimit: (name) => this.resetRateLimit(name),
        addQueue: (queue) => void this.addQueue(queue).catch(() => undefined),
        cancelQueue: (name) => void this.cancelQueue(name).catch(() => undefined),
        setConcurrency: (n) => this.setConcurrency(n),
        prefetchCount: () => this.prefetch(),
        shutdown: () => void this.close(),
      },
    });
    this.runner = wiring.runner;
    this.ops = wiring.ops;
    this.gates = {
      ops: this.ops,
      settings: s,
      hostname: this.hostname,
      logger: this.logger,
      runner: this.runner,
      events: this.events,
      startedAt: this.startedAt,
    };
  }

  /** The queues consumed now (changed by `addQueue` / `cancelQueue`, remote add/cancel_consumer). */
  get queues(): QueueSpec[] {
    return this.consumption.queues;
  }

  /** Tasks run at once (changed by `setConcurrency`, remote pool_grow/pool_shrink). */
  get concurrency(): number {
    return this.limit;
  }

  /** Prefetch bound: concurrency × multiplier (0 = unbounded), plus messages held for their ETA. */
  private prefetch(): number {
    if (this.prefetchMultiplier === 0) return 0;
    return this.concurrency * this.prefetchMultiplier + this.etaTimers.size;
  }

  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`worker already ${this.state}`);
    if (this.poolOptions.handleSignals !== false) {
      this.removeSignalHandlers = handleShutdownSignals(
        {
          hostname: this.hostname,
          close: () => this.close(),
          abandon: () => this.shutdown.abort(new Error("cold shutdown")),
        },
        this.logger,
      );
    }
    checkProcessPoolTasks(this.poolOptions, this.deps.registry);
    if (this.poolOptions.heapPolicy !== false) applyWorkerHeapPolicy();
    loadTracing();
    this.state = "running";
    await startOps(this.ops, this.statedb, this.logger);
    await this.consumption.start();
    this.logger.info(
      `${this.hostname} ready. queues=${this.queues.map((q) => q.name).join(",")} concurrency=${this.concurrency} tasks=${this.deps.registry.names().join(",")}`,
    );
    this.events.emit("worker-ready", { hostname: this.hostname, queues: this.queues.map((q) => q.name) });
  }

  /** Observes the worker: `worker.on("task-succeeded", (e) => ...)` (the map is in worker-events.ts). */
  on<K extends WorkerEventName>(event: K, listener: WorkerEventListener<K>): this {
    this.events.on(event, listener);
    return this;
  }

  off<K extends WorkerEventName>(event: K, listener: WorkerEventListener<K>): this {
    this.events.off(event, listener);
    return this;
  }

  /** Stop consuming, let running tasks finish up to `timeoutMs`, put everything else back on its queue. */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.state === "closed" || this.state === "closing") return;
    this.state = "closing";
    const timeout = options.timeoutMs ?? options.timeout ?? 30_000;
    this.logger.info(
      `${this.hostname}: warm shutdown, waiting up to ${timeout / 1000}s for ${this.slots.inProgress} task(s)`,
    );
    await this.consumption.stop();
    // Not started yet: back to the queue (kombu restores unacked messages at shutdown).
    const waiting: Held[] = [...this.ready.splice(0)];
    for (const [timer, held] of this.etaTimers) {
      timer.cancel();
      waiting.push(held);
    }
    this.etaTimers.clear();
    waiting.push(...this.buckets.takeAll());
    for (const h of waiting) this.ops?.released(h.request.id);
    await Promise.all(waiting.map((h) => this.restore(h.delivery)));
    if (!(await runsFinishedWithin(this.inFlight, timeout))) {
      this.logger.warn(
        `${this.hostname}: ${this.slots.inProgress} task(s) still running after ${timeout / 1000}s; abandoning them`,
      );
      this.shutdown.abort(new Error("worker shutdown"));
    }
    await stopOps(this.ops, this.statedb, this.logger);
    await this.pools.close();
    this.removeSignalHandlers();
    this.state = "closed";
    this.events.emit("worker-shutdown", { hostname: this.hostname });
    this.markClosed();
  }

  /**
   * The broker is gone for good (the consumer's `broker_connection_*` retries
   * ran out): one line, a warm shutdown, exit status 1 so a supervisor
   * restarts the process (celery/worker/worker.py `WorkController.start`:
   * "Unrecoverable error", `stop(exitcode=EX_FAILURE)`, 5.7.0).
   */
  private fatal(err: Error): void {
    if (this.failure !== null || this.state !== "running") return;
    this.failure = err;
    this.logger.error(`consumer: ${err.message}. Unrecoverable: the worker stops with exit status 1.`);
    if (!process.exitCode) process.exitCode = 1;
    this.events.emit("fatal-error", err);
    void this.close();
  }

  /** Remote `add_consumer`: one more queue (see QueueConsumption). */
  addQueue(queue: string | QueueSpec): Promise<void> {
    return this.consumption.add(queue);
  }

  /** Remote `cancel_consumer`: one queue fewer. */
  cancelQueue(name: string): Promise<void> {
    return this.consumption.cancel(name);
  }

  /**
   * pool_grow / pool_shrink: tasks run at once (at least 1). Running tasks are not stopped; the
   * prefetch bound follows (Consumer._update_prefetch_count). Thread-pool threads do not change.
   */
  setConcurrency(n: number): void {
    this.limit = Math.max(1, Math.floor(n));
    this.consumption.setPrefetch(this.prefetch());
    this.pump();
  }

  private restore(delivery: Delivery): Promise<void> {
    return restoreMessage(delivery, this.logger, () => this.failure !== null);
  }

  private onMessage(received: Delivery): void {
    const delivery = settleOnce(received);
    if (this.state !== "running") {
      void this.restore(delivery);
      return;
    }
    try {
      this.accept(delivery);
    } catch (err) {
      this.logger.error({ err }, `Unrecoverable error handling message: ${(err as Error).message}`);
      void delivery.reject(false).catch(() => undefined);
    }
  }

  /** celery/worker/consumer/consumer.py `on_task_received` + strategy.py `task_message_handler`. */
  private accept(delivery: Delivery): void {
    const admitted = admitMessage(delivery, {
      decodeBody: this.decodeBody,
      registry: this.deps.registry,
      logger: this.logger,
      hostname: this.hostname,
      compat: this.deps.settings.compat,
      store: (meta, destination) => this.runner.store(meta, destination),
    });
    if (admitted === null) return;
    const { request, task } = admitted;
    this.logger.info(`Task ${requestLabel(request)} received`);
    const held: Held = { delivery, request, task: this.overrides.apply(task) };
    if (expired(this.gates, held) || revoked(this.gates, held, held.request.expires !== null)) return;
    // strategy.py: task-received once the request is known not revoked; WorkerOps tracks it from here.
    if (this.events.has("task-received"))
      this.events.emit("task-received", { id: request.id, name: request.name });
    if (this.ops && !this.ops.received(request)) {
      discard(this.gates, held, "revoked");
      return;
    }
    const eta = request.eta?.getTime();
    if (eta !== undefined && eta > Date.now()) {
      const timer = new EtaTimer(eta, () => {
        this.etaTimers.delete(timer);
        this.consumption.setPrefetch(this.prefetch());
        // A revoke that arrived while the task waited for its ETA wins (Request.revoked at execute).
        if (this.ops && !this.ops.due(request.id)) discard(this.gates, held, "revoked");
        else this.rateGate(held);
      });
      this.etaTimers.set(timer, held);
      this.ops?.markScheduled(request.id);
      this.consumption.setPrefetch(this.prefetch());
      return;
    }
    this.rateGate(held);
  }

  private rateGate(held: Held): void {
    if (this.state !== "running") {
      void this.restore(held.delivery);
      return;
    }
    const rate = held.task.options.rateLimit;
    if (rate > 0 && !this.deps.settings.workerDisableRateLimits) {
      this.buckets.push(held.task.name, rate, held);
      return;
    }
    this.enqueue(held);
  }

  private enqueue(held: Held): void {
    this.ready.push(held);
    this.pump();
  }

  private pump(): void {
    while (this.slots.free && this.ready.length > 0 && this.state === "running") {
      const held = this.ready.shift() as Held;
      if (expired(this.gates, held) || revoked(this.gates, held, true)) continue;
      this.slots.take();
      let freedEarly = false;
      const handlerReturned = () => {
        freedEarly = this.slots.handlerReturned();
        if (freedEarly) this.pump();
      };
      const id = held.request.id;
      // The run's stop switch (no AbortController per task): a cold shutdown aborts it through
      // `runControls`, remote `revoke(terminate=True)` with Terminated through WorkerOps.
      const control = new RunControl();
      this.runControls.add(control);
      this.ops?.started(id, { abort: (reason) => control.abort(new Terminated(signumOf(reason))) });
      this.startedAt.set(id, performance.now());
      if (this.events.has("task-started")) this.events.emit("task-started", { id, name: held.request.name });
      const released = () => {
        this.runControls.delete(control);
        this.ops?.released(id);
        this.startedAt.delete(id);
        this.slots.finished(freedEarly);
        this.inFlight.delete(run);
        this.pump();
      };
      const run = this.runner
        .run(held.request, held.task, held.delivery, control, handlerReturned)
        .then(released, (err: unknown) => {
          // One `then` for both ends (`.catch().finally()` made four promises per task). Not
          // reached (run() settles on every path); if it were, the message must not stay held.
          this.logger.error({ err }, `internal error running ${id}: ${errorMessage(err)}`);
          void held.delivery.ack().catch(() => undefined);
          released();
        });
      this.inFlight.add(run);
    }
  }

  /** After a remote `rate_limit`: requests held by the old bucket go through the new rate. */
  private resetRateLimit(name: string): void {
    for (const held of this.buckets.reset(name)) {
      this.rateGate({ ...held, task: this.overrides.apply(held.task) });
    }
  }
}
