/**
 * amqps:// with Celery's broker_use_ssl names, and RabbitMQ consumer-cancel
 * notifications (queue deleted under a live consumer) on the run's shared
 * RabbitMQ (issue 6, item 1).
 */
import { describe, expect, it } from "vitest";
import { ConnectionLostError } from "../../src/errors.js";
import { createAmqpTransport } from "../../src/transports/amqp/index.js";
import type { Delivery, OutgoingMessage, QueueSpec } from "../../src/transports/transport.js";
import { amqpsService, amqpUrl, uniqueQueue } from "../support/services.js";

function spec(prefix: string): QueueSpec {
  const name = uniqueQueue(prefix);
  return { name, exchange: name, exchangeType: "direct", routingKey: name };
}

function message(queue: QueueSpec, body: string): OutgoingMessage {
  return {
    body: Buffer.from(body),
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: {},
    properties: { correlation_id: body, delivery_mode: 2, priority: 0 },
    exchange: queue.exchange,
    routingKey: queue.routingKey,
  };
}

describe("amqps://", () => {
  it("publishes over TLS verified against broker_use_ssl ca_certs", async () => {
    const { url, caPath } = await amqpsService();
    const transport = createAmqpTransport(url, { brokerUseSsl: { ca_certs: caPath, cert_reqs: 2 } });
    try {
      const queue = spec("tls");
      await transport.declare([queue]);
      await transport.publish(message(queue, "over-tls"));
      expect(await transport.size(queue.name)).toBe(1);
    } finally {
      await transport.close();
    }
  });

  it("refuses a certificate it cannot verify, as a ConnectionLostError", async () => {
    const { url } = await amqpsService();
    const transport = createAmqpTransport(url, { brokerConnectionMaxRetries: 0 });
    try {
      await expect(transport.declare([spec("tls.bad")])).rejects.toBeInstanceOf(ConnectionLostError);
    } finally {
      await transport.close();
    }
  });
});

describe("consumer cancel notification", () => {
  it("re-declares the deleted queue and consumes again", async () => {
    const transport = createAmqpTransport(await amqpUrl());
    const errors: Error[] = [];
    try {
      const queue = spec("cancel");
      const inbox: Delivery[] = [];
      let wake: () => void = () => {};
      const consumer = await transport.consume({
        queues: [queue],
        prefetch: 5,
        onMessage: (d) => {
          inbox.push(d);
          void d.ack();
          wake();
        },
        onError: (err) => errors.push(err),
      });
      const next = () =>
        new Promise<void>((resolve) => {
          wake = resolve;
        });
      let arrived = next();
      await transport.publish(message(queue, "before"));
      await arrived;
      await transport.deleteQueue(queue.name);
      // Publish until the re-declared queue takes one (before it exists again RabbitMQ drops them).
      arrived = next();
      let n = 0;
      let got = false;
      void arrived.then(() => {
        got = true;
      });
      while (!got) {
        await transport.publish(message(queue, `after-${n++}`));
        await new Promise((r) => setTimeout(r, 50));
      }
      await consumer.cancel();
      expect(inbox.map((d) => Buffer.from(d.body).toString())[0]).toBe("before");
      expect(inbox.some((d) => Buffer.from(d.body).toString().startsWith("after-"))).toBe(true);
      expect(errors.some((e) => /cancelled the consumer/.test(e.message))).toBe(true);
    } finally {
      await transport.close();
    }
  });
});
