// AMQP producer figure, one process, plain node: the built package's `sendTask` with publisher
// confirms (its default; 5 000 issued at a time) alternated with a raw amqplib ConfirmChannel publishing
// N copies of the very message the package published (body and properties read back with
// basic.get), waitForConfirms after each 5 000. Same exchange/queue shape: durable direct, persistent.
//   node bench/proc/produce-amqp.mjs <broker url> <backend url> <tasks> <rounds>
import { connect } from "amqplib";
import { Celery } from "celeriac";

const [broker = "", backend = "", tasksArg = "20000", roundsArg = "3"] = process.argv.slice(2);
const tasks = Number(tasksArg);
const rounds = Number(roundsArg);
const app = new Celery({ broker, backend });

// Both sides go in bursts of BURST awaited messages: 20 000 confirmed publishes issued at once on
// a loaded box can outlast the package's publish timeout (the last one waits for all the others).
const BURST = 5000;
async function celeriac(n) {
  for (let start = 0; start < n; start += BURST) {
    const sends = [];
    for (let i = start; i < Math.min(n, start + BURST); i++)
      sends.push(app.sendTask("interop.add", [i, i], {}, { queue: "bench-ts" }));
    await Promise.all(sends);
  }
}
const connection = await connect(broker);
const channel = await connection.createConfirmChannel();
await celeriac(1);
const sample = await channel.get("bench-ts", { noAck: true });
if (!sample) throw new Error("no message in bench-ts to copy");
const options = Object.fromEntries(Object.entries(sample.properties).filter(([, v]) => v !== undefined));
await channel.assertExchange("bench-raw", "direct", { durable: true });
await channel.assertQueue("bench-raw", { durable: true });
await channel.bindQueue("bench-raw", "bench-raw", "bench-raw");
async function raw(n) {
  for (let start = 0; start < n; start += BURST) {
    for (let i = start; i < Math.min(n, start + BURST); i++)
      channel.publish("bench-raw", "bench-raw", sample.content, options);
    await channel.waitForConfirms();
  }
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
for (let i = 0; i < 2; i++) {
  await celeriac(Math.min(tasks, 5000));
  await raw(Math.min(tasks, 5000));
}
await channel.purgeQueue("bench-ts");
await channel.purgeQueue("bench-raw");
const out = { celeriac: [], raw: [], celeriacCpuUs: [], rawCpuUs: [] };
for (let r = 0; r < rounds; r++) {
  const [celeriacRate, celeriacCpu] = await timed(celeriac, tasks);
  out.celeriac.push(celeriacRate);
  out.celeriacCpuUs.push(celeriacCpu);
  await channel.purgeQueue("bench-ts");
  const [rawRate, rawCpu] = await timed(raw, tasks);
  out.raw.push(rawRate);
  out.rawCpuUs.push(rawCpu);
  await channel.purgeQueue("bench-raw");
}
await channel.deleteQueue("bench-ts");
await channel.deleteQueue("bench-raw");
await connection.close();
await app.close();
console.log(JSON.stringify(out));
