/**
 * A worker declares the queue of every task it sends, as a producer does: Celery's
 * `send_task_message` passes `declare=[queue]` to kombu's `Producer.publish` (celery/app/amqp.py,
 * 5.7.0), so a chain's next step or a link routed to a queue nobody has declared yet is kept.
 * Without the declaration RabbitMQ drops a message sent through the default exchange to a queue
 * that does not exist. A stock Celery 5.7 worker and a TS worker each run a first step whose next
 * step (or link, or `retry(queue=...)`) goes to a fresh queue; afterwards each fresh queue exists
 * and holds the message.
 */
import { connect as amqpConnect, type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { chain, s } from "../../src/canvas/index.js";
import { applyAsync } from "../../src/client/canvas-apply.js";
import type { Worker } from "../../src/worker/worker.js";
import { waitUntil } from "../support/process.js";
import { amqpUrl, uniqueQueue } from "../support/services.js";
import { startWorkerPair, tsWorkerSide, type WorkerPair } from "../support/worker-pair.js";

let pair: WorkerPair;
let producer: Celery;
let tsApp: Celery;
let tsWorker: Worker;
let connection: ChannelModel;
const pyQ = uniqueQueue("dpy");
const tsQ = uniqueQueue("dts");
const T = { timeoutMs: 30_000 };

beforeAll(async () => {
  const broker = await amqpUrl();
  pair = await startWorkerPair({
    broker,
    pyQ,
    tsQ,
    ts: async ({ broker, backend }) => {
      tsApp = new Celery({ broker, backend, taskDefaultQueue: tsQ });
      tsApp.task("ts.double", (_ctx, n: number) => n * 2);
      // What interop.retry_to does: retry once into the queue given.
      tsApp.task("ts.retry_to", (ctx, queue: string) => {
        if (ctx.retries === 0) ctx.retry({ queue, countdown: 0, maxRetries: 1 });
        return { retries: ctx.retries };
      });
      tsWorker = tsApp.worker({
        queues: [tsQ],
        concurrency: 2,
        hostname: "declare-ts@localhost",
        handleSignals: false,
      });
      return tsWorkerSide(tsWorker, tsApp);
    },
  });
  producer = new Celery({ broker: pair.broker, backend: pair.backend, taskDefaultQueue: pyQ });
  connection = await amqpConnect(broker);
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await producer?.close();
  await pair?.close();
});

/** The queue's message count once it exists (checkQueue fails with 404 on a queue never declared). */
async function waitForMessages(queue: string): Promise<number> {
  let count = -1;
  await waitUntil(
    `queue ${queue} declared and holding the sent step`,
    async () => {
      const channel: Channel = await connection.createChannel();
      channel.on("error", () => {});
      try {
        count = (await channel.checkQueue(queue)).messageCount;
        await channel.close();
      } catch {
        return false;
      }
      return count > 0;
    },
    { timeoutMs: 20_000 },
  );
  return count;
}

describe("the worker declares the queue of a step it sends (send_task_message declare=[queue])", () => {
  it.each([
    ["Python", () => s("interop.add", 2, 3).set({ queue: pyQ })],
    ["TS", () => s("ts.double", 4).set({ queue: tsQ })],
  ])("a chain's next step to a fresh queue, sent by the %s worker", async (_who, first) => {
    const fresh = uniqueQueue("dfresh");
    const res = await applyAsync(producer, chain(first(), s("interop.add", 10).set({ queue: fresh })));
    expect(await waitForMessages(fresh)).toBe(1);
    // The first step's result is stored; the second waits in the fresh queue for a consumer.
    expect(["PENDING", "SENT"]).toContain(await res.state());
  });

  it.each([
    ["Python", () => s("interop.add", 1, 1).set({ queue: pyQ })],
    ["TS", () => s("ts.double", 1).set({ queue: tsQ })],
  ])("a link to a fresh queue, sent by the %s worker", async (_who, first) => {
    const fresh = uniqueQueue("dlink");
    const head = first();
    head.link(s("interop.add", 5).set({ queue: fresh }));
    const res = await applyAsync(producer, head);
    expect(await res.get(T)).toBe(2);
    expect(await waitForMessages(fresh)).toBe(1);
  });

  it.each([
    ["Python", "interop.retry_to", pyQ],
    ["TS", "ts.retry_to", tsQ],
  ])("retry(queue=...) to a fresh queue, by the %s worker", async (_who, task, queue) => {
    const fresh = uniqueQueue("dretry");
    await producer.sendTask(task, [fresh], {}, { queue });
    expect(await waitForMessages(fresh)).toBe(1);
  });
});
