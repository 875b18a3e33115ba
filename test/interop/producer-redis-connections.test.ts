/**
 * Connections and deployment shapes for the TS producer against Celery 5.7: time limits on a
 * prefork worker, globalKeyprefix shared with a Python worker, rediss://, a broker that is down,
 * and a result wait that survives a Redis restart. Issue 3, items 5 and 6.
 */

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConnectionLostError, RemoteTaskError } from "../../src/errors.js";
import { pythonJson, startCeleryWorker } from "../support/celery.js";
import { freePort } from "../support/ports.js";
import { waitUntil } from "../support/process.js";
import { startRedis } from "../support/servers/redis.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

describe("time limits (prefork worker)", () => {
  let app: Celery;
  let stop: () => Promise<unknown>;
  beforeAll(async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("limits");
    const worker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [queue],
      pool: "prefork",
      concurrency: 1,
    });
    stop = () => worker.stop();
    app = new Celery({ broker, backend, taskDefaultQueue: queue });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  it("softTimeLimit raises SoftTimeLimitExceeded inside the task", async () => {
    const result = await app.sendTask("interop.time_limited", [10], {}, { softTimeLimit: 1 });
    expect(await result.get({ timeout: 20_000 })).toBe("soft-time-limit");
  });

  it("timeLimit kills the task with TimeLimitExceeded", async () => {
    const result = await app.sendTask("interop.sleep", [10], {}, { timeLimit: 1 });
    const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect((err as RemoteTaskError).excType).toBe("TimeLimitExceeded");
  });
});

describe("globalKeyprefix", () => {
  it("works with a Python worker configured the same way", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("pfx");
    const worker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [queue],
      config: {
        broker_transport_options: { global_keyprefix: "pfx:" },
        result_backend_transport_options: { global_keyprefix: "rpfx" },
      },
    });
    const app = new Celery({
      broker,
      backend,
      taskDefaultQueue: queue,
      brokerTransportOptions: { globalKeyprefix: "pfx:" },
      resultBackendTransportOptions: { globalKeyprefix: "rpfx" },
    });
    const brokerClient = new Redis(broker);
    const backendClient = new Redis(backend);
    try {
      const result = await app.sendTask("interop.add", [20, 22]);
      expect(await result.get({ timeout: 20_000 })).toBe(42);
      expect(await brokerClient.exists(`pfx:_kombu.binding.${queue}`)).toBe(1);
      expect(await brokerClient.exists(`_kombu.binding.${queue}`)).toBe(0);
      expect(await backendClient.exists(`rpfx_celery-task-meta-${result.id}`)).toBe(1);
    } finally {
      brokerClient.disconnect();
      backendClient.disconnect();
      await app.close();
      await worker.stop();
    }
  });
});

describe("rediss://", () => {
  it("sends and reads results over TLS verified with the harness CA", async () => {
    const server = await startRedis({ tls: true });
    const ca = server.caPath as string;
    const queue = uniqueQueue("tls");
    const worker = await startCeleryWorker({
      brokerUrl: `${server.dbUrl(0)}?ssl_cert_reqs=required&ssl_ca_certs=${encodeURIComponent(ca)}`,
      backendUrl: `${server.dbUrl(1)}?ssl_cert_reqs=required&ssl_ca_certs=${encodeURIComponent(ca)}`,
      queues: [queue],
    });
    const app = new Celery({
      broker: `${server.dbUrl(0)}?ssl_cert_reqs=required&ssl_ca_certs=${encodeURIComponent(ca)}`,
      backend: server.dbUrl(1),
      redisBackendUseSsl: { sslCaCerts: ca, sslCertReqs: "required" },
      taskDefaultQueue: queue,
    });
    try {
      const result = await app.sendTask("interop.add", [5, 6]);
      expect(await result.get({ timeout: 20_000 })).toBe(11);
    } finally {
      await app.close();
      await worker.stop();
      await server.dispose();
    }
  });
});

describe("broker down", () => {
  it("sendTask rejects with ConnectionLostError after the bounded retry", async () => {
    const port = await freePort();
    const app = new Celery({
      broker: `redis://127.0.0.1:${port}/0`,
      taskPublishRetryPolicy: { maxRetries: 2, intervalStart: 0, intervalStep: 0.1, intervalMax: 0.1 },
    });
    try {
      const err = await app.sendTask("interop.add", [1, 2]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect((err as Error).message).toMatch(/after 3 attempt\(s\)/);
      expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    } finally {
      await app.close();
    }
  });

  it("with taskPublishRetry off it rejects after one attempt", async () => {
    const port = await freePort();
    const app = new Celery({ broker: `redis://127.0.0.1:${port}/0`, taskPublishRetry: false });
    try {
      const err = await app.sendTask("interop.add", [1, 2]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect((err as Error).message).toMatch(/after 1 attempt\(s\)/);
    } finally {
      await app.close();
    }
  });
});

describe("result wait across a Redis restart", () => {
  it("re-subscribes and re-reads after the connection comes back", async () => {
    const server = await startRedis();
    const queue = uniqueQueue("restart");
    const worker = await startCeleryWorker({
      brokerUrl: server.dbUrl(0),
      backendUrl: server.dbUrl(1),
      queues: [queue],
    });
    const app = new Celery({ broker: server.dbUrl(0), backend: server.dbUrl(1), taskDefaultQueue: queue });
    const probe = new Redis(server.port as number, "127.0.0.1");
    try {
      const result = await app.sendTask("interop.sleep", [2]);
      const waiting = result.get({ timeout: 30_000 });
      // Once the worker holds the task, restart Redis under the waiting subscriber.
      await waitUntil("worker took the task", async () => (await probe.llen(queue)) === 0, {
        timeoutMs: 10_000,
      });
      probe.disconnect();
      await server.restart();
      expect(await waiting).toBe(2);
    } finally {
      probe.disconnect();
      await app.close();
      await worker.stop();
      await server.dispose();
    }
  });
});

describe("5.7 result_compression", () => {
  it("reads metas a Python worker stored compressed, and stores compressed ones Python can read", async () => {
    const broker = (await allocateRedisDb()).url;
    const backend = (await allocateRedisDb()).url;
    const queue = uniqueQueue("rcomp");
    const worker = await startCeleryWorker({
      brokerUrl: broker,
      backendUrl: backend,
      queues: [queue],
      config: { result_compression: "gzip" },
    });
    const app = new Celery({ broker, backend, taskDefaultQueue: queue, resultCompression: "zlib" });
    const raw = new Redis(backend);
    try {
      const result = await app.sendTask("interop.add", [2, 40]);
      expect(await result.get({ timeout: 20_000 })).toBe(42);
      const stored = await raw.getBuffer(`celery-task-meta-${result.id}`);
      expect(stored?.subarray(0, 19).toString("latin1")).toBe("\x00celery-compressed\x00");
      // And the other way: a meta we store compressed is read by Python.
      const backendImpl = app.backend as import("../../src/backends/redis.js").RedisBackend;
      await backendImpl.storeResult({
        status: "SUCCESS",
        result: "from-ts",
        traceback: null,
        children: [],
        date_done: new Date().toISOString(),
        task_id: "ts-compressed-meta",
      });
      const read = await pythonJson<string>(
        `
from interop_app import app, emit
emit(app.AsyncResult("ts-compressed-meta").get(timeout=5))
`,
        { brokerUrl: broker, backendUrl: backend, config: { result_compression: "gzip" } },
      );
      expect(read).toBe("from-ts");
    } finally {
      raw.disconnect();
      await app.close();
      await worker.stop();
    }
  });
});
