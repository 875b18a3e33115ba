import { createServer, type Server } from "node:http";
import type { Counter, Histogram, Registry } from "prom-client";
import { loadDependency } from "./optional-deps.js";
import type { Worker } from "./worker/worker.js";

/**
 * Prometheus metrics of TS workers, from `celeriac/metrics` (prom-client, an optional peer
 * dependency, loaded on first use; its types only reach code that imports this entry point).
 * `celeriacMetrics(registry)` registers them in the caller's registry and
 * `metrics.observe(worker)` counts a worker from its typed events (`worker.on(...)`), the same
 * points where Celery's worker sends its `task-*` events, whether or not `-E` is on; the broker
 * reconnect counter follows the worker's `broker-back` event.
 */

/** The calls that count a worker's work. Task names are label values; runtimes are seconds. */
export interface WorkerMetricsHooks {
  /** A task message was accepted (Celery's `task-received`). */
  onReceived(name: string): void;
  onSucceeded(name: string, runtimeSeconds: number): void;
  onFailed(name: string, runtimeSeconds?: number): void;
  onRetried(name: string): void;
  /** Revoked, expired or terminated: the task did not (finish) run. */
  onRevoked(name: string): void;
  /** The broker connection came back after a loss. */
  onBrokerReconnect(): void;
}

/** Values read at scrape time (gauges and counters kept elsewhere). */
export interface WorkerMetricsSource {
  /** Tasks running now. */
  active(): number;
  /** Tasks received and not yet running (reserved + ETA-scheduled). */
  prefetched(): number;
  /** Events the dispatcher dropped so far (a monotonically growing count). */
  eventsDropped(): number;
}

export interface WorkerMetricsOptions {
  /** Register here (default: a registry of its own, never prom-client's global one). */
  registry?: Registry;
  /** A `hostname` label on every metric; only applied to a registry of the metrics' own. */
  hostname?: string;
}

/** Seconds; Celery tasks range from sub-millisecond to minutes. */
const RUNTIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The celeriac_* metrics, registered once in one registry; any number of workers may be
 * observed into them (their counts add up, the gauges sum over them).
 */
export class WorkerMetrics implements WorkerMetricsHooks {
  readonly registry: Registry;
  private readonly received: Counter<"task">;
  private readonly succeeded: Counter<"task">;
  private readonly failed: Counter<"task">;
  private readonly retried: Counter<"task">;
  private readonly revoked: Counter<"task">;
  private readonly runtime: Histogram<"task">;
  private readonly reconnects: Counter;
  private readonly sources = new Set<WorkerMetricsSource>();

