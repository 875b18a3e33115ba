/**
 * RabbitMQ benchmark (issue 6, item 6), one run on a RabbitMQ node this script starts itself
 * (plus a private redis-server for results):
 *
 *   producer  (a) Celeriac `sendTask` x N, publisher confirms on, all issued at once
 *             (b) Python Celery 5.7 `send_task` loop x N (py-amqp, timed inside Python)
 *             (c) raw amqplib ConfirmChannel: N `publish` of the same pre-built message, then
 *                 `waitForConfirms` (the broker's own limit for persistent confirmed messages)
 *   worker    Python fills queue "bench" with M `interop.add` tasks, then one worker at a time
 *             drains it with results in Redis: (d) the Celeriac worker process
 *             (test/support/ts-worker/worker-main.ts, concurrency 64, prefetch x4) and
 *             (e) Python Celery prefork -c 2. Rate = M / (last - first date_done).
 *             For scale, the broker's delivery ceiling: raw amqplib consume + ack of M messages.
 *
 *   npx tsx bench/amqp.ts [--tasks 20000] [--worker-tasks 10000] [--rounds 3]
 *
 * Producer figures are the median of `rounds` alternating Celeriac/raw bursts on emptied queues.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { connect } from "amqplib";
import { Redis } from "ioredis";
import { Celery } from "../src/app.js";
import { startRabbitMq } from "../test/support/servers/rabbitmq.js";
import { startRedis } from "../test/support/servers/redis.js";
import { APP_DIR, benchPythonEnv, option as opt, ROOT, runPython, VENV } from "./common.js";

const TASKS = Number(opt("tasks", "20000"));
const WORKER_TASKS = Number(opt("worker-tasks", "10000"));
const ROUNDS = Number(opt("rounds", "3"));

async function purge(broker: string, queues: string[]): Promise<void> {
  const connection = await connect(broker);
  connection.on("error", () => {});
  try {
    const channel = await connection.createChannel();
    channel.on("error", () => {});
    for (const q of queues) await channel.deleteQueue(q);
  } finally {
    await connection.close();
  }
}

/** Median of the rounds: RabbitMQ shares the 2 cores with the publisher, single runs are noisy. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function producerFigures(broker: string, backend: string): Promise<Record<string, number>> {
  // (a) Celeriac sendTask with confirms (the default), N at once.
  const app = new Celery({ broker, backend, taskDefaultQueue: "bench-ts" });
  const celeriacBurst = async (n: number) => {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) sends.push(app.sendTask("interop.add", [i, i]));
    await Promise.all(sends);
  };
  // (c) raw amqplib confirm channel, same message bytes/headers/properties, same topology shape.
  const message = app.prepareTask("interop.add", [1, 1], {}).message;
  const connection = await connect(broker);
  connection.on("error", () => {});
  const channel = await connection.createConfirmChannel();
  channel.on("error", () => {});
  await channel.assertExchange("bench-raw", "direct", { durable: true });
  await channel.assertQueue("bench-raw", { durable: true });
  await channel.bindQueue("bench-raw", "bench-raw", "bench-raw");
  const body = Buffer.from(message.body);
  const options = {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: message.headers,
    deliveryMode: 2,
    priority: 0,
    correlationId: String(message.properties.correlation_id ?? ""),
  };
  const rawBurst = async (n: number) => {
    for (let i = 0; i < n; i++) channel.publish("bench-raw", "bench-raw", body, options);
    await channel.waitForConfirms();
  };
  // Warm-up (connections, declarations, JIT) outside the timing.
  for (let round = 0; round < 2; round++) {
    await celeriacBurst(5000);
    await rawBurst(5000);
  }
  await channel.purgeQueue("bench-raw");
  await channel.purgeQueue("bench-ts");
  // Alternate the two, ROUNDS times, each on an empty queue.
  const celeriac: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t0 = performance.now();
    await celeriacBurst(TASKS);
    celeriac.push(TASKS / ((performance.now() - t0) / 1000));
    await channel.purgeQueue("bench-ts");
    t0 = performance.now();
    await rawBurst(TASKS);
    raw.push(TASKS / ((performance.now() - t0) / 1000));
    await channel.purgeQueue("bench-raw");
  }
  await connection.close();
  await app.close();

  // (b) Python Celery send_task loop (py-amqp; Celery does not enable confirm_publish by default).
  const python_ = Number(
    await runPython(
      `
import time
from interop_app import app
for i in range(500):
    app.send_task("interop.add", (i, i), queue="bench-py")
n = ${TASKS}
t0 = time.perf_counter()
for i in range(n):
    app.send_task("interop.add", (i, i), queue="bench-py")
print(n / (time.perf_counter() - t0))
`,
      benchPythonEnv(broker, backend),
    ),
  );
  await purge(broker, ["bench-ts", "bench-raw", "bench-py"]);
  console.log(
    `producer rounds (msg/s): celeriac ${celeriac.map((x) => x.toFixed(0)).join(", ")}; raw ${raw.map((x) => x.toFixed(0)).join(", ")}`,
  );
  const drainPerSec = await rawConsumeRate(broker, body, options);
  return {
    celeriacPerSec: median(celeriac),
    rawConfirmPerSec: median(raw),
    pythonPerSec: python_,
    drainPerSec,
  };
}

/**
 * The broker's own delivery ceiling for the worker figures: raw amqplib consuming the same
 * message with prefetch 256 and one basic.ack per message, no task run, no result stored.
 */
