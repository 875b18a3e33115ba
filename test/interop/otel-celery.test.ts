/**
 * One OpenTelemetry trace across Node and Python: Celeriac's spans (src/tracing.ts) against a
 * real Celery 5.7 worker and producer instrumented with opentelemetry-instrumentation-celery
 * 0.66b2 (python-interop/app/otel_proj.py, "observe" venv), both sides with their SDK's
 * in-memory exporter (Node: @opentelemetry/sdk-trace-base; Python: read back through the
 * worker's `otel.spans` task, or printed by the producer snippet).
 *
 * - Node -> Python: a span active in Node is the parent of Celeriac's `apply_async/<task>`
 *   PRODUCER span, whose context the Python worker's `run/<task>` CONSUMER span continues.
 * - Python -> Node -> Python: a Python producer's `apply_async` span is continued by the TS
 *   worker's `run/ts.traced` span, active in the handler, so what the handler sends is its child
 *   and the Python worker continues that: one trace id from end to end.
 * - A failing Python task reached from Node records ERROR on the Python side's span in the same
 *   trace; a TS handler that throws marks its own `run` span ERROR.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

interface PySpan {
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: string;
}

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();
let broker: string;
let backend: string;
let pyWorker: CeleryWorker | undefined;
let app: Celery;
let tsWorker: Worker | undefined;
const tsQueue = uniqueQueue("otel-ts");

beforeAll(async () => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  pyWorker = await startCeleryWorker({
    app: "otel_proj",
    celeryVersion: "observe",
    brokerUrl: broker,
    backendUrl: backend,
    queues: ["celery"],
    env: { OTEL_PROJ_WORKER: "1" },
  });
  app = new Celery({ broker, backend });
  app.task("ts.traced", async (_ctx, value: string) => {
    const active = trace.getActiveSpan()?.spanContext();
    const echoed = await (await app.sendTask("otel.echo", [value])).get({ timeoutMs: 20_000 });
    return { traceId: active?.traceId ?? null, spanId: active?.spanId ?? null, echoed };
  });
  app.task("ts.boom", () => {
    throw new Error("boom from TS");
  });
  tsWorker = app.worker({ queues: [tsQueue], hostname: "otel-ts@localhost" });
  await tsWorker.start();
}, 120_000);

afterAll(async () => {
  await tsWorker?.close({ timeoutMs: 5000 });
  await app?.close();
  await pyWorker?.stop();
  trace.disable();
  context.disable();
  propagation.disable();
});

async function pythonSpans(): Promise<PySpan[]> {
  return (await (await app.sendTask("otel.spans")).get({ timeoutMs: 20_000 })) as PySpan[];
}

function nodeSpans(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe("OpenTelemetry across Node and Python (opentelemetry-instrumentation-celery)", () => {
  it("Node -> Python: the Python worker's run span continues Celeriac's apply_async span", async () => {
    const tracer = trace.getTracer("test");
    let taskId = "";
    const rootIds = await tracer.startActiveSpan("node-root", async (root) => {
      const result = await app.sendTask("otel.echo", ["from node"]);
      taskId = result.id;
      expect(await result.get({ timeoutMs: 20_000 })).toBe("from node");
      root.end();
      return root.spanContext();
    });
    const producer = nodeSpans("apply_async/otel.echo").find(
      (s) => s.attributes["messaging.message.id"] === taskId,
    );
    expect(producer, "Celeriac's producer span").toBeDefined();
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    expect(producer?.spanContext().traceId).toBe(rootIds.traceId);
    expect(parentOf(producer as ReadableSpan)).toBe(rootIds.spanId);
    expect(producer?.attributes).toMatchObject({
      "celery.action": "apply_async",
      "celery.task_name": "otel.echo",
    });

    const run = (await pythonSpans()).find(
      (s) => s.name === "run/otel.echo" && s.attributes["messaging.message.id"] === taskId,
    );
    expect(run, "the Python worker's run span").toBeDefined();
    expect(run).toMatchObject({
      kind: "CONSUMER",
      traceId: rootIds.traceId,
      parentSpanId: producer?.spanContext().spanId,
      status: "UNSET",
    });
  });

  it("Python -> Node -> Python: one trace through a Python producer, the TS worker and the Python worker", async () => {
    const produced = await pythonJson<{
      result: { traceId: string; spanId: string; echoed: string };
      spans: PySpan[];
    }>(
      `
      import json
      import otel_proj
      from opentelemetry import trace
      otel_proj.instrument_process()
      tracer = trace.get_tracer("py-test")
      with tracer.start_as_current_span("py-root"):
          result = otel_proj.app.send_task("ts.traced", ("from python",), queue=${JSON.stringify(tsQueue)})
      value = result.get(timeout=30)
      print(json.dumps({"result": value, "spans": [otel_proj.span_json(s) for s in otel_proj.exporter.get_finished_spans()]}))
      `,
      { brokerUrl: broker, backendUrl: backend, celeryVersion: "observe" },
    );
    const pyRoot = produced.spans.find((s) => s.name === "py-root");
    const pyProducer = produced.spans.find((s) => s.name === "apply_async/ts.traced");
    expect(pyRoot, JSON.stringify(produced.spans)).toBeDefined();
    expect(pyProducer).toMatchObject({
      kind: "PRODUCER",
      traceId: pyRoot?.traceId,
      parentSpanId: pyRoot?.spanId,
    });

    // The TS worker's run span: child of the Python producer span, active in the handler.
    const tsRun = nodeSpans("run/ts.traced").find((s) => s.spanContext().traceId === pyRoot?.traceId);
    expect(tsRun, "the TS worker's run span in the Python trace").toBeDefined();
    expect(tsRun?.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(tsRun as ReadableSpan)).toBe(pyProducer?.spanId);
    expect(tsRun?.attributes).toMatchObject({ "celery.action": "run", "celery.task_name": "ts.traced" });
    expect(tsRun?.status.code).toBe(SpanStatusCode.UNSET);
    expect(produced.result).toEqual({
      traceId: pyRoot?.traceId,
      spanId: tsRun?.spanContext().spanId,
      echoed: "from python",
    });

    // What the handler sent: a producer span under the TS run span, continued by the Python worker.
    const tsProducer = nodeSpans("apply_async/otel.echo").find(
      (s) => parentOf(s) === tsRun?.spanContext().spanId,
    );
    expect(tsProducer?.spanContext().traceId).toBe(pyRoot?.traceId);
    const pyRun = (await pythonSpans()).find(
      (s) => s.name === "run/otel.echo" && s.parentSpanId === tsProducer?.spanContext().spanId,
    );
    expect(pyRun).toMatchObject({ kind: "CONSUMER", traceId: pyRoot?.traceId });
  });

  it("failures: a Python task's error is on its span in the Node trace; a TS handler's on its own", async () => {
    const failed = await app.sendTask("otel.fail", ["bad input"]);
    await expect(failed.get({ timeoutMs: 20_000 })).rejects.toThrow(/bad input/);
    const producer = nodeSpans("apply_async/otel.fail").find(
      (s) => s.attributes["messaging.message.id"] === failed.id,
    );
    const pyRun = (await pythonSpans()).find(
      (s) => s.name === "run/otel.fail" && s.attributes["messaging.message.id"] === failed.id,
    );
    expect(pyRun).toMatchObject({
      traceId: producer?.spanContext().traceId,
      parentSpanId: producer?.spanContext().spanId,
      status: "ERROR",
    });

    const boom = await app.sendTask("ts.boom", [], {}, { queue: tsQueue });
    await expect(boom.get({ timeoutMs: 20_000 })).rejects.toThrow(/boom from TS/);
    const tsRun = nodeSpans("run/ts.boom").find((s) => s.attributes["messaging.message.id"] === boom.id);
    const boomProducer = nodeSpans("apply_async/ts.boom").find(
      (s) => s.attributes["messaging.message.id"] === boom.id,
    );
    expect(tsRun?.status).toEqual({ code: SpanStatusCode.ERROR, message: "boom from TS" });
    expect(tsRun?.events.map((e) => e.name)).toContain("exception");
    expect(parentOf(tsRun as ReadableSpan)).toBe(boomProducer?.spanContext().spanId);
  });
});
