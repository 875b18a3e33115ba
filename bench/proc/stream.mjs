// A steady stream of `interop.add` tasks at <rate> per second through the built package, paced
// every 10 ms, until SIGTERM; then prints what it sent and over how long.
//   node bench/proc/stream.mjs <broker url> <backend url> <queue> <rate per second>
import { Celery } from "celeriac";

const [broker = "", backend = "", queue = "bench-rt", rateArg = "2000"] = process.argv.slice(2);
const rate = Number(rateArg);
const app = new Celery({ broker, backend });
const t0 = performance.now();
let sent = 0;
let failed = 0;
const pending = new Set();
const timer = setInterval(() => {
  const due = Math.floor((rate * (performance.now() - t0)) / 1000) - sent;
  for (let i = 0; i < due; i++) {
    const send = app.sendTask("interop.add", [sent, 1], {}, { queue }).then(
      () => pending.delete(send),
      () => {
        failed++;
        pending.delete(send);
      },
    );
    pending.add(send);
    sent++;
  }
}, 10);
process.stderr.write("stream started\n");
process.once("SIGTERM", async () => {
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  await app.close();
  console.log(JSON.stringify({ sent, failed, seconds, rate: sent / seconds }));
  process.exit(failed === 0 ? 0 : 1);
});
