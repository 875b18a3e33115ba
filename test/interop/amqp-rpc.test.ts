/**
 * AMQP transport + RPC result backend against real Celery 5.7 (issue 6, items 1 and 3):
 * - a TS-built task published over AMQP runs on a stock Python worker (amqp broker,
 *   rpc:// backend) and its reply is read through RpcBackend, many outstanding at once;
 * - a Python producer with rpc:// reads the result a TS RpcBackend.storeResult published
 *   to its reply queue, with the task's own reply_to / correlation_id (5.7 body, and the
 *   5.2-5.6 body read by a Celery 5.6 client).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResultMetaRecord } from "../../src/backends/backend.js";
import { resultCodec } from "../../src/backends/meta-codec.js";
import { createRpcBackend, type RpcBackend } from "../../src/backends/rpc.js";
import { type CompatProfile, compatProfile, LATEST_COMPAT } from "../../src/compat.js";
import { resolveSettings } from "../../src/config-checks.js";
import { buildTaskMessage } from "../../src/protocol/index.js";
import { serialize } from "../../src/serialization/index.js";
import { type AmqpTransport, createAmqpTransport } from "../../src/transports/amqp/index.js";
import type { Delivery, OutgoingMessage, QueueSpec } from "../../src/transports/transport.js";
import { type CeleryWorker, runPython, startCeleryWorker } from "../support/celery.js";
import { amqpUrl, uniqueName, uniqueQueue } from "../support/services.js";

let broker: string;
let transport: AmqpTransport;
let backend: RpcBackend;
let worker: CeleryWorker;
const queue = uniqueQueue("rpc");

/** How Celery declares a queue it was told to consume (`-Q q`): exchange q, direct, key q. */
function celeryQueue(name: string): QueueSpec {
  return { name, exchange: name, exchangeType: "direct", routingKey: name };
}

function taskMessage(
  name: string,
  args: unknown[],
  replyTo: string,
  target: string,
  compat: CompatProfile = LATEST_COMPAT,
) {
  const tm = buildTaskMessage(name, { args, kwargs: {}, origin: "gen1@ts-test", replyTo }, compat);
  const body = serialize(tm.body, "json", { compat });
  const message: OutgoingMessage = {
    body: body.body,
    contentType: body.contentType,
    contentEncoding: body.contentEncoding,
    headers: tm.headers as unknown as Record<string, unknown>,
    properties: tm.properties as unknown as Record<string, unknown>,
    exchange: "",
    routingKey: target,
  };
  return { id: tm.headers.id, message };
}

function rpcBackendFor(t: AmqpTransport, compat: CompatProfile = LATEST_COMPAT): RpcBackend {
  return createRpcBackend({
    transport: t,
    oid: uniqueName("oid"),
    codec: resultCodec(resolveSettings({ compat: compat.minor })),
    compat,
  });
}

beforeAll(async () => {
  broker = await amqpUrl();
  transport = createAmqpTransport(broker);
  backend = rpcBackendFor(transport);
  worker = await startCeleryWorker({ brokerUrl: broker, backendUrl: "rpc://", queues: [queue] });
});

afterAll(async () => {
  await backend?.close();
  await transport?.close();
  await worker?.stop();
});

