/**
 * Proves the interop harness itself: the shared servers answer, a TLS Redis verifies against the
 * test CA, and a real Celery 5.7 worker started by the harness runs a task a Python producer sent.
 */

import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { connect as amqpConnect } from "amqplib";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { type RedisServer, startRedis } from "../support/servers/redis.js";
import { allocateRedisDb, amqpUrl, redisUrl, uniqueQueue } from "../support/services.js";

describe("shared services", () => {
  it("Redis answers PING", async () => {
    const client = new Redis(await redisUrl(), { maxRetriesPerRequest: 1 });
    try {
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });

  it("RabbitMQ accepts an amqplib connection and a queue round trip", async () => {
    const connection = await amqpConnect(await amqpUrl());
    try {
      const channel = await connection.createChannel();
      const queue = uniqueQueue("smoke");
      await channel.assertQueue(queue, { exclusive: true });
      const body = `hello ${queue}`;
      channel.sendToQueue(queue, Buffer.from(body));
      let message = await channel.get(queue, { noAck: true });
      for (let i = 0; message === false && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 20));
        message = await channel.get(queue, { noAck: true });
      }
      expect(message === false ? null : message.content.toString()).toBe(body);
    } finally {
      await connection.close();
    }
  });

  it("allocateRedisDb hands out distinct, empty, non-zero databases", async () => {
    const first = await allocateRedisDb();
    const second = await allocateRedisDb();
    expect(first.db).not.toBe(0);
    expect(second.db).not.toBe(first.db);
    const client = new Redis(second.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

describe("TLS Redis", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ tls: true });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers PING over TLS, verified with the test CA", async () => {
    expect(server.url.startsWith("rediss://localhost:")).toBe(true);
    const client = new Redis({
      host: "localhost",
      port: server.port,
      tls: { ca: readFileSync(server.caPath ?? "") },
      maxRetriesPerRequest: 1,
    });
    try {
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });

  it("is really TLS with the test CA: a client trusting only the system CAs is refused", async () => {
    const failure = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = tlsConnect({ host: "localhost", port: server.port }, () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once("error", (err: NodeJS.ErrnoException) => resolve(err));
    });
    expect(failure?.code).toBe("SELF_SIGNED_CERT_IN_CHAIN");
  });
});

describe("Redis restart and unix socket", () => {
  it("restart() brings the server back on the same port", async () => {
    const server = await startRedis();
    try {
      const port = server.port;
      await server.restart();
      expect(server.port).toBe(port);
      const client = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
      try {
        expect(await client.ping()).toBe("PONG");
      } finally {
        client.disconnect();
      }
    } finally {
      await server.dispose();
    }
  });

  it("a unix-socket server answers PING", async () => {
    const server = await startRedis({ unixSocket: true });
    try {
      const client = new Redis({ path: server.socketPath, maxRetriesPerRequest: 1 });
      try {
        expect(await client.ping()).toBe("PONG");
      } finally {
        client.disconnect();
      }
    } finally {
      await server.dispose();
    }
  });
});

describe("real Celery 5.7 worker (Redis broker and backend)", () => {
  const queue = uniqueQueue("smoke");
  let worker: CeleryWorker;
  let brokerUrl: string;
  let backendUrl: string;

  beforeAll(async () => {
    brokerUrl = (await allocateRedisDb()).url;
    backendUrl = (await allocateRedisDb()).url;
    worker = await startCeleryWorker({ brokerUrl, backendUrl, queues: [queue] });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("runs interop.add sent by a Python producer, result read back by Python", async () => {
    const x = 1 + Math.floor(Math.random() * 1000);
    const y = 1 + Math.floor(Math.random() * 1000);
    const result = await pythonJson<{ value: number; state: string; worker: string }>(
      `
      from interop_app import app, emit
      r = app.send_task("interop.add", (${x}, ${y}), queue=${JSON.stringify(queue)})
      value = r.get(timeout=20)
      emit({"value": value, "state": r.state, "worker": r.worker})
      `,
      { brokerUrl, backendUrl },
    );
    expect(result.state).toBe("SUCCESS");
    expect(result.value).toBe(x + y);
    // result_extended stores the worker's node name in the meta.
    expect(result.worker).toBe(worker.hostname);
    expect(worker.logs()).toContain("interop.add");
  });
});

describe("real Celery 5.7 worker (RabbitMQ broker, Redis backend)", () => {
  const queue = uniqueQueue("smoke-amqp");
  let worker: CeleryWorker;
  let brokerUrl: string;
  let backendUrl: string;

  beforeAll(async () => {
    brokerUrl = await amqpUrl();
    backendUrl = (await allocateRedisDb()).url;
    worker = await startCeleryWorker({ brokerUrl, backendUrl, queues: [queue] });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("runs interop.echo over AMQP and returns its args and kwargs", async () => {
    const token = uniqueQueue("token");
    const result = await pythonJson<[unknown[], Record<string, unknown>]>(
      `
      from interop_app import app, emit
      r = app.send_task("interop.echo", (1, ${JSON.stringify(token)}), {"k": [True, None]}, queue=${JSON.stringify(queue)})
      emit(r.get(timeout=20))
      `,
      { brokerUrl, backendUrl },
    );
    expect(result).toEqual([[1, token], { k: [true, null] }]);
  });
});
