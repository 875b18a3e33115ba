/**
 * The worker-operations suite, one run per transport (worker-ops-redis.test.ts,
 * worker-ops-amqp.test.ts): a TS worker (this process) and a stock Celery 5.7 worker (threads,
 * `-E`) side by side on one broker, Redis result backend, both started once per file.
 * - ts-worker.ts: Python drives the TS worker: an `EventReceiver` + `State`, the `celery
 *   inspect|control` CLI (ping, registered, stats, active, query_task, rate_limit, revoke,
 *   shutdown) and `app.control.revoke` (terminate, before a countdown).
 * - python-worker.ts: TS `app.control` / `app.events` drive the Python worker (ping, active,
 *   revoke before a countdown, an unknown command, events `State`), and mingle hands its revoked ids to a TS worker.
 * Every case runs on both brokers; what differs (the broker URL, what `stats` says of the broker)
 * comes from transports.ts.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { Celery } from "../../../src/app.js";
import type { Worker } from "../../../src/worker/worker.js";
import { type CeleryWorker, runCeleryCli } from "../../support/celery.js";
import { OpsTasks } from "../../support/ops-tasks.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { uniqueQueue } from "../../support/services.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../../support/worker-pair.js";
import { definePythonWorkerOps } from "./python-worker.js";
import { OPS_PROFILES, type OpsProfile } from "./transports.js";
import { defineTsWorkerOps } from "./ts-worker.js";

/** What the cases share: set in the suite's `beforeAll`, read inside the tests. */
export class OpsFixture {
  broker = "";
  backend = "";
  /** The TS worker's app; also the TS client of the Python-worker cases. */
  app!: Celery;
  pyWorker!: CeleryWorker;
  /** The TS tasks and what they record (`ran`, `abortReasons`). */
  readonly ops = new OpsTasks();
  /** The TS worker's queue and node name. */
  readonly queue: string;
  readonly hostname: string;
  /** The Python worker's queue. */
  readonly pyQueue: string;

  constructor(readonly profile: OpsProfile) {
    this.queue = uniqueQueue(`ops-${profile.transport}`);
    this.hostname = this.nodeName("ts");
    this.pyQueue = uniqueQueue(`ops-${profile.transport}-py`);
  }

  /** A node name of this file's own: `ops-<transport>-<role>-<pid>@localhost`. */
  nodeName(role: string): string {
    return `ops-${this.profile.transport}-${role}-${process.pid}@localhost`;
  }

  /** The real `celery -b <broker> ...` command line. */
  cli(args: string[]): Promise<{ code: number | null; out: string }> {
    return runCeleryCli(this.broker, args);
  }

  /** A `-j` CLI call's JSON output; fails the test on a non-zero exit. */
  async cliJson(args: string[]): Promise<unknown> {
    const r = await this.cli(args);
    expect(r.code, r.out).toBe(0);
    return JSON.parse(r.out.trim());
  }

  /** Another TS worker (closed with the suite) on `queue`. */
  startExtraWorker(name: string, options: { withoutMingle: boolean; queue: string }): Promise<Worker> {
    return this.ops.startExtraWorker({ broker: this.broker, backend: this.backend }, name, options);
  }
}

export function defineWorkerOpsSuite(transport: BrokerTransport): OpsFixture {
  const fx = new OpsFixture(OPS_PROFILES[transport]);
  let pair: WorkerPair | undefined;

  beforeAll(async () => {
    pair = await startWorkerPair({
      broker: await fx.profile.brokerUrl(),
      pyQ: fx.pyQueue,
      tsQ: fx.queue,
      python: { pool: "threads", concurrency: 2, extraArgs: ["-E"] },
      ts: async ({ broker, backend }) => {
        const app = new Celery({ broker, backend });
        fx.ops.register(app);
        const worker = app.worker({
          queues: [fx.queue],
          hostname: fx.hostname,
          concurrency: 4,
          taskEvents: true,
        });
        fx.app = app;
        return tsWorkerSide(worker, app, { drainMs: 2000, closeFirst: () => fx.ops.closeExtra() });
      },
    });
    fx.broker = pair.broker;
    fx.backend = pair.backend;
    fx.pyWorker = pair.py;
  }, 120_000);

  afterAll(async () => {
    await pair?.close();
  });

  defineTsWorkerOps(fx);
  // Last: its final case stops the Python worker.
  definePythonWorkerOps(fx);
  return fx;
}
