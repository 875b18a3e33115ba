// The RabbitMQ delivery ceiling: plain amqplib consuming <count> messages already in <queue> with
// basic.qos <prefetch> and one basic.ack per message; no task run, no result stored. Rate is
// timed from the first delivery to the last ack.
//   node bench/proc/raw-consume.mjs <broker url> <queue> <count> <prefetch>
import { connect } from "amqplib";

const [broker = "", queue = "bench", countArg = "10000", prefetchArg = "64"] = process.argv.slice(2);
const count = Number(countArg);
const connection = await connect(broker);
const channel = await connection.createChannel();
await channel.prefetch(Number(prefetchArg));
let seen = 0;
let t0 = 0;
await new Promise((resolve) => {
  void channel.consume(queue, (msg) => {
    if (msg === null) return;
    if (seen === 0) t0 = performance.now();
    channel.ack(msg);
    if (++seen === count) resolve();
  });
});
const seconds = (performance.now() - t0) / 1000;
await connection.close();
console.log(JSON.stringify({ count, seconds, rate: count / seconds }));
