/**
 * One transport conformance suite, run against every Transport
 * implementation (Redis and AMQP) on the real servers of the test run.
 * A transport file calls `transportConformance(...)` with a factory; every
 * behaviour the worker and the producer rely on is checked here once,
 * parameterized by the transport's own capability flags, never copied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  OutgoingMessage,
  QueueSpec,
  Transport,
} from "../../src/transports/transport.js";
import { uniqueQueue } from "../support/services.js";

export interface ConformanceTarget {
  name: string;
  /** A new transport on the shared server of this run. */
  make(): Promise<Transport>;
  /** Whether a message requeued by `reject(true)` comes back flagged `redelivered`. */
  requeueMarksRedelivered: boolean;
}

function queueSpec(prefix: string, args?: Record<string, unknown>): QueueSpec {
  const name = uniqueQueue(prefix);
  return {
    name,
    exchange: "",
    exchangeType: "direct",
    routingKey: name,
    ...(args ? { arguments: args } : {}),
  };
}

function message(queue: QueueSpec, body: string, over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    body: Buffer.from(body, "utf8"),
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: { task: "conf.t", id: body },
    properties: { correlation_id: body, reply_to: "r", delivery_mode: 2, priority: 0 },
    exchange: queue.exchange,
    routingKey: queue.routingKey,
    ...over,
  };
}

