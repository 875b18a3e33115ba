// A Celeriac worker as a user's script runs it: the public facade of the built package
// (`import { Celery } from "celeriac"` resolves to dist/ through the package's own exports), plain
// `node`, no tsx. Started by bench/common.ts startCeleriacWorker; settings from the environment:
//   BENCH_BROKER, BENCH_BACKEND, BENCH_QUEUES (comma-separated),
//   BENCH_CONCURRENCY, BENCH_PREFETCH (unset: the package's defaults).
import { Celery } from "celeriac";

const env = process.env;
const app = new Celery({ broker: env.BENCH_BROKER, backend: env.BENCH_BACKEND });
app.task("interop.add", (_ctx, x, y) => x + y);
const worker = app.worker({
  queues: (env.BENCH_QUEUES ?? "celery").split(","),
  ...(env.BENCH_CONCURRENCY ? { concurrency: Number(env.BENCH_CONCURRENCY) } : {}),
  ...(env.BENCH_PREFETCH ? { prefetchMultiplier: Number(env.BENCH_PREFETCH) } : {}),
});
await worker.start();
process.stderr.write(`${worker.hostname} ready.\n`);
