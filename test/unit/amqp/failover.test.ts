/**
 * RabbitMQ failover lists (kombu `Connection(alternates, failover_strategy)`, 5.7.0): parsing and
 * settings, and the order in which AmqpConnection tries the nodes, against real closed ports (the
 * kernel refuses each connect; no broker is imitated). The failover itself, against a real
 * three-node cluster, is in test/interop/amqp-cluster.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Celery } from "../../../src/app.js";
import { ConfigError, ConnectionLostError } from "../../../src/errors.js";
import { AmqpConnection } from "../../../src/transports/amqp/connection.js";
import { parseAmqpUrls } from "../../../src/transports/amqp/url.js";
import { brokerReconnectPolicy } from "../../../src/transports/retry-policy.js";
import { freePort } from "../../support/ports.js";

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("no ConfigError");
}

describe("failover lists: parsing and settings", () => {
  it("each part of url1;url2;url3 is a URL of its own (credentials, port, vhost)", () => {
    const endpoints = parseAmqpUrls("broker", "amqp://a:pa@h1:5673/v1;amqps://h2;pyamqp://b:pb@h3//");
    expect(
      endpoints.map((e) => [e.hostname, e.port, e.username, e.password, e.vhost, e.tls !== null]),
    ).toEqual([
      ["h1", 5673, "a", "pa", "v1", false],
      ["h2", 5671, "guest", "guest", "/", true],
      ["h3", 5672, "b", "pb", "/", false],
    ]);
  });

  it("a list of URLs is the same as the ; string", () => {
    const app = new Celery({ broker: ["amqp://h1", "amqp://h2"] });
    expect(app.settings.broker).toBe("amqp://h1;amqp://h2");
    void app.close();
  });

  it("bad parts, an empty list and an unknown strategy are ConfigErrors naming the option, passwords masked", () => {
    const redisPart = configError(() => new Celery({ broker: "amqp://u:s3cret@h1;redis://u:s3cret@h2" }));
    expect(redisPart.option).toBe("broker");
    expect(redisPart.message).toMatch(/part 2 of the failover list.*not an AMQP URL/);
    expect(redisPart.message).not.toContain("s3cret");
    const empty = configError(() => new Celery({ broker: "amqp://u:s3cret@h1;;amqp://h3" }));
    expect(empty.message).toMatch(/part 2 of the failover list is empty/);
    expect(empty.message).not.toContain("s3cret");
    const badPort = configError(() => new Celery({ broker: ["amqp://h1", "amqp://u:s3cret@h2:notaport"] }));
    expect(badPort.message).toMatch(/part 2/);
    expect(badPort.message).not.toContain("s3cret");
    expect(configError(() => new Celery({ broker: [] })).option).toBe("broker");
    const strategy = configError(
      () => new Celery({ broker: "amqp://h1;amqp://h2", brokerFailoverStrategy: "random" as "shuffle" }),
    );
    expect(strategy.option).toBe("brokerFailoverStrategy");
    expect(strategy.message).toMatch(/round-robin.*shuffle/);
  });
});

describe("failover order (kombu ensure_connection)", () => {
  async function attempts(strategy: "round-robin" | "shuffle", maxRetries: number) {
    const ports = [await freePort(), await freePort(), await freePort()];
    const url = ports.map((p, i) => `amqp://user:pw${i}@127.0.0.1:${p}/`).join(";");
    const endpoints = parseAmqpUrls("broker", url, { connectTimeout: 1 });
    const reports: string[] = [];
    const connection = new AmqpConnection({
      endpoint: endpoints[0] as (typeof endpoints)[number],
      endpoints,
      failoverStrategy: strategy,
      policy: brokerReconnectPolicy({ brokerConnectionMaxRetries: maxRetries }, { initialMs: 20, maxMs: 40 }),
      onError: (err) => reports.push(err.message),
    });
    const failure = await connection.model().then(
      () => null,
      (err: unknown) => err,
    );
    await connection.close();
    return { ports, reports, failure };
  }

  it("round-robin: the next node at once, the backoff sleep only after a whole round; the last error names every node, masked", async () => {
    const { ports, reports, failure } = await attempts("round-robin", 7);
    const tried = reports.map((r) => Number(/127\.0\.0\.1:(\d+)/.exec(r)?.[1]));
    expect(tried).toEqual([0, 1, 2, 0, 1, 2, 0].map((i) => ports[i]));
    const slept = reports.map((r) => !/in 0\.00s/.test(r));
    expect(slept).toEqual([false, false, true, false, false, true, false]);
    expect(failure).toBeInstanceOf(ConnectionLostError);
    const message = (failure as Error).message;
    for (const port of ports) expect(message).toContain(`:${port}`);
    expect(message).toMatch(/gave up after 7 retries/);
    expect(`${message}${reports.join("")}`).not.toMatch(/pw\d/);
  });

  it("shuffle: every node is tried, in a random order", async () => {
    const { ports, reports } = await attempts("shuffle", 30);
    const tried = new Set(reports.map((r) => Number(/127\.0\.0\.1:(\d+)/.exec(r)?.[1])));
    expect(tried).toEqual(new Set(ports));
  });
});

describe("no node of the list answers", () => {
  it("sendTask rejects with one ConnectionLostError naming every node, passwords masked, after bounded retries", async () => {
    const ports = [await freePort(), await freePort()];
    const app = new Celery({
      broker: ports.map((p) => `amqp://user:s3cret@127.0.0.1:${p}//`),
      brokerConnectionMaxRetries: 2,
      brokerConnectionTimeout: 1,
      taskPublishRetryPolicy: { maxRetries: 0 },
    });
    try {
      const err = await app.sendTask("t", []).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionLostError);
      const message = (err as Error).message;
      for (const port of ports) expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).not.toContain("s3cret");
    } finally {
      await app.close();
    }
  }, 30_000);

  it("a worker does not start: one ConnectionLostError naming every node and the retry bound, passwords masked", async () => {
    const ports = [await freePort(), await freePort()];
    const app = new Celery({
      broker: `amqp://user:s3cret@127.0.0.1:${ports[0]}//;amqp://user:s3cret@127.0.0.1:${ports[1]}//`,
      brokerConnectionMaxRetries: 2,
      brokerConnectionTimeout: 1,
    });
    const worker = app.worker({ withoutMingle: true });
    try {
      const err = await worker.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionLostError);
      const message = (err as Error).message;
      for (const port of ports) expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).toContain("broker_connection_max_retries=2");
      expect(message).not.toContain("s3cret");
    } finally {
      await worker.close({ timeoutMs: 2000 }).catch(() => {});
      await app.close();
    }
  }, 30_000);
});
