/**
 * 200 queues consumed at once (Redis): the built package's worker (defaults) draining the same
 * number of tasks from one queue and spread over 200 queues, and Python Celery 5.7 prefork -c 2
 * on the 200 queues. Fairness over time: when a quarter, half and three quarters of all tasks are
 * done (by stored date_done), the share of each queue consumed so far; a fair worker keeps every
 * queue near the same share (kombu's round-robin cycle: Python's figure is the reference).
 */
import { startCeleriacWorker, startCeleryWorker } from "./common.js";
import { type Done, drain, fill, flushDb } from "./drain.js";
import { type BenchContext, type FigureBody, fmt } from "./figure.js";

const QUEUES = 200;
const QUARTERS = [25, 50, 75];
/** Celeriac's fairness target: every queue within this many points of the others at each quarter. */
const MAX_SPREAD = 10;

interface Quarter {
  donePct: number;
  minPct: number;
  maxPct: number;
  spread: number;
}

/** Per-queue consumed share at each quarter of the run; ids are `<prefix>.<queue index>.<n>`. */
export function fairness(done: readonly Done[], queues: number, perQueue: number): Quarter[] {
  return QUARTERS.map((donePct) => {
    const counts = new Array<number>(queues).fill(0);
    for (const d of done.slice(0, Math.floor((donePct / 100) * done.length))) {
      const q = Number(d.id.split(".")[1]);
      counts[q] = (counts[q] ?? 0) + 1;
    }
    const pcts = counts.map((c) => (100 * c) / perQueue);
    const minPct = Math.min(...pcts);
    const maxPct = Math.max(...pcts);
    return { donePct, minPct, maxPct, spread: maxPct - minPct };
  });
}

export async function manyQueues(ctx: BenchContext): Promise<FigureBody[]> {
  const perQueue = ctx.quick ? 2 : 50;
  const pythonPerQueue = ctx.quick ? 1 : 20;
  const tasks = QUEUES * perQueue;
  const broker = ctx.servers.redisUrl(7);
  const backend = ctx.servers.redisUrl(8);
  const queues = Array.from({ length: QUEUES }, (_, i) => `bench-q${i}`);
  const run = async (
    label: string,
    names: readonly string[],
    each: number,
    start: Parameters<typeof drain>[0],
  ) => {
    ctx.log(`  ${label}: ${names.length} queue(s) × ${each}`);
    await flushDb(broker);
    await flushDb(backend);
    await fill(broker, backend, names, each, "f");
    const result = await drain(start, backend, names.length * each);
    ctx.log(`    ${result.rate.toFixed(0)} tasks/s`);
    return result;
  };
  const one = await run("Celeriac, one queue", ["bench-q0"], tasks, () =>
    startCeleriacWorker({ broker, backend, queues: ["bench-q0"] }),
  );
  const many = await run("Celeriac, 200 queues", queues, perQueue, () =>
    startCeleriacWorker({ broker, backend, queues }),
  );
  const python = await run("Python prefork -c 2, 200 queues", queues, pythonPerQueue, () =>
    startCeleryWorker({ broker, backend, queues, pool: "prefork", concurrency: 2 }),
  );
  const celeriacFair = fairness(many.done, QUEUES, perQueue);
  const pythonFair = fairness(python.done, QUEUES, pythonPerQueue);
  // 0 % and 100 % are true by definition (nothing / everything consumed): they anchor the chart.
  const curve = (qs: readonly Quarter[], key: "minPct" | "maxPct"): [number, number][] => [
    [0, 0],
    ...qs.map((q): [number, number] => [q.donePct, q[key]]),
    [100, 100],
  ];
  const worst = (qs: readonly Quarter[]) => Math.max(...qs.map((q) => q.spread));
  const ratio = many.rate / one.rate;
  const rate: FigureBody = {
    id: "queues-200",
    short: "200 queues",
    title: `200 queues consumed at once (Redis), ${fmt(tasks)} tasks`,
    counts: { queues: QUEUES, tasks, pythonTasks: QUEUES * pythonPerQueue },
    contenders: [
      { name: "Celeriac, one queue", value: one.rate, unit: "tasks/s", note: `${tasks} tasks in one queue` },
      {
        name: "Celeriac, 200 queues",
        value: many.rate,
        unit: "tasks/s",
        note: `${perQueue} tasks per queue`,
      },
      {
        name: "Python prefork -c 2, 200 queues",
        value: python.rate,
        unit: "tasks/s",
        note: `${pythonPerQueue} tasks per queue`,
      },
    ],
    checks: [
      {
        label: "Celeriac 200 queues / one queue",
        value: ratio,
        format: "ratio",
        target: "≥ 90 %",
        met: ratio >= 0.9,
      },
    ],
  };
  const fair: FigureBody = {
    id: "queues-200-fairness",
    short: "200 queues, fairness",
    title: "200 queues: share of each queue consumed over time",
    counts: { queues: QUEUES, tasks, pythonTasks: QUEUES * pythonPerQueue },
    contenders: [
      {
        name: "Celeriac, worst spread",
        value: worst(celeriacFair),
        unit: "pts",
        note: celeriacFair
          .map((q) => `${q.donePct} %: ${q.minPct.toFixed(0)}–${q.maxPct.toFixed(0)} %`)
          .join(", "),
      },
      {
        name: "Python prefork -c 2, worst spread",
        value: worst(pythonFair),
        unit: "pts",
        note: pythonFair
          .map((q) => `${q.donePct} %: ${q.minPct.toFixed(0)}–${q.maxPct.toFixed(0)} %`)
          .join(", "),
      },
    ],
    checks: [
      {
        label: "Celeriac: max − min queue consumed, worst quarter",
        value: worst(celeriacFair),
        format: "points",
        target: `≤ ${MAX_SPREAD} pts`,
        met: worst(celeriacFair) <= MAX_SPREAD,
      },
      {
        label: "Python prefork: max − min queue consumed, worst quarter",
        value: worst(pythonFair),
        format: "points",
        target: "reported",
        met: null,
      },
    ],
    chart: {
      kind: "lines",
      xLabel: "% of all tasks done",
      yLabel: "% of a queue consumed",
      series: [
        { name: "Celeriac: least consumed queue", points: curve(celeriacFair, "minPct") },
        { name: "Celeriac: most consumed queue", points: curve(celeriacFair, "maxPct") },
        {
          name: "Python prefork: least consumed queue",
          points: curve(pythonFair, "minPct"),
        },
        { name: "Python prefork: most consumed queue", points: curve(pythonFair, "maxPct") },
      ],
    },
    detail: { celeriac: celeriacFair, python: pythonFair },
  };
  return [rate, fair];
}
