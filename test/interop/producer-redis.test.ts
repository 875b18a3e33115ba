/**
 * TS producer -> stock Python Celery 5.7 worker over Redis (broker + backend), results read back
 * in TS. Issue 3, item 5: each behaviour is its own test. Tests share one worker per file and
 * isolate themselves by unique queue names.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { NotRegisteredError, RemoteTaskError, TaskRevokedError, TimeoutError } from "../../src/errors.js";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let worker: CeleryWorker;
let app: Celery;
const queue = uniqueQueue("prod");

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  worker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [queue] });
  app = new Celery({ broker, backend, taskDefaultQueue: queue });
});

afterAll(async () => {
  await app?.close();
  await worker?.stop();
});

describe("TS producer -> Python worker over Redis", () => {
  it("runs a task with positional args and returns its result", async () => {
    const result = await app.sendTask<number>("interop.add", [2, 3]);
    expect(await result.get({ timeout: 20_000 })).toBe(5);
    expect(await result.state()).toBe("SUCCESS");
    expect(await result.successful()).toBe(true);
  });

  it("passes keyword args", async () => {
    const result = await app.sendTask("interop.echo", [1], { a: "x", b: [true, null] });
    expect(await result.get({ timeout: 20_000 })).toEqual([[1], { a: "x", b: [true, null] }]);
  });

  it("exposes result_extended fields", async () => {
    const result = await app.sendTask("interop.add", [1, 1]);
    await result.get({ timeout: 20_000 });
    const meta = await result.meta();
    expect(meta).toMatchObject({ name: "interop.add", args: [1, 1], kwargs: {}, queue, retries: 0 });
    expect(meta.worker).toBe(worker.hostname);
  });

  it("rebuilds a builtin Python exception with its args", async () => {
    const result = await app.sendTask("interop.fail", ["ValueError", "bad value", 7]);
    const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toMatchObject({ excType: "ValueError", excModule: "builtins", excMessage: ["bad value", 7] });
    expect((err as RemoteTaskError).traceback).toMatch(/Traceback[\s\S]*ValueError: \('bad value', 7\)/);
    expect(await result.failed()).toBe(true);
    expect(result.traceback).toBe((err as RemoteTaskError).traceback);
  });

  it("rebuilds a custom exception class from the task module", async () => {
    const result = await app.sendTask("interop.fail", ["InteropError", "custom", { k: 1 }]);
    const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      excType: "InteropError",
      excModule: "interop_app",
      excMessage: ["custom", { k: 1 }],
    });
    const info = await result.info();
    expect(info).toBeInstanceOf(RemoteTaskError);
  });

  it("returns the error instead of throwing with propagate: false", async () => {
    const result = await app.sendTask("interop.fail", ["KeyError", "k"]);
    const value = await result.get({ timeout: 20_000, propagate: false });
    expect(value).toBeInstanceOf(RemoteTaskError);
    expect(value).toMatchObject({ excType: "KeyError" });
  });

  it("an unregistered task name fails with NotRegistered", async () => {
    const result = await app.sendTask("interop.no_such_task", [1]);
    const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotRegisteredError);
    expect((err as NotRegisteredError).taskName).toBe("interop.no_such_task");
  });

  it("a task that expired before it reached the worker is REVOKED", async () => {
    const result = await app.sendTask("interop.add", [1, 2], {}, { expires: new Date(Date.now() - 60_000) });
    const err = await result.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskRevokedError);
    expect(await result.state()).toBe("REVOKED");
    const meta = await result.meta();
    expect(meta.result).toMatchObject({ exc_type: "TaskRevokedError", exc_message: ["expired"] });
  });

  it("times out naming the task id", async () => {
    const result = await app.sendTask("interop.sleep", [3]);
    const err = await result.get({ timeout: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain(result.id);
    expect(await result.get({ timeout: 20_000 })).toBe(3);
  });

  it("forget() deletes the stored result", async () => {
    const result = await app.sendTask("interop.add", [4, 4]);
    expect(await result.get({ timeout: 20_000 })).toBe(8);
    await result.forget();
    expect(await result.state()).toBe("PENDING");
  });

  it("registers the queue binding the way kombu 5.7 does", async () => {
    const client = new Redis(broker);
    try {
      const member = `${queue}\x06\x16\x06\x16${queue}`;
      expect(await client.sismember(`_kombu.binding.${queue}`, member)).toBe(1);
      expect(await client.sismember(`_kombu.binding_permanent.${queue}`, member)).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