describe("TS producer -> Python Celery 5.7 worker over AMQP, results over rpc://", () => {
  it("runs a TS-built task and reads the worker's reply through RpcBackend", async () => {
    const { id, message } = taskMessage("interop.add", [2, 3], backend.oid, queue);
    await backend.onTaskCall(id);
    await transport.publish(message, [celeryQueue(queue)]);
    const meta = await backend.waitForReady(id, { timeout: 30_000 });
    expect(meta.status).toBe("SUCCESS");
    expect(meta.result).toBe(5);
    expect(meta.task_id).toBe(id);
    // 5.7 replies carry the full meta (date_done and, with result_extended, the task name).
    expect(typeof meta.date_done).toBe("string");
    expect(meta.name).toBe("interop.add");
    expect((await backend.getMeta(id)).status).toBe("SUCCESS");
  });

  it("routes many outstanding replies by correlation_id on one consumer", async () => {
    const sent = Array.from({ length: 25 }, (_, i) => taskMessage("interop.mul", [i, 7], backend.oid, queue));
    await backend.onTaskCall(sent[0]?.id ?? "");
    await Promise.all(sent.map((s) => transport.publish(s.message, [celeryQueue(queue)])));
    const metas = await Promise.all(sent.map((s) => backend.waitForReady(s.id, { timeout: 60_000 })));
    expect(metas.map((m) => m.result)).toEqual(sent.map((_, i) => i * 7));
    expect(metas.map((m) => m.task_id)).toEqual(sent.map((s) => s.id));
  });

  it("reports a Python exception as FAILURE meta with Celery's exception fields", async () => {
    const { id, message } = taskMessage("interop.fail", ["boom"], backend.oid, queue);
    await backend.onTaskCall(id);
    await transport.publish(message, [celeryQueue(queue)]);
    const meta = await backend.waitForReady(id, { timeout: 30_000 });
    expect(meta.status).toBe("FAILURE");
    expect(meta.result).toMatchObject({ exc_type: expect.any(String), exc_message: expect.anything() });
    expect(meta.traceback).toContain("Traceback");
  });
});

/** A Python producer that sends a task nobody else consumes and waits for its rpc:// result. */
const PY_WAIT = `
import json, os
from interop_app import app, emit
r = app.send_task("interop.add", (1, 2), queue=os.environ["TS_QUEUE"])
emit(r.get(timeout=40))
`;

async function answerAsTsWorker(
  t: AmqpTransport,
  target: string,
  compat: CompatProfile,
  result: (delivery: Delivery) => ResultMetaRecord,
): Promise<{ replyTo: unknown; correlationId: unknown }> {
  const tsBackend = rpcBackendFor(t, compat);
  let answered: (v: { replyTo: unknown; correlationId: unknown }) => void = () => {};
  const done = new Promise<{ replyTo: unknown; correlationId: unknown }>((resolve) => {
    answered = resolve;
  });
  const consumer = await t.consume({
    queues: [celeryQueue(target)],
    prefetch: 1,
    onMessage: (delivery) => {
      const replyTo = delivery.properties.reply_to;
      const correlationId = delivery.properties.correlation_id;
      void tsBackend
        .storeResult(result(delivery), {
          replyTo: typeof replyTo === "string" ? replyTo : null,
          correlationId: typeof correlationId === "string" ? correlationId : null,
        })
        .then(() => delivery.ack())
        .then(() => answered({ replyTo, correlationId }));
    },
  });
  const seen = await done;
  await consumer.cancel();
  await tsBackend.close();
  return seen;
}

describe("Python producer (rpc://) reads results a TS RpcBackend published", () => {
  for (const minor of ["5.7", "5.6"] as const) {
    it(`Celery ${minor} client gets the TS result from its reply queue`, async () => {
      const target = uniqueQueue(`rpcpy${minor.replace(".", "")}`);
      const compat = compatProfile(minor);
      const py = runPython(PY_WAIT, {
        brokerUrl: broker,
        backendUrl: "rpc://",
        celeryVersion: minor,
        env: { TS_QUEUE: target },
        timeoutMs: 60_000,
      });
      const own = createAmqpTransport(broker);
      try {
        const seen = await answerAsTsWorker(own, target, compat, (d) => ({
          status: "SUCCESS",
          result: { from: "ts", id: d.headers.id },
          traceback: null,
          children: [],
          date_done: "2026-01-01T00:00:00.000000+00:00",
          task_id: String(d.headers.id),
        }));
        const run = await py;
        expect(run.code, run.stderr).toBe(0);
        const lines = run.stdout.trim().split("\n");
        const got = JSON.parse(lines[lines.length - 1] ?? "null") as { from: string; id: string };
        expect(got.from).toBe("ts");
        expect(got.id).toBe(seen.correlationId);
        expect(typeof seen.replyTo).toBe("string");
      } finally {
        await own.close();
      }
    });
  }
});
