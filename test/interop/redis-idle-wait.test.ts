/**
 * The Redis consumer's idle wait with its take pipelined behind it (src/transports/redis/
 * idle-wait.ts): while the queues are empty the consumer's connection is blocked in a
 * non-destructive `BLMOVE` and the take script is already on the server, queued behind the wait
 * in the same connection, so a message that arrives is popped and recorded in `unacked` in the
 * server turn that ends the wait. What the server shows: the blocked connection holds the take in
 * its query buffer (`CLIENT LIST` `qbuf`). What a user sees: every message delivered once, from
 * the watched list and the lists the wait does not watch (another queue, a priority bucket), and
 * nothing lost or doubled when the server forgets the script while the take waits (`SCRIPT
 * FLUSH`: the queued take answers NOSCRIPT and takes nothing; a plain take loads the script).
 *
 * A private redis-server (SCRIPT FLUSH would touch every other file's scripts on the shared one).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/index.js";
import type { Consumer, Delivery, QueueSpec } from "../../src/transports/transport.js";
import { waitUntil } from "../support/process.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { uniqueQueue } from "../support/services.js";
import { createTsStack, type TsStack } from "../support/ts-worker/stack.js";

let server: RedisServer;
let broker: string;
let stack: TsStack;
let app: Celery;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  broker = server.dbUrl(1);
  stack = createTsStack({ broker, backend: server.dbUrl(2) });
  app = new Celery({ broker, backend: server.dbUrl(2) });
  redis = new Redis(broker, { maxRetriesPerRequest: 3 });
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await stack?.close();
  await server?.dispose();
});

const spec = (name: string): QueueSpec => ({
  name,
  exchange: name,
  exchangeType: "direct",
  routingKey: name,
});

interface Taken {
  queue: string;
  id: string;
  /** Whether kombu's `unacked` held the message when it was handed over (recorded atomically). */
  recorded: boolean;
}

async function consume(queues: string[]): Promise<{ consumer: Consumer; taken: Taken[] }> {
  const taken: Taken[] = [];
  const consumer = await stack.transport.consume({
    queues: queues.map(spec),
    prefetch: 8,
    onMessage: (delivery: Delivery) => {
      void (async () => {
        const recorded = (await redis.hexists("unacked", delivery.deliveryInfo.deliveryTag)) === 1;
        taken.push({ queue: delivery.deliveryInfo.queue ?? "", id: String(delivery.headers.id), recorded });
        await delivery.ack();
      })();
    },
  });
  return { consumer, taken };
}

/** The consumer's connection, blocked in BLMOVE with the take queued behind it (`qbuf` > 0). */
async function blockedWithTakeQueued(): Promise<boolean> {
  const list = String(await redis.call("CLIENT", "LIST"));
  return list
    .split("\n")
    .filter((line) => / name=celeriac-brpop /.test(line) && / db=1 /.test(line))
    .some((line) => / cmd=blmove /.test(line) && / flags=b /.test(line) && !/ qbuf=0 /.test(line));
}

describe("Redis consumer: the idle wait with its take pipelined behind it", () => {
  it("a message sent while the consumer waits is taken and recorded by the take queued behind the wait", async () => {
    const queue = uniqueQueue("idle");
    const { consumer, taken } = await consume([queue]);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        await waitUntil("the consumer blocked with its take queued", blockedWithTakeQueued, {
          timeoutMs: 10_000,
        });
        ids.push((await app.sendTask("interop.add", [i, 1], {}, { queue })).id);
        await waitUntil("the message taken", async () => taken.length === i + 1, { timeoutMs: 10_000 });
      }
      expect(taken.map((t) => t.id)).toEqual(ids);
      expect(taken.every((t) => t.recorded && t.queue === queue)).toBe(true);
      await waitUntil("every ack written", async () => (await redis.hlen("unacked")) === 0, {
        timeoutMs: 10_000,
      });
    } finally {
      await consumer.cancel();
    }
  });

  it("the take after a wait sees the lists the wait does not watch (another queue, a priority bucket)", async () => {
    const [first, second] = [uniqueQueue("door"), uniqueQueue("other")];
    const { consumer, taken } = await consume([first, second]);
    try {
      await waitUntil("the consumer blocked with its take queued", blockedWithTakeQueued, {
        timeoutMs: 10_000,
      });
      const sent = [
        (await app.sendTask("interop.add", [1, 1], {}, { queue: second, priority: 9 })).id,
        (await app.sendTask("interop.add", [2, 1], {}, { queue: first, priority: 6 })).id,
        (await app.sendTask("interop.add", [3, 1], {}, { queue: second })).id,
      ];
      await waitUntil("all three taken", async () => taken.length === 3, { timeoutMs: 10_000 });
      expect(taken.map((t) => t.id).sort()).toEqual([...sent].sort());
      expect(taken.every((t) => t.recorded)).toBe(true);
    } finally {
      await consumer.cancel();
    }
  });

  it("SCRIPT FLUSH while the take waits: it takes nothing, a plain take loads the script, nothing lost or doubled", async () => {
    const queue = uniqueQueue("flush");
    const { consumer, taken } = await consume([queue]);
    try {
      await waitUntil("the consumer blocked with its take queued", blockedWithTakeQueued, {
        timeoutMs: 10_000,
      });
      await redis.script("FLUSH");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await app.sendTask("interop.add", [i, 1], {}, { queue })).id);
      await waitUntil("all five taken", async () => taken.length >= 5, { timeoutMs: 10_000 });
      // One more wait and take after them: a doubled delivery would have shown by then.
      await waitUntil("the consumer waiting again", blockedWithTakeQueued, { timeoutMs: 10_000 });
      expect(taken.map((t) => t.id).sort()).toEqual([...ids].sort());
      expect(await redis.llen(queue)).toBe(0);
      await waitUntil("every ack written", async () => (await redis.hlen("unacked")) === 0, {
        timeoutMs: 10_000,
      });
    } finally {
      await consumer.cancel();
    }
  });
});
