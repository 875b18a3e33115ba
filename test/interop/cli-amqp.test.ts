/**
 * The `celeriac` CLI, spawned as a user runs it (`node bin/celeriac.js ...`), with
 * `--broker amqp://… --result-backend redis://…` against a real Celery 5.7 worker on RabbitMQ:
 * call + result round trip, inspect ping and status answered by the Python worker's pidbox
 * over AMQP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CeleryWorker, startCeleryWorker } from "../support/celery.js";
import { celeriac } from "../support/cli-apps/run.js";
import { allocateRedisDb, amqpUrl, uniqueQueue } from "../support/services.js";

let broker: string;
let backend: string;
let worker: CeleryWorker;
const queue = uniqueQueue("cliamqp");

beforeAll(async () => {
  broker = await amqpUrl();
  backend = (await allocateRedisDb()).url;
  worker = await startCeleryWorker({ brokerUrl: broker, backendUrl: backend, queues: [queue] });
}, 90_000);

afterAll(async () => {
  await worker?.stop();
});

describe("celeriac --broker amqp:// against a Python Celery 5.7 worker on RabbitMQ", () => {
  it("call prints the task id and result prints the Python task's return value", async () => {
    const flags = ["--broker", broker, "--result-backend", backend];
    const call = await celeriac([...flags, "call", "interop.add", "--args", "[2, 40]", "--queue", queue]);
    expect(call.stderr).toBe("");
    expect(call.code).toBe(0);
    const id = call.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const result = await celeriac([...flags, "result", id, "--timeout", "30"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("42\n");
  });

  it("inspect ping is answered by the Python worker over the AMQP pidbox", async () => {
    const run = await celeriac(["--broker", broker, "inspect", "ping", "-d", worker.hostname, "-t", "5"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`->  ${worker.hostname}: OK\n        pong\n\n1 node online.\n`);
  });

  it("status lists the worker", async () => {
    const run = await celeriac(["--broker", broker, "status", "-d", worker.hostname, "-t", "5"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`->  ${worker.hostname}: OK\n\n1 node online.\n`);
  });
});
