/**
 * `app.close()` on Redis is final: nothing the app was doing when it closed may open a
 * connection afterwards, and a `get({ timeoutMs })` ends on time whatever the server does.
 *
 * The bug these pin down stalled test/interop/doc-examples.test.ts in a full CI run: the result
 * consumer's race-cover MGET was still queued on the backend's command connection (then in its
 * handshake) when the README's first block called `app.close()`. The MGET failed with
 * "Connection is closed", `withRetry` took that for an outage, `ensureConnecting` reopened the
 * closed client and the read succeeded on a connection nobody owned: the script had printed its
 * result and closed, but its process never exited.
 *
 * A server of this file's own (the shared one's CLIENT LIST would show other files' clients,
 * and CLIENT PAUSE would stall them).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConnectionLostError, TimeoutError } from "../../src/errors.js";
import { waitUntil } from "../support/process.js";
import { redisBrokerOf } from "../support/redis-broker.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { uniqueQueue } from "../support/services.js";

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  admin?.disconnect();
  await server?.dispose();
});

/** Names of the connections Celeriac holds on the server (`CLIENT LIST`, `name=celeriac-*`). */
async function celeriacConnections(): Promise<string[]> {
  const list = (await admin.client("LIST")) as string;
  return [...list.matchAll(/ name=(celeriac-\S*)/g)].map((m) => m[1] as string);
}

/** Waits until no Celeriac connection is left; fails naming the ones that stay. */
async function expectNoConnectionLeft(): Promise<void> {
  let left: string[] = [];
  await waitUntil(
    "every celeriac connection closed",
    async () => {
      left = await celeriacConnections();
      return left.length === 0;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  ).catch(() => {
    throw new Error(`connections still open after app.close(): ${left.join(", ")}`);
  });
}

describe("app.close() on Redis", () => {
  it("a result read in flight when close() is called fails, and no connection is reopened for it", async () => {
    const app = new Celery({ broker: server.dbUrl(0), backend: server.dbUrl(1) });
    // The GET is queued on the backend connection, which is still connecting when close() runs.
    const read = app
      .asyncResult(randomUUID())
      .meta()
      .then(
        () => null,
        (err: unknown) => err,
      );
    await app.close();
    const err = await read;
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect((err as Error).message).toMatch(/celeriac-backend connection is closed \(close\(\) was called\)/);
    await expectNoConnectionLeft();
  });

  it("a publish accepted before close() is written before its connection closes, and nothing stays open", async () => {
    const queue = uniqueQueue("close");
    const app = new Celery({ broker: server.dbUrl(0) });
    const prepared = app.prepareTask("proj.tasks.add", [1, 2], {}, { queue });
    // Not awaited: the batch is still waiting for its tick when close() starts.
    const sent = app.transport.publish(prepared.message, prepared.declare);
    await app.close();
    await sent;
    const check = new Redis(server.dbUrl(0), { maxRetriesPerRequest: 1 });
    try {
      const [raw] = await check.lrange(queue, 0, -1);
      expect(JSON.parse(raw ?? "null")?.headers?.id).toBe(prepared.taskMessage.headers.id);
      expect(await check.llen(queue)).toBe(1);
    } finally {
      check.disconnect();
    }
    await expectNoConnectionLeft();
  });

  it("after close(), commands on its connections reject instead of reconnecting", async () => {
    const app = new Celery({ broker: server.dbUrl(0), backend: server.dbUrl(1) });
    const result = await app.sendTask("proj.tasks.add", [1, 2], {}, { queue: uniqueQueue("close") });
    const transport = redisBrokerOf(app);
    await app.close();
    const err = await transport.size("anything").then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect((err as Error).message).toMatch(/broker transport is closed \(close\(\) was called\)/);
    // The app refuses new work outright.
    await expect(result.get({ timeoutMs: 1000 })).rejects.toThrow(
      /result backend is closed \(app.close\(\) was called\)/,
    );
    await expectNoConnectionLeft();
  });

  it("get({ timeoutMs }) rejects with TimeoutError while the server answers nothing (CLIENT PAUSE ALL)", async () => {
    const app = new Celery({ broker: server.dbUrl(0), backend: server.dbUrl(1) });
    const pauser = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      // Connect first, so the stall is in SUBSCRIBE/MGET, not in the handshake.
      await app.asyncResult(randomUUID()).meta();
      await pauser.client("PAUSE", 3000, "ALL");
      const err = await app
        .asyncResult(randomUUID())
        .get({ timeoutMs: 500 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toMatch(/timed out waiting for the result of task/);
    } finally {
      await pauser.client("UNPAUSE");
      pauser.disconnect();
      await app.close();
    }
    await expectNoConnectionLeft();
  });
});
