/**
 * `--scale`: the built package's worker (defaults) draining 10 k, 100 k and 1 M queued tasks
 * (Redis, results stored): rate and peak RSS by backlog size. About 4 minutes on an idle 2-core
 * box, most of it filling and draining the 1 M backlog, so it only runs when asked.
 */
import { startCeleriacWorker } from "./common.js";
import { drain, fill, flushDb } from "./drain.js";
import type { BenchContext, FigureBody } from "./figure.js";

export async function scaleCurve(ctx: BenchContext): Promise<FigureBody[]> {
  const sizes = ctx.quick ? [100, 1_000] : [10_000, 100_000, 1_000_000];
  const broker = ctx.servers.redisUrl(9);
  const backend = ctx.servers.redisUrl(10);
  const points: { tasks: number; rate: number; peakRssMb: number }[] = [];
  for (const tasks of sizes) {
    ctx.log(`  Celeriac default: ${tasks} tasks`);
    await flushDb(broker);
    await flushDb(backend);
    await fill(broker, backend, ["bench-scale"], tasks);
    const r = await drain(
      () => startCeleriacWorker({ broker, backend, queues: ["bench-scale"] }),
      backend,
      tasks,
    );
    ctx.log(`    ${r.rate.toFixed(0)} tasks/s, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
    points.push({ tasks, rate: r.rate, peakRssMb: r.peakRssMb });
  }
  await flushDb(broker);
  await flushDb(backend);
  const largest = points[points.length - 1] ?? { tasks: 0, rate: Number.NaN, peakRssMb: Number.NaN };
  const smallest = points[0] ?? largest;
  const counts = Object.fromEntries(sizes.map((n, i) => [`size${i + 1}`, n]));
  const name = (n: number) => `${n.toLocaleString("en-US").replace(/,/g, " ")} tasks`;
  return [
    {
      id: "scale-rate",
      short: "Scale",
      title: "Celeriac worker rate by backlog size (Redis)",
      counts,
      contenders: points.map((p) => ({ name: name(p.tasks), value: p.rate, unit: "tasks/s" })),
      checks: [
        {
          label: `rate at ${name(largest.tasks)} / at ${name(smallest.tasks)}`,
          value: largest.rate / smallest.rate,
          format: "ratio",
          target: "reported",
          met: null,
        },
      ],
      chart: {
        kind: "lines",
        xLabel: "tasks queued (log scale)",
        yLabel: "tasks/s",
        logX: true,
        series: [{ name: "Celeriac (defaults)", points: points.map((p) => [p.tasks, p.rate]) }],
      },
    },
    {
      id: "scale-rss",
      short: "Scale, memory",
      title: "Celeriac worker peak RSS by backlog size (Redis)",
      counts,
      contenders: points.map((p) => ({ name: name(p.tasks), value: p.peakRssMb, unit: "MB" })),
      checks: [
        {
          label: `worker peak RSS at ${name(largest.tasks)}`,
          value: largest.peakRssMb,
          format: "MB",
          target: "≤ 90 MB",
          met: largest.peakRssMb <= 90,
        },
      ],
      chart: {
        kind: "lines",
        xLabel: "tasks queued (log scale)",
        yLabel: "peak RSS, MB",
        logX: true,
        series: [{ name: "Celeriac (defaults)", points: points.map((p) => [p.tasks, p.peakRssMb]) }],
      },
    },
  ];
}
