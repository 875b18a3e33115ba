/**
 * Broker-loss tests with no RabbitMQ counterpart: the Redis result backend restarted while a task
 * runs (the backend is Redis on both transports, so it runs once, here), and Redis's
 * `requirepass` refusing a producer's password.
 */
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { ConnectionLostError } from "../../../src/errors.js";
import { pythonJson } from "../../support/celery.js";
import { waitUntil } from "../../support/process.js";
import { type RedisServer, startRedis } from "../../support/servers/redis.js";
import { allocateRedisDb, uniqueQueue } from "../../support/services.js";
import { createTsStack } from "../../support/ts-worker/stack.js";

export function defineRedisOnly(): void {
  describe("Redis result backend restart while a task runs (in-process TS worker)", () => {
    let backendServer: RedisServer;
    beforeAll(async () => {
      backendServer = await startRedis();
    });
    afterAll(async () => {
      await backendServer?.dispose();
    });

    it("the result computed during a ~3 s backend outage is stored once Redis is back, then the message is acked", async () => {
      const broker = (await allocateRedisDb()).url;
      const backend = backendServer.dbUrl(1);
      const queue = uniqueQueue("bl-backend");
      const lines: string[] = [];
      const stack = createTsStack({ broker, backend, taskAcksLate: true }, { lines });
      let release!: () => void;
      const running = new Promise<void>((resolve) => {
        release = resolve;
      });
      stack.task("ts.slow_square", async (_ctx, n: number) => {
        release();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return n * n;
      });
      const worker = stack.worker({ queues: [queue], concurrency: 2, hostname: "bl-backend@localhost" });
      await worker.start();
      const brk = new Redis(broker, { maxRetriesPerRequest: 3 });
      try {
        const id = await pythonJson<string>(
          `
from interop_app import app, emit
emit(app.send_task("ts.slow_square", (7,), queue=${JSON.stringify(queue)}).id)
`,
          { brokerUrl: broker, backendUrl: backend },
        );
        await running;
        await backendServer.stop();
        await new Promise((resolve) => setTimeout(resolve, 3000));
        await backendServer.restart();
        const out = await pythonJson<{ state: string; value: number }>(
          `
from interop_app import app, emit
r = app.AsyncResult(${JSON.stringify(id)})
emit({"value": r.get(timeout=60), "state": r.state})
`,
          { brokerUrl: broker, backendUrl: backend, timeoutMs: 70_000 },
        );
        expect(out).toEqual({ state: "SUCCESS", value: 49 });
        await waitUntil(
          "the acksLate message acked after the store",
          async () => (await brk.hlen("unacked")) === 0,
          {
            timeoutMs: 10_000,
          },
        );
        expect(lines.join("\n")).not.toMatch(/Could not store result/);
      } finally {
        brk.disconnect();
        await worker.close({ timeoutMs: 5000 });
        await stack.close();
      }
    }, 120_000);
  });

  describe("Redis producer against a refusing broker", () => {
    it("a wrong password: a clear error naming the URL, password masked, nowhere in what is printed", async () => {
      const locked = await startRedis();
      // Set after start: the harness's readiness PING has no password.
      const admin = new Redis(locked.url);
      await admin.config("SET", "requirepass", "right-pass-123");
      admin.disconnect();
      const secret = "wrong-pass-456";
      const url = `redis://:${secret}@127.0.0.1:${locked.port}/0`;
      const app = new Celery({ broker: url, backend: url.replace(/\/0$/, "/1") });
      try {
        const err = await app.sendTask("interop.add", [1, 2]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectionLostError);
        const message = (err as Error).message;
        expect(message).toMatch(new RegExp(`redis://:\\*+@127\\.0\\.0\\.1:${locked.port}/0`));
        expect(message).toMatch(/refused the credentials: WRONGPASS/);
        expect(inspect(err, { depth: 10 })).not.toContain(secret);
        const read = await app
          .asyncResult("00000000-0000-0000-0000-000000000000")
          .get({ timeout: 2000 })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(inspect(read, { depth: 10 })).not.toContain(secret);
      } finally {
        await app.close();
        await locked.dispose();
      }
    }, 60_000);
  });
}