async function rawConsumeRate(
  broker: string,
  message: Buffer,
  options: Record<string, unknown>,
): Promise<number> {
  const connection = await connect(broker);
  connection.on("error", () => {});
  try {
    const pub = await connection.createConfirmChannel();
    pub.on("error", () => {});
    await pub.assertQueue("bench-drain", { durable: true });
    for (let i = 0; i < WORKER_TASKS; i++) pub.sendToQueue("bench-drain", message, options);
    await pub.waitForConfirms();
    const channel = await connection.createChannel();
    channel.on("error", () => {});
    await channel.prefetch(256);
    let seen = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      void channel.consume("bench-drain", (msg) => {
        if (msg === null) return;
        channel.ack(msg);
        if (++seen === WORKER_TASKS) resolve();
      });
    });
    const rate = WORKER_TASKS / ((performance.now() - t0) / 1000);
    await channel.deleteQueue("bench-drain");
    return rate;
  } finally {
    await connection.close();
  }
}

async function workerRate(
  name: string,
  start: () => ChildProcess,
  broker: string,
  backend: string,
): Promise<{ name: string; rate: number; seconds: number }> {
  const results = new Redis(backend);
  await results.flushdb();
  await runPython(
    `
from interop_app import app
with app.producer_or_acquire() as producer:
    for i in range(${WORKER_TASKS}):
        app.send_task("interop.add", (i, 1), queue="bench", producer=producer)
print("ok")
`,
    benchPythonEnv(broker, backend),
  );
  const child = start();
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const deadline = Date.now() + 600_000;
  while ((await results.dbsize()) < WORKER_TASKS) {
    if (child.exitCode !== null) throw new Error(`${name} exited early:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name}: not done in 600 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  const [count, first, last] = JSON.parse(
    await runPython(
      `
import json, redis
from datetime import datetime
r = redis.Redis.from_url(${JSON.stringify(backend)})
ds = []
for k in r.scan_iter("celery-task-meta-*", count=1000):
    m = json.loads(r.get(k))
    if m["status"] == "SUCCESS":
        ds.append(datetime.fromisoformat(m["date_done"]).timestamp())
print(json.dumps([len(ds), min(ds), max(ds)]))
`,
      process.env,
    ),
  ) as [number, number, number];
  results.disconnect();
  return { name, rate: count / (last - first), seconds: last - first };
}

async function main(): Promise<void> {
  const rabbit = await startRabbitMq();
  const redis = await startRedis();
  const broker = rabbit.url;
  const backend = redis.dbUrl(1);
  try {
    const p = await producerFigures(broker, backend);
    const spawnQuiet = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) =>
      spawn(cmd, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
    const ts = await workerRate(
      "Celeriac TS worker (concurrency 64, prefetch x4)",
      () =>
        spawnQuiet(
          process.execPath,
          ["--import", "tsx", join(ROOT, "test/support/ts-worker/worker-main.ts")],
          {
            ...process.env,
            TSW_BROKER: broker,
            TSW_BACKEND: backend,
            TSW_QUEUES: "bench",
            TSW_CONCURRENCY: "64",
            TSW_PREFETCH: "4",
            TSW_LOG_LEVEL: "warn",
          },
          ROOT,
        ),
      broker,
      backend,
    );
    const prefork = await workerRate(
      "Python Celery 5.7 prefork -c 2",
      () =>
        spawnQuiet(
          join(VENV, "celery"),
          [
            "-A",
            "interop_app",
            "worker",
            "-P",
            "prefork",
            "-c",
            "2",
            "-Q",
            "bench",
            "-l",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
          ],
          benchPythonEnv(broker, backend),
          APP_DIR,
        ),
      broker,
      backend,
    );
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)} %`;
    console.log(`\nRabbitMQ ${broker}, Redis results ${backend}, node ${process.version}`);
    console.log(`\nproducer, ${TASKS} persistent messages (median of ${ROUNDS}):`);
    console.log(
      "| Celeriac sendTask (confirms) | Python send_task | raw amqplib confirm | Celeriac / raw | Celeriac / Python |",
    );
    console.log("|---:|---:|---:|---:|---:|");
    console.log(
      `| ${p.celeriacPerSec?.toFixed(0)} /s | ${p.pythonPerSec?.toFixed(0)} /s | ${p.rawConfirmPerSec?.toFixed(0)} /s | ${pct(p.celeriacPerSec ?? 0, p.rawConfirmPerSec ?? 1)} | ${((p.celeriacPerSec ?? 0) / (p.pythonPerSec ?? 1)).toFixed(1)}x |`,
    );
    console.log(`\nworker, ${WORKER_TASKS} tasks (interop.add, results in Redis):`);
    console.log("| worker | tasks/s | seconds | x prefork |");
    console.log("|---|---:|---:|---:|");
    console.log(
      `| (raw amqplib consume + ack, no task, no result: broker ceiling) | ${p.drainPerSec?.toFixed(0)} | | |`,
    );
    for (const r of [ts, prefork])
      console.log(
        `| ${r.name} | ${r.rate.toFixed(0)} | ${r.seconds.toFixed(2)} | ${(r.rate / prefork.rate).toFixed(1)} |`,
      );
  } finally {
    await redis.dispose();
    await rabbit.dispose();
  }
}

await main();
