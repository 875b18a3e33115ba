/**
 * Redis Sentinel with real Celery 5.7 on both sides (kombu `SentinelChannel`, Celery
 * `SentinelBackend`): a master, a replica and three Sentinels from the harness, the master
 * behind a password, every client reaching it only through `sentinel://` URLs.
 * - a TS producer sends to a Python worker configured with the same sentinel:// broker and
 *   backend URLs and `master_name` transport options; TS reads the results;
 * - a Python producer sends to a TS worker over sentinel://; Python reads the results and
 *   pings the worker (pidbox broadcast and reply over Sentinel);
 * - no reachable Sentinel and a wrong master name: one ConnectionLostError naming the URL
 *   with the password masked, after the bounded publish retries;
 * - failover smoke (last, it changes the master): the master is killed, the Sentinels promote
 *   the replica, and the same TS worker keeps consuming what a Python producer sends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { ConnectionLostError } from "../../src/errors.js";
import type { Worker } from "../../src/worker/worker.js";
import { type CeleryWorker, pythonJson, startCeleryWorker } from "../support/celery.js";
import { freePort } from "../support/ports.js";
import { waitUntil } from "../support/process.js";
import { type RedisSentinelSet, startRedisSentinel } from "../support/servers/redis-sentinel.js";
import { uniqueQueue } from "../support/services.js";

const PASSWORD = "s3ntinel-pw";
let set: RedisSentinelSet;

/** Celery settings as a Python user writes them for this set-up. */
const pythonConfig = (masterName: string) => ({
  broker_transport_options: { master_name: masterName },
  result_backend_transport_options: { master_name: masterName },
});

const tsApp = (broker: string, backend: string, masterName: string, extra: Record<string, unknown> = {}) =>
  new Celery({
    broker,
    backend,
    brokerTransportOptions: { masterName },
    resultBackendTransportOptions: { masterName },
    ...extra,
  });

beforeAll(async () => {
  set = await startRedisSentinel({ password: PASSWORD });
}, 60_000);

afterAll(async () => {
  await set?.dispose();
});

/** What the result backend gives when it cannot reach the master: waiting for a result (the pub/sub subscriber) and reading a meta (GET, under the retry policy). */
async function backendErrors(app: Celery): Promise<unknown[]> {
  const failed = (p: Promise<unknown>) =>
    p.then(
      () => new Error("expected a rejection"),
      (e: unknown) => e,
    );
  const backend = app.backend;
  if (backend === null) throw new Error("the app has no result backend");
  return [
    await failed(app.asyncResult("no-such-task").get({ timeoutMs: 20_000 })),
    await failed(backend.getMeta("no-such-task")),
  ];
}

