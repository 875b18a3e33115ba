// Fills queues with `interop.add` tasks through the built package's producer (fast, and the same
// Celery protocol v2 message any Celery worker reads). Task ids are `<prefix>.<queue index>.<n>`,
// so a figure can tell from the stored results which queue each task came from.
//   node bench/proc/fill.mjs <queues, comma-separated> <tasks per queue> <id prefix>
//   env BENCH_BROKER, BENCH_BACKEND
import { Celery } from "celeriac";

const [queueList = "bench", perQueueArg = "1000", prefix = "t"] = process.argv.slice(2);
const queues = queueList.split(",");
const perQueue = Number(perQueueArg);
const app = new Celery({ broker: process.env.BENCH_BROKER, backend: process.env.BENCH_BACKEND });
const CHUNK = 5000;
let batch = [];
for (let q = 0; q < queues.length; q++) {
  for (let i = 0; i < perQueue; i++) {
    batch.push(app.sendTask("interop.add", [i, 1], {}, { queue: queues[q], taskId: `${prefix}.${q}.${i}` }));
    if (batch.length >= CHUNK) {
      await Promise.all(batch);
      batch = [];
    }
  }
}
await Promise.all(batch);
await app.close();
console.log(JSON.stringify({ sent: queues.length * perQueue }));
