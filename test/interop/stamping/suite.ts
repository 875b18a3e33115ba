/**
 * The stamping suite, one run per transport (stamping-redis.test.ts, stamping-amqp.test.ts): a
 * stock Celery 5.7 worker (prefork, `stamping_tasks` loaded) on `pyQ` and a TS worker (this
 * process) on `tsQ`, one broker, Redis result backend, both started once per file.
 * - workflows.ts: stamps and bytes in workflows a Python producer builds and a TS worker forwards,
 *   and a workflow stamped in TS; forwarded messages go to capture queues nobody consumes, a
 *   Python snippet reads them back with kombu and compares them with what the Python worker
 *   forwarded for the same workflow in the same test.
 * - revoke-by-stamp.ts: `revoke_by_stamped_headers` sent to both workers, replies, stored metas
 *   and log lines compared.
 * What differs between the brokers (the broker URL, how a capture queue is read) comes from
 * transports.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll } from "vitest";
import { Celery } from "../../../src/app.js";
import { createLogger } from "../../../src/logging.js";
import type { CeleryWorker } from "../../support/celery.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { uniqueQueue } from "../../support/services.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../../support/worker-pair.js";
import { defineRevokeByStamp } from "./revoke-by-stamp.js";
import { STAMPING_PROFILES, type StampingProfile } from "./transports.js";
import { defineStampedWorkflows } from "./workflows.js";

/** What the cases share: set in the suite's `beforeAll`, read inside the tests. */
export class StampingFixture {
  broker = "";
  backend = "";
  /** The TS worker's app; also the TS producer and control client. */
  app!: Celery;
  pyWorker!: CeleryWorker;
  readonly pyQ: string;
  readonly tsQ: string;
  readonly tsHost: string;
  /** The TS worker's log lines. */
  readonly tsLog: string[] = [];

  constructor(readonly profile: StampingProfile) {
    this.pyQ = uniqueQueue(`stamp-${profile.transport}-py`);
    this.tsQ = uniqueQueue(`stamp-${profile.transport}-ts`);
    this.tsHost = `stamps-${profile.transport}-${process.pid}@localhost`;
  }

  /** The Python snippets' environment: this suite's broker and backend, the Python worker's queue as default. */
  env() {
    return { brokerUrl: this.broker, backendUrl: this.backend, defaultQueue: this.pyQ };
  }

  /**
   * Python helpers prefixed to a snippet: `captured(queue, n)` waits for `n` messages on a queue
   * nobody consumes and returns them as kombu decodes them (raw headers, body reprs, embed without
   * ids), `Monitoring` (a StampingVisitor), `sig(name, args, queue, **options)`.
   */
  prelude(): string {
    return `${PY_IMPORTS}${this.profile.capturePy}${PY_HELPERS}`;
  }
}

const PY_IMPORTS = `
import base64, json, time
from kombu.serialization import loads
from interop_app import app, emit
from celery import chain, signature
from celery.canvas import StampingVisitor
`;

const PY_HELPERS = `
def captured(queue, n=1, timeout=30):
    out = []
    for headers, body, content_type, content_encoding in _capture(queue, n, timeout):
        args, kwargs, embed = loads(body, content_type, content_encoding)
        out.append({"headers": headers, "args": repr(args), "kwargs": repr(kwargs),
                    "embed": repr(_without_ids(embed))})
    return out

def _without_ids(value):
    # Frozen ids and the capture queue differ per workflow; everything else must be the same.
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("task_id", "root_id", "parent_id", "reply_to", "queue")}
    if isinstance(value, (list, tuple)):
        return [_without_ids(v) for v in value]
    return value

class Monitoring(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "mon-1", "tags": ["a", "b"]}

def sig(name, args, queue, **options):
    return app.signature(name, args=args, queue=queue, **options)
`;

export function defineStampingSuite(transport: BrokerTransport): StampingFixture {
  const fx = new StampingFixture(STAMPING_PROFILES[transport]);
  let pair: WorkerPair | undefined;

  beforeAll(async () => {
    pair = await startWorkerPair({
      broker: await fx.profile.brokerUrl(),
      pyQ: fx.pyQ,
      tsQ: fx.tsQ,
      // Prefork: revoke_by_stamped_headers' terminate needs a pool that can terminate a task.
      python: { pool: "prefork", concurrency: 2, config: { imports: ["stamping_tasks"] } },
      ts: async ({ broker, backend }) => {
        const logger = createLogger({
          level: "info",
          destination: { write: (line: string) => fx.tsLog.push(line) },
        });
        const app = new Celery({ broker, backend, resultExtended: true, logger });
        app.task("ts.add", (_ctx, a: number, b: number) => a + b);
        // interop.echo's twin: [args, kwargs] as received.
        app.task("ts.echo", (ctx, ...args: unknown[]) => [args, ctx.kwargs]);
        // Twins of python-interop/app/stamping_tasks.py.
        app.task("stamps.view", (ctx) => ({ stamped_headers: ctx.stampedHeaders, stamps: ctx.stamps }));
        app.task("stamps.retry_to", (ctx, queue: string) => {
          if (ctx.retries === 0) ctx.retry({ queue, countdown: 0 });
          return { stamped_headers: ctx.stampedHeaders, stamps: ctx.stamps };
        });
        // ctx.signal ends it when terminated.
        app.task("stamps.sleep", async (ctx, seconds: number) => {
          await sleep(seconds * 1000, undefined, { signal: ctx.signal }).catch(() => undefined);
          return seconds;
        });
        const worker = app.worker({ queues: [fx.tsQ], concurrency: 4, hostname: fx.tsHost });
        fx.app = app;
        return tsWorkerSide(worker, app);
      },
    });
    fx.broker = pair.broker;
    fx.backend = pair.backend;
    fx.pyWorker = pair.py;
  }, 120_000);

  afterAll(async () => {
    await pair?.close();
  });

  defineStampedWorkflows(fx);
  // Last: it leaves revoked stamps in both workers.
  defineRevokeByStamp(fx);
  return fx;
}
