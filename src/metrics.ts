import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The calls a worker makes so its metrics can be counted. Task names are
 * label values; runtimes are seconds (Celery's `runtime`).
 */
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

/** Seconds; Celery tasks range from sub-millisecond to minutes. */
const RUNTIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics of one worker, in its own registry (never prom-client's
 * global one, so two workers in a process do not collide).
 */
export class WorkerMetrics implements WorkerMetricsHooks {
  readonly registry = new Registry();
  private readonly received: Counter<"task">;
  private readonly succeeded: Counter<"task">;
  private readonly failed: Counter<"task">;
  private readonly retried: Counter<"task">;
  private readonly revoked: Counter<"task">;
  private readonly runtime: Histogram<"task">;
  private readonly reconnects: Counter;
  private source: WorkerMetricsSource | null = null;

  constructor(labels: { hostname?: string } = {}) {
    if (labels.hostname) this.registry.setDefaultLabels({ hostname: labels.hostname });
    const registers = [this.registry];
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
    const self = this;
    new Gauge({
      name: "celeriac_tasks_active",
      help: "Tasks running now.",
      registers,
      collect() {
        this.set(self.source?.active() ?? 0);
      },
    });
    new Gauge({
      name: "celeriac_tasks_prefetched",
      help: "Tasks received and waiting to run (reserved and ETA-scheduled).",
      registers,
      collect() {
        this.set(self.source?.prefetched() ?? 0);
      },
    });
    let droppedSeen = 0;
    new Counter({
      name: "celeriac_events_dropped_total",
      help: "Worker events dropped (slow or unreachable broker, full buffer).",
      registers,
      collect() {
        const now = self.source?.eventsDropped() ?? 0;
        if (now > droppedSeen) this.inc(now - droppedSeen);
        droppedSeen = Math.max(droppedSeen, now);
      },
    });
  }

  /** Where the gauges read their values at scrape time. */
  attach(source: WorkerMetricsSource): void {
    this.source = source;
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