/** Collects deliveries; `next()` resolves with the next one (in arrival order). */
class Inbox {
  readonly all: Delivery[] = [];
  private waiting: Array<(d: Delivery) => void> = [];
  private read = 0;
  push = (d: Delivery): void => {
    this.all.push(d);
    const w = this.waiting.shift();
    if (w) {
      this.read += 1;
      w(d);
    }
  };
  next(): Promise<Delivery> {
    if (this.read < this.all.length) {
      const d = this.all[this.read] as Delivery;
      this.read += 1;
      return Promise.resolve(d);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

async function consume(
  transport: Transport,
  queue: QueueSpec,
  onMessage: ConsumeOptions["onMessage"],
  prefetch = 10,
): Promise<Consumer> {
  return transport.consume({ queues: [queue], prefetch, onMessage });
}

async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const text = (d: Delivery) => Buffer.from(d.body).toString("utf8");

export function transportConformance(target: ConformanceTarget): void {
  describe(`Transport conformance: ${target.name}`, () => {
    let transport: Transport;

    beforeAll(async () => {
      transport = await target.make();
    });
    afterAll(async () => {
      await transport?.close();
    });

    it("round-trips body bytes, content type/encoding, headers (null, nested, lists) and properties", async () => {
      const queue = queueSpec("conf.rt");
      await transport.declare([queue]);
      const body = JSON.stringify([[1, "é€😀"], { k: null }, {}]);
      const headers = {
        lang: "py",
        task: "conf.t",
        id: "id-1",
        shadow: null,
        timelimit: [null, 30],
        retries: 0,
        stamps: { a: "b", n: 1.5 },
        ignore_result: false,
        big: 2 ** 40,
      };
      await transport.publish(
        message(queue, body, {
          headers,
          properties: { correlation_id: "id-1", reply_to: "oid-9", delivery_mode: 2, priority: 0 },
        }),
      );
      const inbox = new Inbox();
      const consumer = await consume(transport, queue, inbox.push);
      const d = await inbox.next();
      expect(text(d)).toBe(body);
      expect([d.contentType, d.contentEncoding]).toEqual(["application/json", "utf-8"]);
      expect(d.headers).toMatchObject(headers);
      expect(d.properties).toMatchObject({ correlation_id: "id-1", reply_to: "oid-9" });
      expect(d.deliveryInfo).toMatchObject({
        routingKey: queue.routingKey,
        queue: queue.name,
        redelivered: false,
      });
      await d.ack();
      await consumer.cancel();
    });

    it("counts (size) and purges ready messages", async () => {
      const queue = queueSpec("conf.size");
      await transport.declare([queue]);
      await Promise.all(["a", "b", "c"].map((b) => transport.publish(message(queue, b))));
      await eventually(async () => (await transport.size(queue.name)) === 3);
      expect(await transport.purge(queue.name)).toBe(3);
      expect(await transport.size(queue.name)).toBe(0);
      expect(await transport.size(uniqueQueue("conf.none"))).toBe(0);
    });

    it("ack removes a message; reject(false) drops it; reject(true) delivers it again", async () => {
      const queue = queueSpec("conf.settle");
      await transport.declare([queue]);
      const inbox = new Inbox();
      const consumer = await consume(transport, queue, inbox.push, 1);
      await transport.publish(message(queue, "acked"));
      const first = await inbox.next();
      expect(text(first)).toBe("acked");
      await first.ack();

      await transport.publish(message(queue, "dropped"));
      const dropped = await inbox.next();
      expect(text(dropped)).toBe("dropped");
      await dropped.reject(false);

      await transport.publish(message(queue, "requeued"));
      const once = await inbox.next();
      expect(text(once)).toBe("requeued");
      await once.reject(true);
      const again = await inbox.next();
      expect(text(again)).toBe("requeued");
      if (target.requeueMarksRedelivered) expect(again.deliveryInfo.redelivered).toBe(true);
      await again.ack();

      // Neither the acked nor the dropped message comes back: the marker is next.
      await transport.publish(message(queue, "marker"));
      const marker = await inbox.next();
      expect(text(marker)).toBe("marker");
      await marker.ack();
      await consumer.cancel();
      expect(inbox.all.map(text)).toEqual(["acked", "dropped", "requeued", "requeued", "marker"]);
      expect(await transport.size(queue.name)).toBe(0);
    });

    it("delivers waiting messages in the transport's priority order", async () => {
      const queue = queueSpec("conf.prio", { "x-max-priority": 9 });
      await transport.declare([queue]);
      const priorities = [0, 9, 3, 6];
      for (const p of priorities) {
        await transport.publish(
          message(queue, `p${p}`, { properties: { correlation_id: `p${p}`, delivery_mode: 2, priority: p } }),
        );
      }
      await eventually(async () => (await transport.size(queue.name)) === priorities.length);
      const inbox = new Inbox();
      const consumer = await consume(transport, queue, inbox.push, 1);
      const order: number[] = [];
      for (let i = 0; i < priorities.length; i++) {
        const d = await inbox.next();
        order.push(d.deliveryInfo.priority);
        await d.ack();
      }
      await consumer.cancel();
      const expected = [...priorities].sort((a, b) =>
        transport.capabilities.priority === "higher-first" ? b - a : a - b,
      );
      expect(order).toEqual(expected);
    });

    it("never has more than `prefetch` deliveries unsettled", async () => {
      const queue = queueSpec("conf.qos");
      await transport.declare([queue]);
      const total = 12;
      await Promise.all(Array.from({ length: total }, (_, i) => transport.publish(message(queue, `m${i}`))));
      let outstanding = 0;
      let maxOutstanding = 0;
      let done = 0;
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const consumer = await consume(
        transport,
        queue,
        (d) => {
          outstanding += 1;
          maxOutstanding = Math.max(maxOutstanding, outstanding);
          setTimeout(() => {
            outstanding -= 1;
            void d.ack().then(() => {
              done += 1;
              if (done === total) finish();
            });
          }, 5);
        },
        2,
      );
      await finished;
      await consumer.cancel();
      expect(maxOutstanding).toBeLessThanOrEqual(2);
      expect(maxOutstanding).toBeGreaterThan(0);
    });

    it("publishes many messages concurrently and delivers every one", async () => {
      const queue = queueSpec("conf.many");
      await transport.declare([queue]);
      const n = 500;
      const bodies = Array.from({ length: n }, (_, i) => `b${i}`);
      await Promise.all(bodies.map((b) => transport.publish(message(queue, b))));
      const seen = new Set<string>();
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const consumer = await consume(
        transport,
        queue,
        (d) => {
          seen.add(text(d));
          void d.ack();
          if (seen.size === n) finish();
        },
        100,
      );
      await finished;
      await consumer.cancel();
      expect([...seen].sort()).toEqual([...bodies].sort());
    });

    it("refuses to publish after close", async () => {
      const other = await target.make();
      const queue = queueSpec("conf.close");
      await other.declare([queue]);
      await other.publish(message(queue, "before"));
      await other.close();
      await expect(other.publish(message(queue, "after"))).rejects.toThrow();
      expect(await transport.size(queue.name)).toBe(1);
    });
  });
}
