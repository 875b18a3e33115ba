import { setMaxListeners } from "node:events";
import { hostname as osHostname } from "node:os";
import { signum } from "../control/commands.js";
import { loadStateDb, saveStateDb } from "../control/statedb.js";
import type { WorkerOps } from "../control/worker-ops.js";
import { ConnectionLostError } from "../errors.js";
import { createLogger, type Logger } from "../logging.js";
import { logSafe, pyRepr } from "../protocol/py-repr.js";
import { wireBudget } from "../serialization/index.js";
import { withDeadline } from "../transports/retry-policy.js";
import type { Delivery, QueueSpec } from "../transports/transport.js";
import { admitMessage } from "./admission.js";
import { type BodyDecoder, kombuBodyDecoder, kombuBodyEncoder, kombuResultEncoder } from "./body-codec.js";
import { registerBuiltinTasks } from "./builtin-tasks.js";
import { runWorkerContinuations, workerCanvas } from "./canvas-host.js";
import { registerChordUnlock } from "./chord-unlock.js";
import { errbackCaller } from "./errbacks.js";
import { Terminated } from "./errors.js";
import { EtaTimer } from "./eta-timer.js";
import { applyWorkerHeapPolicy } from "./heap-policy.js";
import { workerOpsSurface } from "./ops-surface.js";
import { QueueConsumption } from "./queue-consumption.js";
import { RateLimitedQueue, TokenBucket } from "./rate-limit.js";
import { requestLabel, type WorkerRequest } from "./request.js";
import { requestResultMeta } from "./result-meta.js";
import { TaskRevokedErrorInfo } from "./revoked.js";
import { RunControl } from "./run-control.js";
import { errorMessage, settleOnce } from "./settlement.js";
import { handleShutdownSignals } from "./shutdown-signals.js";
import { hookRequest } from "./task-hooks.js";
import { TaskOverrides } from "./task-overrides.js";
import type { TaskDefinition } from "./task-registry.js";
import { effectiveIgnoreResult, type RunnerOutcome, replyDestination, TaskRunner } from "./task-runner.js";
import {
  taskSignalHooks,
  type WorkerEventListener,
  type WorkerEventName,
  WorkerEvents,
} from "./worker-events.js";
import {
  type CloseOptions,
  checkWorkerOptions,
  toQueueSpec,
  type WorkerDeps,
  type WorkerOptions,
} from "./worker-options.js";
import { checkProcessPoolTasks, WorkerPools } from "./worker-pools.js";

/** How long a shutdown waits for the last events and the pidbox to close. */
const OPS_STOP_TIMEOUT_MS = 5000;

export type { CloseOptions, WorkerDeps, WorkerOptions } from "./worker-options.js";

