// Redis producer figure, one process, plain node: the built package's `sendTask` (N issued at
// once, each resolved when Redis took its LPUSH) alternated with a raw ioredis pipeline of N
// `LPUSH` of the very envelope bytes the package pushed (no message building at all).
//   node bench/proc/produce-redis.mjs <broker url> <backend url> <tasks> <rounds>
import { Celery } from "celeriac";
import { Redis } from "ioredis";

const [broker = "", backend = "", tasksArg = "20000", roundsArg = "3"] = process.argv.slice(2);
const tasks = Number(tasksArg);
const rounds = Number(roundsArg);
const app = new Celery({ broker, backend });
const redis = new Redis(broker);

async function celeriac(n) {
  const sends = [];
  for (let i = 0; i < n; i++) sends.push(app.sendTask("interop.add", [i, i], {}, { queue: "bench-ts" }));
  await Promise.all(sends);
}
const envelope = await (async () => {
  await celeriac(1);
  const [one] = await redis.lrange("bench-ts", 0, 0);
  return one;
})();
async function raw(n) {
  const pipe = redis.pipeline();
  for (let i = 0; i < n; i++) pipe.lpush("bench-raw", envelope);
  await pipe.exec();
}
/** Rate (msgs/s) and this process's CPU µs per message (user + system) of one burst. */
async function timed(fn, n) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn(n);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return [n / seconds, (cpu.user + cpu.system) / n];
}
// Warm-up (connections, JIT) outside the timing.
for (let i = 0; i < 2; i++) {
  await celeriac(Math.min(tasks, 5000));
  await raw(Math.min(tasks, 5000));
}
await redis.del("bench-ts", "bench-raw");
const out = { celeriac: [], raw: [], celeriacCpuUs: [], rawCpuUs: [] };
for (let r = 0; r < rounds; r++) {
  const [celeriacRate, celeriacCpu] = await timed(celeriac, tasks);
  out.celeriac.push(celeriacRate);
  out.celeriacCpuUs.push(celeriacCpu);
  if ((await redis.llen("bench-ts")) !== tasks) throw new Error("sendTask: wrong queue length");
  const [rawRate, rawCpu] = await timed(raw, tasks);
  out.raw.push(rawRate);
  out.rawCpuUs.push(rawCpu);
  if ((await redis.llen("bench-raw")) !== tasks) throw new Error("raw LPUSH: wrong queue length");
  await redis.del("bench-ts", "bench-raw");
}
await app.close();
redis.disconnect();
console.log(JSON.stringify(out));
