/**
 * `npm run bench`: builds the package, starts one throwaway redis-server and one RabbitMQ node,
 * and measures every figure of issue 17's target table with all its contenders in this one run
 * (Celeriac from the built package as a user runs it, Python Celery 5.7, celery-node 0.5.9 where
 * it applies, the raw broker rate). Records the machine and its load around each figure, writes
 * bench/runs/<time>.json, the charts in bench/charts/ and the generated section of
 * bench/RESULTS.md (from the last two full runs).
 *
 *   npm run bench                          # everything, ~5 min on an idle 2-core box
 *   npm run bench -- --quick               # tiny counts, every contender, writes nothing (CI)
 *   npm run bench -- --scale               # also the 10 k -> 1 M scale curve
 *   npm run bench -- --only redis-worker   # some figures (comma-separated ids); not a full run
 *   npm run bench -- --no-build            # use dist/ as it is
 *
 * Exit status 1 if any figure failed.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative } from "node:path";
import { startRabbitMq } from "../test/support/servers/rabbitmq.js";
import { startRedis } from "../test/support/servers/redis.js";
import { ROOT } from "./common.js";
import { amqpProducer, redisProducer } from "./fig-producers.js";
import { manyQueues } from "./fig-queues.js";
import { roundTrip } from "./fig-roundtrip.js";
import { scaleCurve } from "./fig-scale.js";
import { amqpWorker, redisWorker } from "./fig-workers.js";
import { type BenchContext, type Figure, type FigureFn, fmt, formatCheck } from "./figure.js";
import {
  lastFullRuns,
  machineInfo,
  type RunRecord,
  renderSection,
  updateResults,
  writeCharts,
  writeRun,
} from "./report.js";

/** In the order of issue 17's target table. */
const FIGURES: [string, FigureFn][] = [
  ["redis-producer", redisProducer],
  ["amqp-producer", amqpProducer],
  ["redis-worker", redisWorker],
  ["amqp-worker", amqpWorker],
  ["roundtrip", roundTrip],
  ["queues-200", manyQueues],
];
/** `--scale` only: minutes of filling and draining 1 M tasks. */
const SCALE_FIGURE: [string, FigureFn] = ["scale", scaleCurve];

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const scale = argv.includes("--scale");
const onlyAt = argv.indexOf("--only");
const only = onlyAt === -1 ? null : (argv[onlyAt + 1] ?? "").split(",");
const log = (line: string) => process.stderr.write(`${line}\n`);

function build(): void {
  log("== npm run build");
  const started = performance.now();
  const run = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (run.status !== 0) throw new Error(`npm run build failed (${run.status ?? run.signal})`);
  log(`   built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function printFigure(f: Figure): void {
  console.log(
    `\n## ${f.title}  (${fmt(f.seconds)} s, load ${f.loadBefore[0]?.toFixed(1)} → ${f.loadAfter[0]?.toFixed(1)})`,
  );
  for (const c of f.contenders)
    console.log(
      `  ${c.name.padEnd(36)} ${fmt(c.value, c.value < 100 ? 2 : 0).padStart(10)} ${c.unit}${c.peakRssMb ? `   peak RSS ${fmt(c.peakRssMb)} MB` : ""}${c.cpuMsPerTask ? `   ${fmt(c.cpuMsPerTask, 3)} CPU ms/task` : ""}`,
    );
  for (const c of f.checks)
    console.log(
      `  -> ${c.label}: ${formatCheck(c)} (target ${c.target})${c.met === null ? "" : c.met ? " met" : " NOT MET"}`,
    );
}

async function main(): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  if (!argv.includes("--no-build")) build();
  else if (!existsSync(join(ROOT, "dist", "index.js")))
    throw new Error("--no-build: dist/index.js is missing; run `npm run build` first");
  const machine = machineInfo();
  log(
    `== machine: ${machine.nproc} cpu, node ${machine.node}, redis ${machine.redis}, rabbitmq ${machine.rabbitmq}, ${machine.celery}, git ${machine.gitSha}`,
  );
  const selected = [...FIGURES, ...(scale ? [SCALE_FIGURE] : [])].filter(
    ([id]) => only === null || only.includes(id),
  );
  // RabbitMQ takes seconds to boot: only when an AMQP figure runs (`--only redis-worker` A/B runs).
  const needsAmqp = selected.some(([id]) => id.startsWith("amqp-"));
  log(`== starting redis-server${needsAmqp ? " and RabbitMQ" : ""}`);
  const [redis, rabbit] = await Promise.all([startRedis(), needsAmqp ? startRabbitMq() : undefined]);
  const ctx: BenchContext = {
    servers: {
      redisUrl: (db) => redis.dbUrl(db),
      get amqpUrl() {
        if (!rabbit) throw new Error("RabbitMQ was not started: name the figure amqp-*");
        return rabbit.url;
      },
    },
    quick,
    log,
  };
  const figures: Figure[] = [];
  const failures: { id: string; error: string }[] = [];
  try {
    for (const [id, fn] of selected) {
      log(`== ${id}`);
      const loadBefore = loadavg();
      const figureStart = performance.now();
      try {
        const bodies = await fn(ctx);
        const seconds = (performance.now() - figureStart) / 1000;
        for (const body of Array.isArray(bodies) ? bodies : [bodies]) {
          const figure: Figure = { ...body, loadBefore, loadAfter: loadavg(), seconds };
          figures.push(figure);
          printFigure(figure);
        }
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        failures.push({ id, error });
        console.log(`\n!! ${id} failed:\n${error}`);
      }
    }
  } finally {
    await Promise.allSettled([redis.dispose(), rabbit?.dispose()]);
  }
  const run: RunRecord = {
    startedAt: started.toISOString(),
    seconds: (performance.now() - t0) / 1000,
    full: only === null && failures.length === 0,
    scale,
    machine,
    figures,
    failures,
  };
  console.log(
    `\nbench ${quick ? "--quick " : ""}finished in ${fmt(run.seconds)} s, ${failures.length} figure(s) failed`,
  );
  if (!quick) {
    const path = writeRun(run);
    console.log(`run written to ${relative(ROOT, path)}`);
    const runs = lastFullRuns(2);
    if (runs.length > 0) {
      const charts = writeCharts(runs);
      updateResults(renderSection(runs));
      console.log(
        `bench/RESULTS.md regenerated from ${runs.length} full run(s); ${charts.length} charts in bench/charts/`,
      );
    } else {
      console.log("not a full run: bench/RESULTS.md and the charts left as they are");
    }
  }
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
