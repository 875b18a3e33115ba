/**
 * Stamps over RabbitMQ (AMQP headers table, not the Redis JSON envelope): a chain stamped in
 * Python runs TS -> Python -> TS, each step reporting the stamps its request holds; the TS
 * worker forwards the stamped step to the Python worker and back, and a stamped TS-built
 * workflow reaches the Python worker with its stamps. Redis result backend.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, signature } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let pyWorker: CeleryWorker;
let app: Celery;
let tsWorker: Worker;
const pyQ = uniqueQueue("stamqp-py");
const tsQ = uniqueQueue("stamqp-ts");

interface StampView {
  stamped_headers: string[] | null;
  stamps: Record<string, unknown> | null;
}
const sorted = (v: StampView) => ({ ...v, stamped_headers: [...(v.stamped_headers ?? [])].sort() });

beforeAll(async () => {
  broker = await amqpUrl();
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [pyQ],
    config: { imports: ["stamping_tasks"] },
  });
  app = new Celery({ broker, backend });
  // python-interop/app/stamping_tasks.py view's twin.
  app.task("stamps.view", (ctx) => ({ stamped_headers: ctx.stampedHeaders, stamps: ctx.stamps }));
  tsWorker = app.worker({ queues: [tsQ], concurrency: 2, hostname: `stamps-amqp-${process.pid}@localhost` });
  await tsWorker.start();
}, 120_000);

afterAll(async () => {
  await tsWorker?.close({ timeout: 5000 });
  await app?.close();
  await pyWorker?.stop();
});

describe("stamps over AMQP", () => {
  it("a chain stamped in Python: every step, TS or Python, sees the same stamps", async () => {
    const views = await pythonJson<StampView[]>(
      `
from interop_app import app, emit
from celery import chain
from celery.canvas import StampingVisitor

class Monitoring(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"monitoring_id": "amqp-1", "tags": ["a", 2, None], "nested": {"k": [1.5]}}

sig = lambda queue: app.signature("stamps.view", queue=queue)
c = chain(sig(${JSON.stringify(tsQ)}), sig(${JSON.stringify(pyQ)}), sig(${JSON.stringify(tsQ)}))
c.stamp(visitor=Monitoring())
r = c.apply_async()
emit([r.parent.parent.get(timeout=30), r.parent.get(timeout=30), r.get(timeout=30)])
`,
      { brokerUrl: broker, backendUrl: backend },
    );
    const [ts1, py, ts2] = views.map(sorted);
    expect(py).toEqual({
      stamped_headers: ["monitoring_id", "nested", "tags"],
      stamps: { monitoring_id: "amqp-1", tags: ["a", 2, null], nested: { k: [1.5] } },
    });
    expect(ts1).toEqual(py);
    expect(ts2).toEqual(py);
  });

  it("a workflow stamped in TS reaches the Python worker with its stamps", async () => {
    const view = (queue: string) => signature("stamps.view", [], {}, { queue });
    const wf = chain(view(tsQ), view(pyQ)).stamp({
      onSignature: (sig) => ({ step: sig.options.queue, run: "r-7" }),
    });
    const res = await applyAsync(app, wf);
    const last = (await res.get({ timeoutMs: 30_000 })) as StampView;
    const first = (await res.parent?.get({ timeoutMs: 30_000 })) as StampView;
    expect(sorted(last)).toEqual({ stamped_headers: ["run", "step"], stamps: { step: pyQ, run: "r-7" } });
    expect(sorted(first)).toEqual({ stamped_headers: ["run", "step"], stamps: { step: tsQ, run: "r-7" } });
  });
});
