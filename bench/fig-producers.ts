/**
 * Producer figures: the built package's `sendTask` against the broker's raw rate for the same
 * message (Redis: pipelined LPUSH of the same envelope; RabbitMQ: an amqplib confirm channel
 * publishing the same body and properties), alternated in one process, median of the rounds; and
 * Python Celery 5.7's `send_task` loop for reference.
 */
import { benchPythonEnv, median, runProcJson, runPython } from "./common.js";
import { type BenchContext, type FigureBody, fmt } from "./figure.js";

interface Rounds {
  celeriac: number[];
  raw: number[];
  /** CPU µs per message of the producing process, per round. */
  celeriacCpuUs: number[];
  rawCpuUs: number[];
}

function counts(ctx: BenchContext): { tasks: number; rounds: number; pythonTasks: number } {
  return ctx.quick
    ? { tasks: 200, rounds: 1, pythonTasks: 50 }
    : { tasks: 20_000, rounds: 3, pythonTasks: 5_000 };
}

/** Python's `send_task` loop after 200 warm-up sends: rate and CPU ms per send, timed inside Python. */
async function pythonSendLoop(
  broker: string,
  backend: string,
  tasks: number,
): Promise<{ rate: number; cpuMs: number }> {
  const out = await runPython(
    `
import json, time
from interop_app import app
for i in range(200):
    app.send_task("interop.add", (i, i), queue="bench-py")
n = ${tasks}
t0, c0 = time.perf_counter(), time.process_time()
for i in range(n):
    app.send_task("interop.add", (i, i), queue="bench-py")
print(json.dumps([n / (time.perf_counter() - t0), (time.process_time() - c0) * 1000 / n]))
`,
    benchPythonEnv(broker, backend),
  );
  const [rate, cpuMs] = JSON.parse(out) as [number, number];
  return { rate, cpuMs };
}

function body(
  id: string,
  title: string,
  c: ReturnType<typeof counts>,
  rounds: Rounds,
  python: { rate: number; cpuMs: number },
  raw: { name: string; note: string; target: number; issued: string },
): FigureBody {
  const celeriac = median(rounds.celeriac);
  const rawRate = median(rounds.raw);
  return {
    id,
    title,
    short: title.replace(/ \(.*\)$/, ""),
    counts: c,
    contenders: [
      {
        name: "Celeriac sendTask",
        value: celeriac,
        unit: "tasks/s",
        note: `built package, ${fmt(c.tasks)} sends ${raw.issued}, median of ${c.rounds}`,
        cpuMsPerTask: median(rounds.celeriacCpuUs) / 1000,
      },
      {
        name: raw.name,
        value: rawRate,
        unit: "msgs/s",
        note: raw.note,
        cpuMsPerTask: median(rounds.rawCpuUs) / 1000,
      },
      {
        name: "Python send_task loop",
        value: python.rate,
        unit: "tasks/s",
        note: `Celery 5.7, ${fmt(c.pythonTasks)} sends in a loop`,
        cpuMsPerTask: python.cpuMs,
      },
    ],
    checks: [
      {
        label: `Celeriac / ${raw.name}`,
        value: celeriac / rawRate,
        format: "ratio",
        target: `≥ ${raw.target * 100} %`,
        met: celeriac / rawRate >= raw.target,
      },
      {
        label: "Celeriac / Python",
        value: celeriac / python.rate,
        format: "times",
        target: "reported",
        met: null,
      },
    ],
    detail: { rounds },
  };
}

/** One producer figure: the package and the raw client alternated in one process, then Python. */
async function producerFigure(
  ctx: BenchContext,
  broker: string,
  proc: string,
  id: string,
  title: string,
  raw: Parameters<typeof body>[5],
): Promise<FigureBody> {
  const c = counts(ctx);
  const backend = ctx.servers.redisUrl(1);
  ctx.log(`  Celeriac vs ${raw.name}: ${c.rounds} × ${c.tasks}`);
  const rounds = await runProcJson<Rounds>(proc, [broker, backend, String(c.tasks), String(c.rounds)]);
  ctx.log(`  Python send_task loop: ${c.pythonTasks}`);
  const python = await pythonSendLoop(broker, backend, c.pythonTasks);
  return body(id, title, c, rounds, python, raw);
}

export function redisProducer(ctx: BenchContext): Promise<FigureBody> {
  return producerFigure(
    ctx,
    ctx.servers.redisUrl(0),
    "produce-redis.mjs",
    "redis-producer",
    "Redis producer",
    {
      name: "raw pipelined LPUSH",
      note: "one ioredis pipeline of LPUSH of the envelope the package pushed",
      target: 0.7,
      issued: "issued at once",
    },
  );
}

export function amqpProducer(ctx: BenchContext): Promise<FigureBody> {
  return producerFigure(
    ctx,
    ctx.servers.amqpUrl,
    "produce-amqp.mjs",
    "amqp-producer",
    "AMQP producer (publisher confirms on)",
    {
      name: "raw amqplib confirm publish",
      note: "ConfirmChannel.publish of the same body and properties, waitForConfirms per 5 000",
      target: 0.9,
      issued: "issued 5 000 at a time",
    },
  );
}
