/**
 * Worker figures. Redis: the built package's worker at its defaults and at Python's prefetch
 * (concurrency 2 × multiplier 4, the prefork -c 2 it is compared to) against Celery 5.7 prefork
 * -c 2 and celery-node 0.5.9, each draining the same backlog of `interop.add` tasks with results
 * stored; the Celeriac default run's peak RSS is the memory figure. AMQP: the same against the
 * broker's own ceiling, raw amqplib consume + ack of the same messages at the same prefetch, acked
 * one by one (kombu's way) and one `multiple=true` ack per turn (Celeriac's way); the ceiling is
 * the faster of the two.
 */
import { runProcJson, startCeleriacWorker, startCeleryNodeWorker, startCeleryWorker } from "./common.js";
import { type DrainResult, drain, fill, flushDb, WARM_UP_TASKS } from "./drain.js";
import { type BenchContext, type Contender, type FigureBody, fmt } from "./figure.js";

/** Celeriac's defaults: concurrency 16 × prefetch multiplier 4. */
const DEFAULT_PREFETCH = 64;
const DEFAULT_NOTE =
  "built package, `app.worker({ queues })`: concurrency 16, prefetch ×4, remote control on, task events off";
const AT_PYTHON_NOTE = "built package, concurrency 2, prefetch ×4 (= prefork -c 2's 8 reserved)";
const PREFORK_NOTE = "`celery worker -P prefork -c 2`, prefetch ×4, without mingle/gossip/heartbeat";

function tasksOf(ctx: BenchContext): number {
  return ctx.quick ? 200 : 10_000;
}

/**
 * The same ratio without the first WARM_UP_TASKS results of each contender (V8 compiling
 * Celeriac's code on this 2-core box): reported, the target row above counts every task.
 */
function warmChecks(celeriac: DrainResult, prefork: DrainResult): FigureBody["checks"] {
  if (celeriac.warmRate === null || prefork.warmRate === null) return [];
  return [
    {
      label: `Celeriac / Python prefork -c 2, after the first ${fmt(WARM_UP_TASKS)} tasks`,
      value: celeriac.warmRate / prefork.warmRate,
      format: "times",
      target: "reported",
      met: null,
    },
  ];
}

export async function redisWorker(ctx: BenchContext): Promise<FigureBody[]> {
  const tasks = tasksOf(ctx);
  const broker = ctx.servers.redisUrl(2);
  const backend = ctx.servers.redisUrl(3);
  const run = async (label: string, start: Parameters<typeof drain>[0]): Promise<DrainResult> => {
    ctx.log(`  ${label}: ${tasks} tasks`);
    await flushDb(broker);
    await flushDb(backend);
    await fill(broker, backend, ["bench"], tasks);
    const result = await drain(start, backend, tasks);
    ctx.log(
      `    ${result.rate.toFixed(0)} tasks/s, peak RSS ${result.peakRssMb.toFixed(0)} MB, ${result.cpuMsPerTask.toFixed(3)} CPU ms/task`,
    );
    return result;
  };
  const queues = ["bench"];
  const celeriac = await run("Celeriac default", () => startCeleriacWorker({ broker, backend, queues }));
  const atPython = await run("Celeriac at Python's prefetch", () =>
    startCeleriacWorker({ broker, backend, queues, concurrency: 2, prefetchMultiplier: 4 }),
  );
  const prefork = await run("Python prefork -c 2", () =>
    startCeleryWorker({ broker, backend, queues, pool: "prefork", concurrency: 2 }),
  );
  const celeryNode = await run("celery-node 0.5.9", () =>
    startCeleryNodeWorker({ broker, backend, queue: "bench" }),
  );
  const bar = (name: string, r: DrainResult, note: string): Contender => ({
    name,
    value: r.rate,
    unit: "tasks/s",
    note,
    peakRssMb: r.peakRssMb,
    cpuMsPerTask: r.cpuMsPerTask,
  });
  const rate: FigureBody = {
    id: "redis-worker",
    short: "Redis worker",
    title: `Redis worker: ${fmt(tasks)} tasks drained, results stored`,
    counts: { tasks },
    contenders: [
      bar("Celeriac (defaults)", celeriac, DEFAULT_NOTE),
      bar("Celeriac (Python's prefetch)", atPython, AT_PYTHON_NOTE),
      bar("Python prefork -c 2", prefork, PREFORK_NOTE),
      bar("celery-node 0.5.9", celeryNode, "`createWorker(...).start()`: BRPOP, no ack emulation"),
    ],
    checks: [
      {
        label: "Celeriac / Python prefork -c 2",
        value: celeriac.rate / prefork.rate,
        format: "times",
        target: "≥ 15×",
        met: celeriac.rate / prefork.rate >= 15,
      },
      ...warmChecks(celeriac, prefork),
      {
        label: "Celeriac at Python's prefetch / prefork -c 2",
        value: atPython.rate / prefork.rate,
        format: "times",
        target: "reported",
        met: null,
      },
      {
        label: "Celeriac / celery-node 0.5.9",
        value: celeriac.rate / celeryNode.rate,
        format: "times",
        target: "≥ 1.5×",
        met: celeriac.rate / celeryNode.rate >= 1.5,
      },
    ],
  };
  const rssBar = (name: string, mb: number, note: string): Contender => ({
    name,
    value: mb,
    unit: "MB",
    note,
  });
  const rss: FigureBody = {
    id: "worker-rss",
    short: "Worker memory",
    title: `Worker peak RSS draining ${fmt(tasks)} tasks (Redis)`,
    counts: { tasks },
    contenders: [
      rssBar("Celeriac (defaults)", celeriac.peakRssMb, DEFAULT_NOTE),
      rssBar("Celeriac (Python's prefetch)", atPython.peakRssMb, AT_PYTHON_NOTE),
      rssBar("celery-node 0.5.9", celeryNode.peakRssMb, "one node process"),
      rssBar("Python prefork main process", prefork.peakMainRssMb, "the consumer process alone"),
      rssBar("Python prefork -c 2, all processes", prefork.peakRssMb, "main + 2 pool children"),
    ],
    checks: [
      {
        label: "Celeriac worker peak RSS",
        value: celeriac.peakRssMb,
        format: "MB",
        target: "≤ 90 MB",
        met: celeriac.peakRssMb <= 90,
      },
    ],
  };
  return [rate, rss];
}

