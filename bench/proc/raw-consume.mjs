// The RabbitMQ delivery ceiling: plain amqplib consuming <count> messages already in <queue> with
// basic.qos <prefetch>; no task run, no result stored. <ack mode>:
//   each  one basic.ack per message as it arrives (what kombu's Message.ack sends);
//   turn  one basic.ack multiple=true per event-loop turn on the newest delivery of the turn
//         (what Celeriac's worker sends when the turn's deliveries are the oldest outstanding),
//         the broker's cheapest way to take the same acks.
// Rate is timed from the first delivery to the last ack; CPU is this process's, over the same span.
//   node bench/proc/raw-consume.mjs <broker url> <queue> <count> <prefetch> [each|turn]
import { connect } from "amqplib";

const [broker = "", queue = "bench", countArg = "10000", prefetchArg = "64", ackMode = "each"] =
  process.argv.slice(2);
if (ackMode !== "each" && ackMode !== "turn")
  throw new Error(`ack mode must be each or turn, not ${ackMode}`);
const count = Number(countArg);
const connection = await connect(broker);
const channel = await connection.createChannel();
await channel.prefetch(Number(prefetchArg));
let seen = 0;
let t0 = 0;
let cpu0 = { user: 0, system: 0 };
await new Promise((resolve) => {
  let newest = null;
  // The turn's acks go out after every delivery the socket read handed over (setImmediate runs
  // after the I/O callbacks of this loop iteration), then one multiple=true ack covers them.
  const flush = () => {
    const msg = newest;
    newest = null;
    channel.ack(msg, true);
    if (seen >= count) resolve();
  };
  void channel.consume(queue, (msg) => {
    if (msg === null) return;
    if (seen === 0) {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    }
    seen++;
    if (ackMode === "each") {
      channel.ack(msg);
      if (seen >= count) resolve();
      return;
    }
    if (newest === null) setImmediate(flush);
    newest = msg;
  });
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
// Closing the channel first sends its acks before the close (same channel, in order); closing only
// the connection dropped the last acks of the channel, and the broker requeued those messages.
await channel.close();
await connection.close();
console.log(
  JSON.stringify({
    count,
    seconds,
    rate: count / seconds,
    cpuMsPerMsg: (cpu.user + cpu.system) / 1000 / count,
  }),
);
