/**
 * The `celeriac` CLI, spawned as a user runs it (`node bin/celeriac.js ...`), against a real
 * Celery 5.7 worker, one suite run per transport (cli-python-worker-redis.test.ts,
 * cli-python-worker-amqp.test.ts; Redis result backend): call + result round trip (URLs as flags
 * and from the environment), inspect ping/registered, status, control revoke, an absent node,
 * purge. Only the broker URL differs between the brokers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, startCeleryWorker } from "../../support/celery.js";
import { celeriac } from "../../support/cli-apps/run.js";
import type { BrokerTransport } from "../../support/own-broker.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../../support/services.js";

const BROKERS: Record<BrokerTransport, { label: string; url(): Promise<string> }> = {
  redis: { label: "Redis", url: async () => (await allocateRedisDb()).url },
  amqp: { label: "RabbitMQ", url: () => amqpUrl() },
};

export function defineCliPythonWorkerSuite(transport: BrokerTransport): void {
  const label = BROKERS[transport].label;
  let broker: string;
  let backend: string;
  let worker: CeleryWorker;
  const queue = uniqueQueue(`clipy-${transport}`);
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    broker = await BROKERS[transport].url();
    backend = (await allocateRedisDb()).url;
    env = { CELERY_BROKER_URL: broker, CELERY_RESULT_BACKEND: backend };
    worker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [queue] });
  }, 90_000);

  afterAll(async () => {
    await worker?.stop();
  });

  describe(`celeriac against a Python Celery 5.7 worker (${label})`, () => {
    it("call prints the task id and result prints the Python task's return value (URLs as flags, then from the environment)", async () => {
      const flags = ["--broker", broker, "--result-backend", backend];
      const call = await celeriac([...flags, "call", "interop.add", "--args", "[2, 40]", "--queue", queue]);
      expect(call.stderr).toBe("");
      expect(call.code).toBe(0);
      const id = call.stdout.trim();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const result = await celeriac(["result", id, "--timeout", "30"], env);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toBe("42\n");
    });

    it("call --kwargs and --countdown reach the Python task", async () => {
      const call = await celeriac(
        [
          "call",
          "interop.echo",
          "--args",
          '["x"]',
          "--kwargs",
          '{"k": [1, 2]}',
          "--queue",
          queue,
          "--countdown",
          "0.5",
        ],
        env,
      );
      expect(call.code).toBe(0);
      const result = await celeriac(["result", call.stdout.trim(), "--timeout", "30"], env);
      expect(result.code).toBe(0);
      // interop.echo returns [args, kwargs]: printed as Python's str(list).
      expect(result.stdout).toBe("[['x'], {'k': [1, 2]}]\n");
    });

    it("inspect ping prints Celery's reply block and the node count", async () => {
      const run = await celeriac(["inspect", "ping", "-d", worker.hostname, "-t", "5"], {
        CELERY_BROKER_URL: broker,
      });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`->  ${worker.hostname}: OK\n        pong\n\n1 node online.\n`);
    });

    it("inspect registered lists the Python tasks; --json gives {node: [...]}", async () => {
      const run = await celeriac(["inspect", "registered", "-d", worker.hostname, "-t", "5"], {
        CELERY_BROKER_URL: broker,
      });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`->  ${worker.hostname}: OK`);
      expect(run.stdout).toContain("    * interop.add");
      const json = await celeriac(["inspect", "registered", "-d", worker.hostname, "-t", "5", "-j"], {
        CELERY_BROKER_URL: broker,
      });
      expect(json.code).toBe(0);
      const replies = JSON.parse(json.stdout) as Record<string, string[]>;
      expect(replies[worker.hostname]).toContain("interop.add");
    });

    it("status lists the worker", async () => {
      const run = await celeriac(["status", "-d", worker.hostname, "-t", "5"], { CELERY_BROKER_URL: broker });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`->  ${worker.hostname}: OK\n\n1 node online.\n`);
    });

    it("control revoke puts the id in the worker's revoked set", async () => {
      const id = "cli-revoke-0000-0000-000000000001";
      const run = await celeriac(["control", "revoke", id, "-d", worker.hostname, "-t", "5"], {
        CELERY_BROKER_URL: broker,
      });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`->  ${worker.hostname}: OK`);
      expect(run.stdout).toContain(id);
      const revoked = await celeriac(["inspect", "revoked", "-d", worker.hostname, "-t", "5", "--json"], {
        CELERY_BROKER_URL: broker,
      });
      expect((JSON.parse(revoked.stdout) as Record<string, string[]>)[worker.hostname]).toContain(id);
    });

    it("inspect with no worker at the destination exits 69 with Celery's message", async () => {
      const run = await celeriac(["inspect", "ping", "-d", "nobody@nowhere", "-t", "0.5"], {
        CELERY_BROKER_URL: broker,
      });
      expect(run.code).toBe(69);
      expect(run.stderr).toBe("Error: No nodes replied within time constraint\n");
    });

    it("purge -f empties a queue nobody consumes and reports the count", async () => {
      const idle = uniqueQueue(`clipurge-${transport}`);
      for (let i = 0; i < 3; i++) {
        expect((await celeriac(["call", "interop.add", "--args", "[1, 1]", "--queue", idle], env)).code).toBe(
          0,
        );
      }
      const run = await celeriac(["purge", "-Q", idle, "-f"], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("Purged 3 messages from 1 known task queue.\n");
      const again = await celeriac(["purge", "-Q", idle, "-f"], env);
      expect(again.stdout).toBe("No messages purged from 1 queue.\n");
    });
  });
}
