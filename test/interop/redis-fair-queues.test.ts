/**
 * Fair consumption across many Redis queues (issue 17 item 4), as kombu's `round_robin_cycle`
 * is: the queue that delivered goes to the back, also within one batched take. 24 queues, 40
 * tasks each, sent by Python Celery before the consumer starts; the TS consumer takes batches of
 * up to 64 (prefetch 64). At every quarter of the run each queue has been consumed within one
 * message of every other (round-robin over full queues gives exactly that); the batched takes
 * must not let a queue run ahead, whatever the batch boundaries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Delivery } from "../../src/transports/transport.js";
import { pythonJson } from "../support/celery.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

const QUEUES = 24;
const PER_QUEUE = 40;
let broker: string;
let stack: TsStack;
const queues = Array.from({ length: QUEUES }, (_, i) => uniqueQueue(`fair${i}`));

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  // Interleaved sends, so every queue is full when consuming starts.
  await pythonJson(
    `
from interop_app import app, emit
QS = ${JSON.stringify(queues)}
with app.producer_or_acquire() as producer:
    for i in range(${PER_QUEUE}):
        for q in QS:
            app.send_task("interop.add", (i, 0), queue=q, producer=producer)
emit(True)
`,
    { brokerUrl: broker, backendUrl: broker },
  );
  stack = createTsStack({ broker, backend: broker });
});

afterAll(async () => {
  await stack?.close();
});

describe("Redis: many queues consumed fairly (kombu round-robin)", () => {
  it(`${QUEUES} queues x ${PER_QUEUE}: at every quarter, every queue within one message of the others`, async () => {
    const order: string[] = [];
    const consumer = await stack.transport.consume({
      queues: queues.map((name) => ({ name, exchange: name, exchangeType: "direct", routingKey: name })),
      prefetch: 64,
      onMessage: (delivery: Delivery) => {
        order.push(delivery.deliveryInfo.queue ?? "");
        void delivery.ack();
      },
    });
    try {
      await waitUntil("every task consumed", async () => order.length >= QUEUES * PER_QUEUE, {
        timeoutMs: 60_000,
      });
    } finally {
      await consumer.cancel();
    }
    expect(order).toHaveLength(QUEUES * PER_QUEUE);
    for (const quarter of [1, 2, 3, 4]) {
      const upTo = (order.length * quarter) / 4;
      const counts = new Map<string, number>(queues.map((q) => [q, 0]));
      for (const q of order.slice(0, upTo)) counts.set(q, (counts.get(q) ?? 0) + 1);
      const values = [...counts.values()];
      expect({ quarter, spread: Math.max(...values) - Math.min(...values) }).toEqual({
        quarter,
        spread: upTo % QUEUES === 0 ? 0 : 1,
      });
    }
  });
});
