/**
 * The frames one event-loop turn writes leave in one socket write (issue 17, requirements 1 and
 * 2; src/transports/amqp/write-coalescing.ts), on a real RabbitMQ:
 * - 300 publishes issued in one turn take a handful of socket writes, not 300, and arrive intact
 *   and in order; so do 24 messages of 300 KiB (several body frames each, far past the socket's
 *   high-water mark: back-pressure still holds);
 * - a TS worker on the rpc:// backend with acksLate answers 200 tasks a Python producer sent:
 *   Python's `AsyncResult.get()` reads every result, each SUCCESS reply was confirmed by the
 *   broker before its task was acked, and the replies and acks went out in fewer socket writes
 *   than frames.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { createLogger } from "../../src/logging.js";
import { AmqpConsumer, AmqpTransport, createAmqpTransport } from "../../src/transports/amqp/index.js";
import type { Delivery, OutgoingMessage } from "../../src/transports/transport.js";
import type { Worker } from "../../src/worker/worker.js";
import { pythonJson } from "../support/celery.js";
import { amqpUrl, uniqueQueue } from "../support/services.js";

let broker: string;
let brokerPort: number;

/** Counts socket writes (`_write` / `_writev` calls) and the chunks they carry to the broker's port. */
function countBrokerWrites() {
  const counts = { writes: 0, chunks: 0 };
  const proto = net.Socket.prototype as unknown as {
    _write: (...args: unknown[]) => unknown;
    _writev: (chunks: unknown[], ...rest: unknown[]) => unknown;
  };
  const write = proto._write;
  const writev = proto._writev;
  proto._write = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === brokerPort) {
      counts.writes += 1;
      counts.chunks += 1;
    }
    return write.apply(this, args);
  };
  proto._writev = function (this: net.Socket, chunks: unknown[], ...rest: unknown[]) {
    if (this.remotePort === brokerPort) {
      counts.writes += 1;
      counts.chunks += chunks.length;
    }
    return writev.call(this, chunks, ...rest);
  };
  return {
    counts,
    restore() {
      proto._write = write;
      proto._writev = writev;
    },
  };
}

/**
 * Records, in order, "replied <task id>" when a reply publish (exchange "", correlation id = the
 * task id) is confirmed by the broker, and "acked <task id>" when a delivery is acked.
 */
function recordReplyAndAckOrder() {
  const events: string[] = [];
  const transportProto = AmqpTransport.prototype;
  const consumerProto = AmqpConsumer.prototype;
  const publish = transportProto.publish;
  const settle = consumerProto.settle;
  transportProto.publish = async function (this: AmqpTransport, ...args: Parameters<typeof publish>) {
    await publish.apply(this, args);
    const [m] = args;
    if (m.exchange === "") events.push(`replied ${String(m.properties.correlation_id)}`);
  };
  consumerProto.settle = function (this: AmqpConsumer, ...args: Parameters<typeof settle>) {
    const [, , msg, requeue] = args;
    if (requeue === null) events.push(`acked ${String(msg.properties.headers?.id)}`);
    return settle.apply(this, args);
  };
  return {
    events,
    restore() {
      transportProto.publish = publish;
      consumerProto.settle = settle;
    },
  };
}

function message(queue: string, body: Buffer, i: number): OutgoingMessage {
  return {
    body,
    contentType: "application/octet-stream",
    contentEncoding: "binary",
    headers: { i },
    properties: { delivery_mode: 2, priority: 0 },
    exchange: queue,
    routingKey: queue,
  };
}

/** Consumes `n` messages from `queue` and returns their bodies in delivery order. */
async function drain(transport: AmqpTransport, queue: string, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  let consumer: Awaited<ReturnType<AmqpTransport["consume"]>> | undefined;
  await new Promise<void>((resolve, reject) => {
    transport
      .consume({
        queues: [{ name: queue, exchange: queue, exchangeType: "direct", routingKey: queue }],
        prefetch: 64,
        onMessage: (d: Delivery) => {
          got.push(Buffer.from(d.body));
          void d.ack();
          if (got.length === n) resolve();
        },
      })
      .then((c) => {
        consumer = c;
      }, reject);
  });
  await consumer?.cancel();
  return got;
}

beforeAll(async () => {
  broker = await amqpUrl();
  brokerPort = Number(new URL(broker).port);
});