describe("Redis Sentinel: TS and Python Celery 5.7 through sentinel:// URLs", () => {
  it("a TS producer sends to a Python worker; TS reads the results", async () => {
    const queue = uniqueQueue("sentinel-py");
    const url = set.url(1);
    let worker: CeleryWorker | undefined;
    const app = tsApp(url, url, set.masterName);
    try {
      worker = await startCeleryWorker({
        brokerUrl: url,
        backendUrl: url,
        queues: [queue],
        config: pythonConfig(set.masterName),
      });
      const results = await Promise.all(
        [1, 2, 3].map((i) => app.sendTask<number>("interop.add", [i, 100], null, { queue })),
      );
      const values = await Promise.all(results.map((r) => r.get({ timeoutMs: 30_000 })));
      expect(values).toEqual([101, 102, 103]);
      // The Python worker really went through the Sentinels to the password-protected master.
      expect(worker.logs()).toMatch(/sentinel:\/\//);
    } finally {
      await worker?.stop();
      await app.close();
    }
  }, 90_000);

  it("a Python producer sends to a TS worker; Python reads the results and pings it over pidbox", async () => {
    const queue = uniqueQueue("sentinel-ts");
    const url = set.url(2);
    const app = tsApp(url, url, set.masterName);
    app.task("interop.add", (_ctx, a: number, b: number) => a + b);
    let worker: Worker | undefined;
    try {
      worker = app.worker({ queues: [queue], concurrency: 4, hostname: `ts-sentinel-${queue}@localhost` });
      await worker.start();
      const values = await pythonJson<number[]>(
        `
from interop_app import app, emit
rs = [app.send_task("interop.add", (x, 1000), queue=${JSON.stringify(queue)}) for x in (1, 2, 3)]
emit([r.get(timeout=30) for r in rs])
`,
        { brokerUrl: url, backendUrl: url, config: pythonConfig(set.masterName), timeoutMs: 60_000 },
      );
      expect(values).toEqual([1001, 1002, 1003]);
      // pidbox over Sentinel: the broadcast and the reply both go through the master it found.
      const hostname = `ts-sentinel-${queue}@localhost`;
      const pong = await pythonJson<Record<string, unknown>[]>(
        `
from interop_app import app, emit
emit(app.control.ping(destination=[${JSON.stringify(hostname)}], timeout=5))
`,
        { brokerUrl: url, backendUrl: url, config: pythonConfig(set.masterName), timeoutMs: 60_000 },
      );
      expect(pong).toEqual([{ [hostname]: { ok: "pong" } }]);
    } finally {
      await worker?.close({ timeoutMs: 5000 });
      await app.close();
    }
  }, 90_000);

  it("no reachable Sentinel: one ConnectionLostError naming the URL, password masked", async () => {
    const deadPorts = [await freePort(), await freePort()];
    const url = deadPorts
      .map((p, i) => `sentinel://${i === 0 ? `:${PASSWORD}@` : ""}127.0.0.1:${p}/0`)
      .join(";");
    const app = tsApp(url, url, set.masterName, {
      taskPublishRetryPolicy: { maxRetries: 1, intervalStart: 0, intervalStep: 0.1, intervalMax: 0.1 },
      brokerConnectionMaxRetries: 2,
    });
    try {
      const err = await app
        .sendTask("interop.add", [1, 2], null, { queue: uniqueQueue("sentinel-dead") })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ConnectionLostError);
      const message = (err as Error).message;
      // ConnectionLostError masks again (kombu's "**" becomes "***"): any run of stars is fine.
      expect(message.replace(/:\*+@/, ":**@")).toContain(
        `sentinel://:**@127.0.0.1:${deadPorts[0]};sentinel://127.0.0.1:${deadPorts[1]}/0`,
      );
      expect(message).toContain(`master "${set.masterName}"`);
      expect(message).toMatch(/after 2 attempt/);
      expect(message).not.toContain(PASSWORD);
      // The result backend (its own resultBackendTransportOptions) says the same, both ways in.
      for (const backendErr of await backendErrors(app)) {
        expect(backendErr).toBeInstanceOf(ConnectionLostError);
        const text = (backendErr as Error).message;
        expect(text.replace(/:\*+@/, ":**@")).toContain(`sentinel://:**@127.0.0.1:${deadPorts[0]};`);
        expect(text).toContain(`master "${set.masterName}"`);
        expect(text).toMatch(/unreachable/);
        expect(text).not.toContain(PASSWORD);
      }
      // A worker started on it fails to start with the same error, after the bounded retries.
      const worker = app.worker({ queues: [uniqueQueue("sentinel-dead")], withoutMingle: true });
      const startErr = await worker.start().then(
        () => null,
        (e: unknown) => e,
      );
      await worker.close({ timeoutMs: 2000 }).catch(() => {});
      expect(startErr).toBeInstanceOf(ConnectionLostError);
      expect((startErr as Error).message.replace(/:\*+@/, ":**@")).toContain(
        `sentinel://:**@127.0.0.1:${deadPorts[0]};`,
      );
      expect((startErr as Error).message).toMatch(/after 2 attempt/);
      expect((startErr as Error).message).not.toContain(PASSWORD);
    } finally {
      await app.close();
    }
  }, 60_000);

  it("a wrong master name: one ConnectionLostError naming the URL and the master name", async () => {
    const url = set.url(3);
    const app = tsApp(url, url, "no-such-master", {
      taskPublishRetryPolicy: { maxRetries: 1, intervalStart: 0, intervalStep: 0.1, intervalMax: 0.1 },
      brokerConnectionMaxRetries: 2,
    });
    try {
      const err = await app
        .sendTask("interop.add", [1, 2], null, { queue: uniqueQueue("sentinel-name") })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ConnectionLostError);
      const message = (err as Error).message;
      expect(message).toContain(`master "no-such-master"`);
      expect(message).toContain(`127.0.0.1:${set.sentinelPorts[0]}`);
      expect(message).toContain("No such master with that name");
      expect(message).toMatch(/after 2 attempt/);
      expect(message).not.toContain(PASSWORD);
      for (const backendErr of await backendErrors(app)) {
        expect(backendErr).toBeInstanceOf(ConnectionLostError);
        const text = (backendErr as Error).message;
        expect(text).toContain(`127.0.0.1:${set.sentinelPorts[0]}`);
        expect(text).toContain(`master "no-such-master"`);
        expect(text).toContain("No such master with that name");
        expect(text).not.toContain(PASSWORD);
      }
    } finally {
      await app.close();
    }
  }, 60_000);

  it("failover smoke: the master is killed, the replica promoted, the TS worker keeps consuming", async () => {
    const queue = uniqueQueue("sentinel-failover");
    const url = set.url(4);
    const app = tsApp(url, url, set.masterName);
    app.task("interop.add", (_ctx, a: number, b: number) => a + b);
    const pythonSends = (xs: number[]) =>
      pythonJson<number[]>(
        `
from interop_app import app, emit
rs = [app.send_task("interop.add", (x, 1), queue=${JSON.stringify(queue)}) for x in ${JSON.stringify(xs)}]
emit([r.get(timeout=30) for r in rs])
`,
        { brokerUrl: url, backendUrl: url, config: pythonConfig(set.masterName), timeoutMs: 60_000 },
      );
    let worker: Worker | undefined;
    try {
      worker = app.worker({ queues: [queue], concurrency: 4, hostname: `ts-failover-${queue}@localhost` });
      await worker.start();
      expect(await pythonSends([1, 2])).toEqual([2, 3]);
      const before = await set.currentMaster();
      expect(before).toBe(`127.0.0.1:${set.master.port}`);
      const killedAt = Date.now();
      await set.master.kill();
      // down-after-milliseconds 1000 in the harness, then the Sentinels elect and promote.
      await waitUntil(
        "the Sentinels promote the replica",
        async () => (await set.currentMaster()) !== before,
        {
          timeoutMs: 30_000,
          intervalMs: 200,
        },
      );
      expect(await set.currentMaster()).toBe(`127.0.0.1:${set.replica.port}`);
      const promotedMs = Date.now() - killedAt;
      expect(await pythonSends([10, 20, 30])).toEqual([11, 21, 31]);
      // A figure for the docs, not an assertion.
      console.log(
        `sentinel failover: promoted after ${promotedMs} ms, results back ${Date.now() - killedAt} ms after the kill`,
      );
    } finally {
      await worker?.close({ timeoutMs: 5000 });
      await app.close();
    }
  }, 120_000);
});
