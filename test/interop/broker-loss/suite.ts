/**
 * Broker loss never leaves a zombie and loses no result already computed, one suite run per
 * transport (broker-loss-redis.test.ts, broker-loss-amqp.test.ts). A TS worker process on a
 * broker server of the file's own (Redis result backend), a Python producer:
 * - an outage longer than `brokerConnectionMaxRetries` ends the worker with status 1 and one
 *   clear line (Celery's "Unrecoverable error" exit), nothing of ours keeping the process alive;
 * - an outage inside the retry window: the worker stays up (nothing lets the event loop run dry
 *   while it reconnects) and consumes again; on RabbitMQ, a connection that dies right after it
 *   opened is reopened after a backoff, with a log line;
 * - a producer call against a dead broker rejects with ConnectionLostError naming the broker,
 *   credentials masked.
 * Where the transports differ (how the fatal line names the broker, how long an outage must last
 * before the worker has retried, what only one broker can do) comes from transports.ts; the
 * tests that exist on one transport only are in redis-only.ts and amqp-only.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { ConnectionLostError } from "../../../src/errors.js";
import { pythonJson } from "../../support/celery.js";
import { type BrokerTransport, type OwnBroker, startOwnBroker } from "../../support/own-broker.js";
import { waitUntil } from "../../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../../support/services.js";
import { startTsWorkerProcess } from "../../support/ts-worker/launch.js";
import { defineAmqpOnly } from "./amqp-only.js";
import { defineRedisOnly } from "./redis-only.js";
import { LOSS_PROFILES } from "./transports.js";

/** A stock Celery 5.7 producer sends `interop.add(x, 1)` for each x and reads every result. */
export const sendAndGet = (broker: string, backend: string, queue: string, xs: number[]) =>
  pythonJson<number[]>(
    `
from interop_app import app, emit
rs = [app.send_task("interop.add", (x, 1), queue=${JSON.stringify(queue)}) for x in ${JSON.stringify(xs)}]
emit([r.get(timeout=30) for r in rs])
`,
    { brokerUrl: broker, backendUrl: backend, timeoutMs: 60_000 },
  );

export function defineBrokerLossSuite(transport: BrokerTransport): void {
  const profile = LOSS_PROFILES[transport];
  let server: OwnBroker;

  beforeAll(async () => {
    server = await startOwnBroker(transport);
  });

  afterAll(async () => {
    await server?.dispose();
  });

  describe(`${profile.label} broker loss (TS worker process, Python producer)`, () => {
    it("an outage longer than brokerConnectionMaxRetries: the worker exits 1 with one line", async () => {
      const broker = server.url(1);
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(`bl-exit-${transport}`);
      const worker = await startTsWorkerProcess({
        TSW_BROKER: broker,
        TSW_BACKEND: backend,
        TSW_QUEUES: queue,
        TSW_MAX_RETRIES: "3",
      });
      expect(await sendAndGet(broker, backend, queue, [1, 2])).toEqual([2, 3]);
      await server.stop();
      try {
        // Bounded by the test timeout: a worker that never exits fails here (the zombie case).
        const exit = await worker.exited;
        expect(exit.code).toBe(1);
        const fatal = worker
          .logs()
          .split("\n")
          .filter((line) => /Unrecoverable/.test(line));
        expect(fatal).toHaveLength(1);
        expect(fatal[0]).toMatch(profile.cannotConnect(broker));
        expect(fatal[0]).toContain("broker_connection_max_retries=3");
      } finally {
        await server.start();
      }
    }, 90_000);

    it(profile.retryWindowTitle, async () => {
      const broker = server.url(2);
      const backend = (await allocateRedisDb()).url;
      const queue = uniqueQueue(`bl-back-${transport}`);
      const worker = await startTsWorkerProcess({
        TSW_BROKER: broker,
        TSW_BACKEND: backend,
        TSW_QUEUES: queue,
        TSW_MAX_RETRIES: String(profile.outage.maxRetries),
      });
      try {
        expect(await sendAndGet(broker, backend, queue, [1, 2])).toEqual([2, 3]);
        const before = worker.logs().length;
        await server.stop();
        // The old AMQP failure: every reconnect timer unref'd, the process exited 0 about 1 s in.
        await waitUntil(
          `the worker to retry ${profile.outage.retriesSeen} time(s)`,
          async () =>
            (
              worker
                .logs()
                .slice(before)
                .match(/Trying again/g) ?? []
            ).length >= profile.outage.retriesSeen,
          { timeoutMs: profile.outage.retriesTimeoutMs },
        );
        await new Promise((resolve) => setTimeout(resolve, profile.outage.extraDownMs));
        await server.start();
        expect(await sendAndGet(broker, backend, queue, [10, 20, 30])).toEqual([11, 21, 31]);
        if (server.closeAllConnections) {
          // A connection closed right after it opened is reopened after a backoff, with a line saying so.
          const closeAll = server.closeAllConnections;
          const beforeClose = worker.logs().length;
          await closeAll("test: first close");
          await waitUntil(
            "the worker to reconnect",
            async () => /reconnecting/.test(worker.logs().slice(beforeClose)),
            { timeoutMs: 15_000 },
          );
          await new Promise((resolve) => setTimeout(resolve, 300));
          await closeAll("test: second close");
          await waitUntil(
            "a backoff line for the short-lived connection",
            async () => /lost \d+ ms after it opened; reconnecting in/.test(worker.logs().slice(beforeClose)),
            { timeoutMs: 15_000 },
          );
          expect(await sendAndGet(broker, backend, queue, [5])).toEqual([6]);
        }
        expect(worker.logs()).not.toMatch(/Unrecoverable/);
      } finally {
        const exit = await worker.stop();
        expect(exit.code).toBe(0);
      }
    }, 150_000);
  });

  describe(`${profile.label} producer against a dead broker`, () => {
    it("sendTask rejects with ConnectionLostError naming the broker (bounded by task_publish_retry_policy)", async () => {
      const url = await profile.deadBrokerUrl();
      const app = new Celery({ broker: url, ...profile.deadBrokerOptions });
      try {
        const err = await app.sendTask("interop.add", [1, 2]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectionLostError);
        profile.expectNamesDeadBroker((err as Error).message, url);
      } finally {
        await app.close();
      }
    }, 60_000);
  });

  if (transport === "redis") defineRedisOnly();
  if (transport === "amqp") defineAmqpOnly();
}