describe("AMQP frames of one turn go out in one socket write", () => {
  it("300 publishes of one turn take a handful of writes and arrive intact, in order", async () => {
    const queue = uniqueQueue("coalesce-small");
    const transport = createAmqpTransport(broker);
    try {
      const spec = { name: queue, exchange: queue, exchangeType: "direct" as const, routingKey: queue };
      await transport.declare([spec]);
      await transport.publish(message(queue, Buffer.from("warm-up"), -1)); // opens the confirm channel
      const bodies = Array.from({ length: 300 }, (_, i) => Buffer.from(`message ${i} ${"x".repeat(i % 50)}`));
      const spy = countBrokerWrites();
      try {
        await Promise.all(bodies.map((b, i) => transport.publish(message(queue, b, i))));
      } finally {
        spy.restore();
      }
      // 300 messages (one chunk each, as amqplib's mux hands them over) in a few writev calls:
      // the 16 KiB high-water mark splits the turn's ~25 KiB into a few writes.
      expect(spy.counts.chunks).toBeGreaterThanOrEqual(300);
      expect(spy.counts.writes).toBeLessThanOrEqual(30);
      const got = await drain(transport, queue, 301);
      expect(got.map((b) => b.toString())).toEqual(["warm-up", ...bodies.map((b) => b.toString())]);
    } finally {
      await transport.close();
    }
  }, 60_000);

  it("24 messages of 300 KiB each (several body frames, past the high-water mark) all arrive intact", async () => {
    const queue = uniqueQueue("coalesce-big");
    const transport = createAmqpTransport(broker);
    try {
      const spec = { name: queue, exchange: queue, exchangeType: "direct" as const, routingKey: queue };
      await transport.declare([spec]);
      const bodies = Array.from({ length: 24 }, (_, i) => Buffer.alloc(300 * 1024, i + 1));
      await Promise.all(bodies.map((b, i) => transport.publish(message(queue, b, i))));
      const got = await drain(transport, queue, bodies.length);
      expect(got.map((b) => [b.length, b[0], b[b.length - 1]])).toEqual(
        bodies.map((b, i) => [b.length, i + 1, i + 1]),
      );
      expect(got.every((b, i) => b.equals(bodies[i] as Buffer))).toBe(true);
    } finally {
      await transport.close();
    }
  }, 60_000);
});

describe("a TS worker on rpc:// with acksLate", () => {
  let app: Celery;
  let worker: Worker;
  const queue = uniqueQueue("coalesce-rpc");

  beforeAll(async () => {
    app = new Celery({ broker, backend: "rpc://", taskAcksLate: true });
    app.task("ts.double", (_ctx, x: number) => x * 2);
    worker = app.worker({
      queues: [queue],
      concurrency: 8,
      handleSignals: false,
      logger: createLogger({ level: "warn" }),
    });
    await worker.start();
  }, 60_000);

  afterAll(async () => {
    await worker?.close({ timeoutMs: 5000 });
    await app?.close();
  });

  it("answers 200 tasks sent by Python, replies and acks batched into fewer writes than frames", async () => {
    const spy = countBrokerWrites();
    const order = recordReplyAndAckOrder();
    let results: number[];
    try {
      results = await pythonJson<number[]>(
        `
from interop_app import app, emit
rs = [app.send_task("ts.double", (i,), queue=${JSON.stringify(queue)}) for i in range(200)]
emit([r.get(timeout=60) for r in rs])
`,
        { brokerUrl: broker, backendUrl: "rpc://" },
      );
    } finally {
      spy.restore();
      order.restore();
    }
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
    // acksLate: each task's SUCCESS reply was confirmed by the broker before its message was acked.
    expect(order.events.filter((e) => e.startsWith("acked ")).length).toBe(200);
    for (const event of order.events.filter((e) => e.startsWith("acked "))) {
      const id = event.slice("acked ".length);
      expect(order.events.indexOf(`replied ${id}`)).toBeGreaterThanOrEqual(0);
      expect(order.events.indexOf(`replied ${id}`)).toBeLessThan(order.events.indexOf(event));
    }
    // 200 replies plus the acks: without coalescing every frame is its own write.
    expect(spy.counts.chunks).toBeGreaterThanOrEqual(200);
    expect(spy.counts.writes).toBeLessThan(spy.counts.chunks);
  }, 120_000);
});
