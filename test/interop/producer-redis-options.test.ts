/**
 * sendTask options against a stock Celery 5.7 worker (Redis broker + backend): types both ways,
 * countdown/eta, priority, routing, headers, shadow, ignoreResult. Issue 3, item 5.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { PyDate, PyDecimal, PyTime, PyUUID } from "../../src/serialization/pytypes.js";
import { parseRedisUrl } from "../../src/transports/redis/url.js";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import { allocateRedisDb, uniqueName, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let worker: CeleryWorker;
let app: Celery;
let redis: Redis;
const queue = uniqueQueue("opts");
const routedExact = uniqueQueue("routed-exact");
const routedGlob = uniqueQueue("routed-glob");

beforeAll(async () => {
  broker = (await allocateRedisDb()).url;
  backend = (await allocateRedisDb()).url;
  worker = await startCeleryWorker({
    brokerUrl: broker,
    backendUrl: backend,
    queues: [queue, routedExact, routedGlob],
  });
  app = new Celery({
    broker,
    backend,
    taskDefaultQueue: queue,
    taskRoutes: { "interop.mul": { queue: routedExact }, "interop.xs*": routedGlob },
  });
  redis = new Redis(backend);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await worker?.stop();
});

interface TypeDescription {
  type: string;
  module: string;
  repr: string;
  tz?: string | null;
  hex?: string;
  value?: unknown;
  items?: TypeDescription[] | Record<string, TypeDescription>;
}

describe("values cross both ways with their Python types", () => {
  it.each([
    [
      "datetime with tz",
      new Date("2024-01-02T03:04:05.678Z"),
      "datetime",
      (d: TypeDescription) => expect(d.tz).toBe("UTC"),
    ],
    [
      "date",
      new PyDate("2024-01-02"),
      "date",
      (d: TypeDescription) => expect(d.repr).toBe("datetime.date(2024, 1, 2)"),
    ],
    [
      "time",
      new PyTime("03:04:05.120000"),
      "time",
      (d: TypeDescription) => expect(d.repr).toContain("3, 4, 5, 120000"),
    ],
    [
      "Decimal",
      new PyDecimal("1.10"),
      "Decimal",
      (d: TypeDescription) => expect(d.repr).toBe("Decimal('1.10')"),
    ],
    [
      "UUID",
      new PyUUID("44444444-4444-4444-8444-444444444444"),
      "UUID",
      (d: TypeDescription) => expect(d.repr).toBe("UUID('44444444-4444-4444-8444-444444444444')"),
    ],
    ["bytes", new Uint8Array([0, 255, 1]), "bytes", (d: TypeDescription) => expect(d.hex).toBe("00ff01")],
  ])("%s", async (_label, value, pyType, check) => {
    const result = await app.sendTask<TypeDescription>("interop.echo_types", [value]);
    const description = await result.get({ timeout: 20_000 });
    expect(description.type).toBe(pyType);
    check(description);
    // And back: the value Python returns decodes to the same TS form we sent.
    const back = description.value;
    if (value instanceof Date) expect((back as Date).getTime()).toBe(value.getTime());
    else if (value instanceof Uint8Array)
      expect(Buffer.from(back as Uint8Array).equals(Buffer.from(value))).toBe(true);
    else expect(String(back)).toBe(String(value));
  });

  it("nested structures and unicode", async () => {
    const value = { ключ: ["日本語", "emoji 🎉", { deep: [1, 2.5, null, true, { x: "é" }] }], empty: {} };
    const result = await app.sendTask("interop.echo", [value], { k: "ü" });
    expect(await result.get({ timeout: 20_000 })).toEqual([[value], { k: "ü" }]);
  });

  it("a 1 MB payload", async () => {
    const big = "x".repeat(1024 * 1024);
    const result = await app.sendTask<[string[], object]>("interop.echo", [big]);
    const [args] = await result.get({ timeout: 20_000 });
    expect(args[0]?.length).toBe(big.length);
  });
});

describe("scheduling", () => {
  it("countdown: the worker runs it no earlier", async () => {
    const sentAt = Date.now();
    const result = await app.sendTask<{ request: { eta: string } }>(
      "interop.headers",
      [],
      {},
      { countdown: 2 },
    );
    const out = await result.get({ timeout: 20_000 });
    const meta = await result.meta();
    expect(new Date(out.request.eta).getTime()).toBeGreaterThanOrEqual(sentAt + 2000);
    expect(new Date(meta.dateDone as string).getTime()).toBeGreaterThanOrEqual(sentAt + 2000);
  });

  it("eta: the worker runs it no earlier", async () => {
    const eta = new Date(Date.now() + 2000);
    const result = await app.sendTask("interop.add", [1, 2], {}, { eta });
    expect(await result.get({ timeout: 20_000 })).toBe(3);
    const meta = await result.meta();
    expect(new Date(meta.dateDone as string).getTime()).toBeGreaterThanOrEqual(eta.getTime());
  });

  it("priority: with a busy worker, priority-0 messages overtake priority-9 ones", async () => {
    const key = uniqueName("prio");
    const busy = await app.sendTask("interop.sleep", [1.5]);
    // Wait until the worker has taken the sleep task off the queue (it is then busy).
    const endpoint = parseRedisUrl("broker", app.settings.broker);
    const broker = new Redis(endpoint.port, "127.0.0.1", { db: endpoint.db });
    try {
      for (let i = 0; i < 200 && (await broker.llen(queue)) > 0; i++)
        await new Promise((r) => setTimeout(r, 10));
    } finally {
      broker.disconnect();
    }
    const low = await Promise.all(
      [1, 2, 3].map((i) => app.sendTask("interop.record", [`p9-${i}`, key], {}, { priority: 9 })),
    );
    const high = await Promise.all(
      [1, 2, 3].map((i) => app.sendTask("interop.record", [`p0-${i}`, key], {}, { priority: 0 })),
    );
    await busy.get({ timeout: 20_000 });
    for (const r of [...low, ...high]) await r.get({ timeout: 20_000 });
    expect(await redis.lrange(key, 0, -1)).toEqual(["p0-1", "p0-2", "p0-3", "p9-1", "p9-2", "p9-3"]);
  });
});

describe("routing", () => {
  it("taskRoutes: an exact name goes to its queue", async () => {
    const result = await app.sendTask("interop.mul", [3, 4]);
    expect(await result.get({ timeout: 20_000 })).toBe(12);
    expect((await result.meta()).queue).toBe(routedExact);
  });

  it("taskRoutes: a glob pattern goes to its queue", async () => {
    const result = await app.sendTask("interop.xsum", [[1, 2, 3]]);
    expect(await result.get({ timeout: 20_000 })).toBe(6);
    expect((await result.meta()).queue).toBe(routedGlob);
  });

  it("an explicit queue wins over the default", async () => {
    const result = await app.sendTask("interop.add", [1, 1], {}, { queue: routedGlob });
    expect(await result.get({ timeout: 20_000 })).toBe(2);
    expect((await result.meta()).queue).toBe(routedGlob);
  });

  it("a named exchange is routed through the binding table", async () => {
    const result = await app.sendTask<{ request: { delivery_info: Record<string, unknown> } }>(
      "interop.headers",
      [],
      {},
      { exchange: routedExact, routingKey: routedExact },
    );
    const out = await result.get({ timeout: 20_000 });
    expect(out.request.delivery_info).toMatchObject({ exchange: routedExact, routing_key: routedExact });
  });
});

describe("message options seen by the Python worker", () => {
  it("custom headers show up on the request", async () => {
    const result = await app.sendTask<{ extra: Record<string, unknown> }>(
      "interop.headers",
      [],
      {},
      {
        headers: { "x-custom": "v", tenant: 42 },
      },
    );
    const out = await result.get({ timeout: 20_000 });
    expect(out.extra).toMatchObject({ "x-custom": "v", tenant: 42 });
  });

  it("shadow names the task in the worker's log", async () => {
    const shadow = uniqueName("shadow");
    const result = await app.sendTask<{ request: { shadow: string } }>("interop.headers", [], {}, { shadow });
    const out = await result.get({ timeout: 20_000 });
    expect(out.request.shadow).toBe(shadow);
    expect(worker.logs()).toContain(`Task ${shadow}[${result.id}] received`);
  });

  it("ignoreResult: the worker runs it and stores nothing", async () => {
    const key = uniqueName("ignored");
    const result = await app.sendTask("interop.record", ["ran", key], {}, { ignoreResult: true });
    const blocking = new Redis(backend);
    try {
      expect(await blocking.blpop(key, 20)).toEqual([key, "ran"]);
    } finally {
      blocking.disconnect();
    }
    // The result would be stored right after the task body returns; a later task on the same
    // solo worker finishing proves the first one has fully completed.
    await (await app.sendTask("interop.add", [0, 0])).get({ timeout: 20_000 });
    expect(await result.state()).toBe("PENDING");
  });

  it("taskId, priority and reply_to reach the worker as given", async () => {
    const taskId = uniqueName("id");
    const result = await app.sendTask<{ request: Record<string, unknown> }>(
      "interop.headers",
      [],
      {},
      {
        taskId,
        priority: 5,
        replyTo: "my-reply",
      },
    );
    expect(result.id).toBe(taskId);
    const out = await result.get({ timeout: 20_000 });
    expect(out.request).toMatchObject({ id: taskId, reply_to: "my-reply" });
    expect(out.request.delivery_info).toMatchObject({ priority: 5 });
  });
});

describe("serializers and compression accepted by Python", () => {
  it.each(["msgpack", "yaml"] as const)("serializer %s", async (serializer) => {
    const result = await app.sendTask("interop.echo", [1, "two", [3.5]], { k: null }, { serializer });
    expect(await result.get({ timeout: 20_000 })).toEqual([[1, "two", [3.5]], { k: null }]);
  });

  it.each(["zlib", "bzip2", "xz", "brotli"] as const)("compression %s", async (compression) => {
    const result = await app.sendTask("interop.echo", ["y".repeat(5000)], {}, { compression });
    const [args] = (await result.get({ timeout: 20_000 })) as [string[]];
    expect(args[0]).toBe("y".repeat(5000));
  });
});