/** A message this worker holds: delivered, admitted, not yet settled. */
interface Held {
  delivery: Delivery;
  request: WorkerRequest;
  task: TaskDefinition;
}

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
  /** When the broker connection was lost (ms), null while connected (for `broker-back`). */
  private brokerLostAt: number | null = null;
  private readonly decodeBody: BodyDecoder;
  private readonly runner: TaskRunner;
  private running = 0;
  private readonly ready: Held[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly etaTimers = new Map<EtaTimer, Held>();
  private readonly buckets = new Map<string, RateLimitedQueue<Held>>();
  private readonly shutdown = new AbortController();
  /** The stop switch of every run in progress (aborted together by a cold shutdown). */
  private readonly runControls = new Set<RunControl>();
  private readonly pools: WorkerPools;
  private readonly poolOptions: WorkerOptions;
  private state: "new" | "running" | "closing" | "closed" = "new";
  private readonly overrides = new TaskOverrides();
  private readonly ops: WorkerOps | null;
  private readonly events: WorkerEvents;
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
    this.consumption = new QueueConsumption(
      (options.queues ?? [s.taskDefaultQueue]).map((q) =>
        typeof q === "string" && deps.resolveQueue ? deps.resolveQueue(q) : toQueueSpec(q),
      ),
      (queues) =>
        deps.transport.consume({
          queues,
          prefetch: this.prefetch(),
          onMessage: (delivery) => this.onMessage(delivery),
          // A lost broker connection is one line per retry (Celery's CONNECTION_ERROR), no stack.
          onError: (err) => {
            if (err instanceof ConnectionLostError) this.logger.error(`consumer: ${err.message}`);
            else this.logger.error({ err }, `consumer: ${err.message}`);
            this.events.emit("consumer-error", err);
            if (err instanceof ConnectionLostError && this.brokerLostAt === null) {
              this.brokerLostAt = Date.now();
              this.events.emit("broker-lost", err);
            }
          },
          onReconnected: () => {
            const downtime = this.brokerLostAt === null ? 0 : (Date.now() - this.brokerLostAt) / 1000;
            this.brokerLostAt = null;
            this.logger.info(`consumer: connected to the broker again after ${downtime.toFixed(2)}s`);
            this.events.emit("broker-back", { downtime });
          },
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
    const canvas = workerCanvas({
      settings: s,
      backend: deps.backend,
      publish: deps.publish,
      nativeDelay: deps.transport.nativeDelay,
      hostname: this.hostname,
      logger: this.logger,
    });
    registerChordUnlock(deps.registry, deps.backend, canvas, s.resultChordRetryInterval);
    registerBuiltinTasks(deps.registry, { canvas, modulePool: (handler) => this.pools.forHandler(handler) });
    this.runner = new TaskRunner({
      backend: deps.backend,
      publish: deps.publish,
      ...(deps.delayRetry ? { delayRetry: deps.delayRetry } : {}),
      encodeBody: deps.encodeBody ?? kombuBodyEncoder(s.taskSerializer, s.compat),
      encodeResult: kombuResultEncoder(s.resultSerializer, s.compat),
      logger: this.logger,
      hostname: this.hostname,
      compat: s.compat,
      resultExtended: s.resultExtended,
      storeErrorsEvenIfIgnored: s.taskStoreErrorsEvenIfIgnored,
      canvas,
      modulePool: (handler) => this.pools.forHandler(handler),
      onOutcome: (request, outcome) => this.onOutcome(request, outcome),
      hooks: taskSignalHooks(this.events),
    });
    const runner = this.runner;
    canvas.deps.localErrback = (sig) =>
      errbackCaller(
        { task: (name) => deps.registry.get(name), directContext: (r, t) => runner.directContext(r, t) },
        sig,
      );
    this.ops =
      deps.ops?.(
        workerOpsSurface({
          hostname: this.hostname,
          concurrency: () => this.concurrency,
          settings: s,
          registry: deps.registry,
          overrides: this.overrides,
          queues: this.queues,
          backend: deps.backend,
          logger: this.logger,
          resetRateLimit: (name) => this.resetRateLimit(name),
          addQueue: (queue) => void this.addQueue(queue).catch(() => undefined),
          cancelQueue: (name) => void this.cancelQueue(name).catch(() => undefined),
          setConcurrency: (n) => this.setConcurrency(n),
          processPool: () => this.pools.processPool,
          prefetchCount: () => this.prefetch(),
          shutdown: () => void this.close(),
        }),
      ) ?? null;
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
    this.state = "running";
    // celery/worker/state.py Persistent: the state file is merged when the worker is built,
    // before mingle, so its revoked ids are in our hello too.
    if (this.statedb !== undefined) {
      if (this.ops) {
        const n = await loadStateDb(this.statedb, this.ops);
        this.logger.info(`statedb ${this.statedb}: ${n} revoked id(s) loaded`);
      } else this.logger.warn("statedb needs events/remote control (a Redis or AMQP broker); not used");
    }
    // celery/worker/consumer bootsteps: Events and Mingle come before Tasks; the pidbox is up with them.
    await this.ops?.start();
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
      `${this.hostname}: warm shutdown, waiting up to ${timeout / 1000}s for ${this.running} task(s)`,
    );
    await this.consumption.stop();
    // Not started yet: back to the queue (kombu restores unacked messages at shutdown).
    const waiting: Held[] = [...this.ready.splice(0)];
    for (const [timer, held] of this.etaTimers) {
      timer.cancel();
      waiting.push(held);
    }
    this.etaTimers.clear();
    for (const bucket of this.buckets.values()) waiting.push(...bucket.takeAll());
    for (const h of waiting) this.ops?.released(h.request.id);
    await Promise.all(waiting.map((h) => this.restore(h.delivery)));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all([...this.inFlight]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeout);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      this.logger.warn(
        `${this.hostname}: ${this.running} task(s) still running after ${timeout / 1000}s; abandoning them`,
      );
      this.shutdown.abort(new Error("worker shutdown"));
    }
    // worker-offline goes out after the last task events (celery/worker/consumer/events.py shutdown).
    // Bounded: with the broker gone the last events and the pidbox close would wait for it.
    await withDeadline(
      this.ops?.stop() ?? Promise.resolve(),
      OPS_STOP_TIMEOUT_MS,
      () => new Error(`not done after ${OPS_STOP_TIMEOUT_MS / 1000}s (broker unreachable?)`),
    ).catch((err: unknown) => this.logger.warn(`events/pidbox stop: ${(err as Error).message}`));
    if (this.statedb !== undefined && this.ops) {
      await saveStateDb(this.statedb, this.ops).catch((err: unknown) =>
        this.logger.error({ err }, `statedb ${this.statedb}: not saved: ${(err as Error).message}`),
      );
    }
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

  private async restore(delivery: Delivery): Promise<void> {
    try {
      await delivery.reject(true);
    } catch (err) {
      // With the broker gone each of these would repeat the one fatal line; the sweep restores them.
      if (this.failure !== null) return;
      this.logger.error(
        { err },
        `could not restore message ${delivery.deliveryInfo.deliveryTag}; the visibility sweep will`,
      );
    }
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
    if (this.expired(held) || this.revoked(held, held.request.expires !== null)) return;
    // strategy.py: task-received once the request is known not revoked; WorkerOps tracks it from here.
    this.events.emit("task-received", { id: request.id, name: request.name });
    if (this.ops && !this.ops.received(request)) {
      this.discard(held, "revoked");
      return;
    }
    const eta = request.eta?.getTime();
    if (eta !== undefined && eta > Date.now()) {
      const timer = new EtaTimer(eta, () => {
        this.etaTimers.delete(timer);
        this.consumption.setPrefetch(this.prefetch());
        // A revoke that arrived while the task waited for its ETA wins (Request.revoked at execute).
        if (this.ops && !this.ops.due(request.id)) this.discard(held, "revoked");
        else this.rateGate(held);
      });
      this.etaTimers.set(timer, held);
      this.ops?.markScheduled(request.id);
      this.consumption.setPrefetch(this.prefetch());
      return;
    }
    this.rateGate(held);
  }

  /** Request.revoked / maybe_expire: an expired task is not run; REVOKED meta with reason "expired". */
  private expired(held: Held): boolean {
    const { request } = held;
    if (!request.expires || request.expires.getTime() > Date.now()) return false;
    this.discard(held, "expired");
    return true;
  }

  /**
   * Request.revoked: an id in the revoked set (remote `revoke`, mingle) is not run; nor, when
   * `stamps` (checked before running, and at receipt only for a task with `expires`, as
   * celery/worker/strategy.py calls Request.revoked), a task carrying a revoked stamp.
   */
  private revoked(held: Held, stamps = false): boolean {
    if (this.ops?.revoked.has(held.request.id)) {
      this.discard(held, "revoked");
      return true;
    }
    if (!stamps || !this.ops || this.ops.revokedStamps.size === 0) return false;
    const { stampedHeaders, stamps: values } = held.request;
    const header = this.ops.revokedStamps.match(stampedHeaders ?? [], values);
    if (header === null) return false;
    this.discard(held, "revoked", header);
    return true;
  }

  /**
   * Request._announce_revoked: ack, REVOKED meta (when results or errors are
   * stored), `task-revoked` event.
   */
  private discard(
    held: Held,
    reason: "revoked" | "expired",
    byHeader: Record<string, unknown> | null = null,
  ): void {
    const { request, task, delivery } = held;
    const suffix =
      reason === "expired"
        ? " (expired)"
        : byHeader !== null
          ? ` (revoked by header: ${logSafe(pyRepr(byHeader))})`
          : "";
    this.logger.info(`Discarding revoked task: ${requestLabel(request)}${suffix}`);
    this.ops?.revokedRun(request, { expired: reason === "expired" });
    const ignore = effectiveIgnoreResult(
      request.ignoreResult,
      task.options.ignoreResult,
      this.deps.settings.compat,
    );
    const exc = TaskRevokedErrorInfo(reason);
    const store = async () => {
      if (ignore && !this.deps.settings.taskStoreErrorsEvenIfIgnored) return;
      await this.runner.store(
        requestResultMeta("REVOKED", exc, null, request, {
          hostname: this.hostname,
          resultExtended: this.deps.settings.resultExtended,
          compat: this.deps.settings.compat,
        }),
        replyDestination(request),
      );
    };
    // Backend.mark_as_revoked: the REVOKED meta, then a chord header member's part is returned
    // (the chord fails with `Dependency <id> raised TaskRevokedError(...)`, not left waiting).
    const canvas = this.runner.deps.canvas;
    const stored = canvas
      ? runWorkerContinuations(canvas, request, { kind: "revoked", exc }, store)
      : store();
    // _announce_revoked: mark_as_revoked, acknowledge, task_revoked; the ack is deferred with
    // call_soon (celery/worker/consumer/consumer.py on_task_received), so it goes out after the
    // receivers of task_revoked returned.
    void stored
      .then(() =>
        this.events.emit("task-revoked", {
          id: request.id,
          name: request.name,
          expired: reason === "expired",
          terminated: false,
          signum: null,
          request: hookRequest(request),
        }),
      )
      .then(() => delivery.ack())
      .catch(() => undefined);
  }

  private rateGate(held: Held): void {
    if (this.state !== "running") {
      void this.restore(held.delivery);
      return;
    }
    const rate = held.task.options.rateLimit;
    if (rate > 0 && !this.deps.settings.workerDisableRateLimits) {
      let bucket = this.buckets.get(held.task.name);
      if (!bucket) {
        bucket = new RateLimitedQueue<Held>(new TokenBucket(rate, 1), (h) => this.enqueue(h));
        this.buckets.set(held.task.name, bucket);
      }
      bucket.push(held);
      return;
    }
    this.enqueue(held);
  }

  private enqueue(held: Held): void {
    this.ready.push(held);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0 && this.state === "running") {
      const held = this.ready.shift() as Held;
      if (this.expired(held) || this.revoked(held, true)) continue;
      this.running++;
      const id = held.request.id;
      // The run's own stop switch: aborted by a cold shutdown, or with Terminated by remote
      // `revoke(terminate=True)` through the function WorkerOps holds while it runs. The shutdown
      // listener above reaches it through `runControls`; no AbortController per task.
      const control = new RunControl();
      this.runControls.add(control);
      this.ops?.started(id, { abort: (reason) => control.abort(new Terminated(signumOf(reason))) });
      this.startedAt.set(id, performance.now());
      this.events.emit("task-started", { id, name: held.request.name });
      const run = this.runner
        .run(held.request, held.task, held.delivery, control)
        .catch((err: unknown) => {
          // Not reached (run() settles on every path); if it were, the message must not stay held.
          this.logger.error({ err }, `internal error running ${id}: ${errorMessage(err)}`);
          void held.delivery.ack().catch(() => undefined);
        })
        .finally(() => {
          this.runControls.delete(control);
          this.ops?.released(id);
          this.startedAt.delete(id);
          this.running--;
          this.inFlight.delete(run);
          this.pump();
        });
      this.inFlight.add(run);
    }
  }

  /** Task events for a finished run (WorkerOps counts it and sends task-succeeded/failed/...). */
  private onOutcome(request: WorkerRequest, outcome: RunnerOutcome): void {
    this.emitOutcome(request, outcome);
    if (!this.ops) return;
    if (outcome.kind === "terminated")
      this.ops.revokedRun(request, { expired: false, terminated: true, signum: outcome.signum });
    else this.ops.finished(request.id, outcome);
  }

  /** The typed event for a finished run (what WorkerOps turns into task-succeeded/failed/...). */
  private emitOutcome(request: WorkerRequest, outcome: RunnerOutcome): void {
    const task = { id: request.id, name: request.name };
    // A terminated run's task-revoked is a hook (task_revoked), sent before its ack by the runner.
    if (outcome.kind === "succeeded") {
      this.events.emit("task-succeeded", {
        ...task,
        runtime: outcome.runtime,
        resultRepr: outcome.resultRepr,
      });
    } else if (outcome.kind === "failed") {
      const t0 = this.startedAt.get(request.id);
      this.events.emit("task-failed", {
        ...task,
        runtime: t0 === undefined ? 0 : (performance.now() - t0) / 1000,
        exceptionRepr: outcome.exceptionRepr,
        traceback: outcome.traceback,
      });
    } else if (outcome.kind === "retried") {
      this.events.emit("task-retried", {
        ...task,
        exceptionRepr: outcome.exceptionRepr,
        traceback: outcome.traceback,
      });
    }
  }

  /** After a remote `rate_limit`: requests held by the old bucket go through the new rate. */
  private resetRateLimit(name: string): void {
    const bucket = this.buckets.get(name);
    this.buckets.delete(name);
    for (const held of bucket?.takeAll() ?? []) {
      this.rateGate({ ...held, task: this.overrides.apply(held.task) });
    }
  }
}

/** The signal number in WorkerOps' terminate reason ("... (SIGKILL)"); SIGTERM by default, as Celery. */
function signumOf(reason: unknown): number {
  const match = /\((SIG[A-Z0-9]+|[A-Z]+|\d+)\)/.exec(
    reason instanceof Error ? reason.message : String(reason),
  );
  return signum(match?.[1] ?? "SIGTERM");
}
