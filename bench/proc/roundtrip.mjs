// Round trip through the built package: `sendTask` -> a Celeriac worker -> `get()`, one at a
// time, N samples after a warm-up; prints the sorted latencies' percentiles in ms.
//   node bench/proc/roundtrip.mjs <broker url> <backend url> <queue> <samples>
import { Celery } from "celeriac";

const [broker = "", backend = "", queue = "bench-rt", samplesArg = "1000"] = process.argv.slice(2);
const samples = Number(samplesArg);
const app = new Celery({ broker, backend });
async function once(i) {
  const result = await app.sendTask("interop.add", [i, 1], {}, { queue });
  const value = await result.get({ timeoutMs: 30_000 });
  if (value !== i + 1) throw new Error(`interop.add(${i}, 1) returned ${value}`);
}
for (let i = 0; i < Math.min(200, samples); i++) await once(i);
const ms = [];
for (let i = 0; i < samples; i++) {
  const t0 = performance.now();
  await once(i);
  ms.push(performance.now() - t0);
}
await app.close();
ms.sort((a, b) => a - b);
const at = (p) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)];
console.log(JSON.stringify({ samples, p50: at(50), p90: at(90), p99: at(99), max: ms[ms.length - 1] }));
