/**
 * Flower 2.0 (PyPI, pinned in python-interop/requirements/flower.txt beside Celery 5.7) watching a
 * REAL TS worker, one suite run per transport (flower-redis.test.ts, flower-amqp.test.ts; Redis
 * result backend for both): the worker's events make Flower list it as online and its tasks with
 * their final states, and Flower's inspect calls (`/api/workers?refresh=1`) are answered by the TS
 * worker's pidbox. How to know Flower's event receiver listens (events published before are
 * lost) differs by broker and is in transports.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { PythonError } from "../../../src/worker/errors.js";
import type { Worker } from "../../../src/worker/worker.js";
import { type Flower, startFlower } from "../../support/flower.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { allocateRedisDb, uniqueName, uniqueQueue } from "../../support/services.js";
import { FLOWER_PROFILES } from "./transports.js";

export function defineFlowerSuite(transport: BrokerTransport): void {
  const profile = FLOWER_PROFILES[transport];
  let app: Celery;
  let worker: Worker;
  let flower: Flower;
  const queue = uniqueQueue(`flower-${transport}`);
  const hostname = `tsflower-${transport}-${process.pid}@localhost`;

  beforeAll(async () => {
    const broker = await profile.brokerUrl();
    const backend = (await allocateRedisDb()).url;
    flower = await startFlower(broker.url);
    await profile.beforeWorkerStarts?.(flower, broker);
    app = new Celery({ broker: broker.url, backend });
    app.task("ts.add", (_ctx, a: number, b: number) => a + b);
    app.task("ts.fail", () => {
      throw new PythonError("ValueError", ["bad input"]);
    });
    worker = app.worker({ queues: [queue], hostname, taskEvents: true });
    await worker.start();
    await profile.afterWorkerStarted?.(flower, hostname);
  }, 150_000);

  afterAll(async () => {
    await worker?.close({ timeoutMs: 2000 });
    await app?.close();
    await flower?.stop();
  });

  describe(`Flower 2.0 <- a running TS worker (${profile.label})`, () => {
    it("lists the TS worker online and its tasks with their final states", async () => {
      const addId = uniqueName("add");
      const failId = uniqueName("fail");
      const add = await app.sendTask<number>("ts.add", [2, 3], null, { queue, taskId: addId });
      const fail = await app.sendTask("ts.fail", [], null, { queue, taskId: failId });
      expect(await add.get({ timeout: 20_000 })).toBe(5);
      await expect(fail.get({ timeout: 20_000 })).rejects.toThrow();

      type TaskRow = { state?: string; name?: string; worker?: string; result?: string; exception?: string };
      const bothFinal = (body: unknown) => {
        const tasks = body as Record<string, TaskRow>;
        return tasks[addId]?.state === "SUCCESS" && tasks[failId]?.state === "FAILURE";
      };
      const tasks = (await flower.poll("/api/tasks", bothFinal)) as Record<string, TaskRow>;
      expect(tasks[addId]).toMatchObject({ state: "SUCCESS", name: "ts.add", worker: hostname });
      expect(tasks[failId]).toMatchObject({ state: "FAILURE", name: "ts.fail", worker: hostname });

      const addInfo = (await flower.get(`/api/task/info/${addId}`)).body as TaskRow & Record<string, unknown>;
      expect(addInfo).toMatchObject({ uuid: addId, state: "SUCCESS", result: "5", args: "(2, 3)" });
      const failInfo = (await flower.get(`/api/task/info/${failId}`)).body as TaskRow;
      expect(failInfo.state).toBe("FAILURE");
      expect(failInfo.exception).toContain("bad input");

      // Online by Flower's own heartbeat bookkeeping (celery.events.state Worker.alive).
      const status = await flower.poll(
        "/api/workers?status=1",
        (b) => (b as Record<string, boolean>)[hostname] === true,
      );
      expect(status).toMatchObject({ [hostname]: true });
    }, 60_000);

    it(`refreshes the worker through inspect: the TS worker answers Flower's pidbox calls${profile.overWhat}`, async () => {
      const answer = await flower.get(`/api/workers?refresh=1&workername=${encodeURIComponent(hostname)}`);
      expect(answer.status).toBe(200);
      const info = (answer.body as Record<string, Record<string, unknown>>)[hostname];
      expect(info?.registered).toEqual(["ts.add", "ts.fail"]);
      expect(info?.active_queues).toEqual([expect.objectContaining({ name: queue })]);
      const stats = info?.stats as Record<string, unknown> | undefined;
      expect(stats?.pid).toBe(process.pid);
      profile.expectStats?.(stats);
    }, 60_000);
  });
}