/** bench/proc/raw-consume.mjs's answer. */
interface RawConsume {
  rate: number;
  cpuMsPerMsg: number;
}

export async function amqpWorker(ctx: BenchContext): Promise<FigureBody> {
  const tasks = tasksOf(ctx);
  const broker = ctx.servers.amqpUrl;
  const backend = ctx.servers.redisUrl(4);
  const queues = ["bench-amqp"];
  const prepare = async (label: string) => {
    ctx.log(`  ${label}: ${tasks} tasks`);
    await flushDb(backend);
    await fill(broker, backend, queues, tasks);
  };
  const rawConsume = async (ackMode: "each" | "turn") => {
    await prepare(`raw amqplib consume + ack (${ackMode})`);
    const result = await runProcJson<RawConsume>("raw-consume.mjs", [
      broker,
      "bench-amqp",
      String(tasks),
      String(DEFAULT_PREFETCH),
      ackMode,
    ]);
    ctx.log(`    ${result.rate.toFixed(0)} msgs/s, ${result.cpuMsPerMsg.toFixed(3)} CPU ms/msg`);
    return result;
  };
  const rawEach = await rawConsume("each");
  const rawTurn = await rawConsume("turn");
  // The broker's consume+ack limit at this prefetch is the faster of the two ways to ack.
  const ceiling = Math.max(rawEach.rate, rawTurn.rate);
  const run = async (label: string, start: Parameters<typeof drain>[0]) => {
    await prepare(label);
    const result = await drain(start, backend, tasks);
    ctx.log(`    ${result.rate.toFixed(0)} tasks/s`);
    return result;
  };
  const celeriac = await run("Celeriac default", () => startCeleriacWorker({ broker, backend, queues }));
  const prefork = await run("Python prefork -c 2", () =>
    startCeleryWorker({ broker, backend, queues, pool: "prefork", concurrency: 2 }),
  );
  return {
    id: "amqp-worker",
    short: "AMQP worker",
    title: `RabbitMQ worker: ${fmt(tasks)} tasks drained, results stored in Redis`,
    counts: { tasks, rawPrefetch: DEFAULT_PREFETCH },
    contenders: [
      {
        name: "raw amqplib consume + ack per turn",
        value: rawTurn.rate,
        unit: "msgs/s",
        note: `basic.qos ${DEFAULT_PREFETCH} (Celeriac's default), one basic.ack multiple=true per event-loop turn (as Celeriac acks), no task, no result`,
        cpuMsPerTask: rawTurn.cpuMsPerMsg,
      },
      {
        name: "raw amqplib consume + ack each",
        value: rawEach.rate,
        unit: "msgs/s",
        note: `basic.qos ${DEFAULT_PREFETCH}, one basic.ack per message (as kombu's Message.ack), no task, no result`,
        cpuMsPerTask: rawEach.cpuMsPerMsg,
      },
      {
        name: "Celeriac (defaults)",
        value: celeriac.rate,
        unit: "tasks/s",
        note: DEFAULT_NOTE,
        cpuMsPerTask: celeriac.cpuMsPerTask,
      },
      {
        name: "Python prefork -c 2",
        value: prefork.rate,
        unit: "tasks/s",
        note: PREFORK_NOTE,
        cpuMsPerTask: prefork.cpuMsPerTask,
      },
    ],
    checks: [
      {
        label: "Celeriac / raw consume + ack ceiling (the faster ack mode)",
        value: celeriac.rate / ceiling,
        format: "ratio",
        target: "≥ 60 %",
        met: celeriac.rate / ceiling >= 0.6,
      },
      {
        label: "Celeriac / raw consume + one ack per message",
        value: celeriac.rate / rawEach.rate,
        format: "ratio",
        target: "reported",
        met: null,
      },
      {
        label: "Celeriac / Python prefork -c 2",
        value: celeriac.rate / prefork.rate,
        format: "times",
        target: "reported",
        met: null,
      },
    ],
  };
}
