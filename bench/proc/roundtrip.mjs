// Round trip through the built package: `sendTask` -> a Celeriac worker -> `get()`, one at a
// time, N samples after a warm-up; prints the sorted latencies' percentiles in ms.
//   node bench/proc/roundtrip.mjs <broker url> <backend url> <queue> <samples>
import { Celery } from "celeriac";
import { latencySummary, sampleRoundTrips } from "./latency.mjs";

const [broker = "", backend = "", queue = "bench-rt", samplesArg = "1000"] = process.argv.slice(2);
const samples = Number(samplesArg);
const app = new Celery({ broker, backend });
async function once(i) {
  const result = await app.sendTask("interop.add", [i, 1], {}, { queue });
  const value = await result.get({ timeoutMs: 30_000 });
  if (value !== i + 1) throw new Error(`interop.add(${i}, 1) returned ${value}`);
}
const ms = await sampleRoundTrips(once, samples);
await app.close();
console.log(JSON.stringify(latencySummary(ms)));