  constructor(options: WorkerMetricsOptions = {}) {
    const { Counter, Gauge, Histogram, Registry } = loadDependency<typeof import("prom-client")>(
      "prom-client",
      "Celeriac's Prometheus metrics",
    );
    this.registry = options.registry ?? new Registry();
    if (options.hostname && options.registry === undefined)
      this.registry.setDefaultLabels({ hostname: options.hostname });
    const registers = [this.registry];
    const sum = (read: (s: WorkerMetricsSource) => number) =>
      [...this.sources].reduce((total, source) => total + read(source), 0);
    const byTask = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ["task"] as const, registers });
    this.received = byTask("celeriac_tasks_received_total", "Task messages received, by task name.");
    this.succeeded = byTask("celeriac_tasks_succeeded_total", "Tasks that succeeded, by task name.");
    this.failed = byTask("celeriac_tasks_failed_total", "Tasks that failed, by task name.");
    this.retried = byTask("celeriac_tasks_retried_total", "Tasks that asked to be retried, by task name.");
    this.revoked = byTask(
      "celeriac_tasks_revoked_total",
      "Tasks revoked, expired or terminated, by task name.",
    );
    this.runtime = new Histogram({
      name: "celeriac_task_runtime_seconds",
      help: "Task run time in seconds (succeeded and failed runs), by task name.",
      labelNames: ["task"] as const,
      buckets: RUNTIME_BUCKETS,
      registers,
    });
    this.reconnects = new Counter({
      name: "celeriac_broker_reconnects_total",
      help: "Broker connections re-established after a loss.",
      registers,
    });
    new Gauge({
      name: "celeriac_tasks_active",
      help: "Tasks running now.",
      registers,
      collect() {
        this.set(sum((s) => s.active()));
      },
    });
    new Gauge({
      name: "celeriac_tasks_prefetched",
      help: "Tasks received and waiting to run (reserved and ETA-scheduled).",
      registers,
      collect() {
        this.set(sum((s) => s.prefetched()));
      },
    });
    let droppedSeen = 0;
    new Counter({
      name: "celeriac_events_dropped_total",
      help: "Worker events dropped (slow or unreachable broker, full buffer).",
      registers,
      collect() {
        const now = sum((s) => s.eventsDropped());
        if (now > droppedSeen) this.inc(now - droppedSeen);
        droppedSeen = Math.max(droppedSeen, now);
      },
    });
  }

  /** Where the gauges read their values at scrape time (summed over every attached source). */
  attach(source: WorkerMetricsSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /**
   * Counts `worker` from its events. The gauges come from `source` when given (the CLI passes
   * the worker's own request tracking), else from the events: started and not finished is
   * active, received and not started is prefetched. Returns a function that stops observing.
   */
  observe(worker: Worker, source?: WorkerMetricsSource): () => void {
    const received = new Set<string>();
    const running = new Set<string>();
    const done = (id: string) => {
      received.delete(id);
      running.delete(id);
    };
    const listeners = {
      "task-received": (t: { id: string; name: string }) => {
        received.add(t.id);
        this.onReceived(t.name);
      },
      "task-started": (t: { id: string }) => {
        received.delete(t.id);
        running.add(t.id);
      },
      "task-succeeded": (t: { id: string; name: string; runtime: number }) => {
        done(t.id);
        this.onSucceeded(t.name, t.runtime);
      },
      "task-failed": (t: { id: string; name: string; runtime: number }) => {
        done(t.id);
        this.onFailed(t.name, t.runtime);
      },
      "task-retried": (t: { id: string; name: string }) => {
        done(t.id);
        this.onRetried(t.name);
      },
      "task-revoked": (t: { id: string; name: string }) => {
        done(t.id);
        this.onRevoked(t.name);
      },
      "broker-back": () => this.onBrokerReconnect(),
    } as const;
    for (const [event, listener] of Object.entries(listeners)) {
      worker.on(event as "task-received", listener as (t: { id: string; name: string }) => void);
    }
    const detach = this.attach(
      source ?? { active: () => running.size, prefetched: () => received.size, eventsDropped: () => 0 },
    );
    return () => {
      detach();
      for (const [event, listener] of Object.entries(listeners)) {
        worker.off(event as "task-received", listener as (t: { id: string; name: string }) => void);
      }
    };
  }

  onReceived(name: string): void {
    this.received.inc({ task: name });
  }
  onSucceeded(name: string, runtimeSeconds: number): void {
    this.succeeded.inc({ task: name });
    this.runtime.observe({ task: name }, runtimeSeconds);
  }
  onFailed(name: string, runtimeSeconds?: number): void {
    this.failed.inc({ task: name });
    if (runtimeSeconds !== undefined) this.runtime.observe({ task: name }, runtimeSeconds);
  }
  onRetried(name: string): void {
    this.retried.inc({ task: name });
  }
  onRevoked(name: string): void {
    this.revoked.inc({ task: name });
  }
  onBrokerReconnect(): void {
    this.reconnects.inc();
  }

  /** The text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Celeriac's worker metrics (`celeriac_tasks_*_total`, `celeriac_task_runtime_seconds`,
 * `celeriac_tasks_active`, `celeriac_tasks_prefetched`, `celeriac_broker_reconnects_total`,
 * `celeriac_events_dropped_total`) registered in `registry` (yours, e.g. prom-client's global
 * `register`; default a new one); then `observe(worker)` for each worker. Needs prom-client.
 */
export function celeriacMetrics(registry?: Registry): WorkerMetrics {
  return new WorkerMetrics(registry === undefined ? {} : { registry });
}

/** Serves `GET /metrics` (and `/`) on `port` (0 = any free port) until closed. */
export async function serveMetrics(
  metrics: WorkerMetrics,
  port: number,
  host = "0.0.0.0",
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || (path !== "/metrics" && path !== "/")) {
      res.writeHead(404).end("not found\n");
      return;
    }
    metrics.metrics().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(`${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
