// The broker's own floor under the round trip, with raw ioredis and no Celery at all: a client
// `LPUSH`es an envelope-sized message, an echo process waiting in `BLMOVE` takes it and `PUBLISH`es
// a meta-sized reply, and the client's subscriber receives it. Same process hops, same kind of
// commands and about the same bytes as sendTask -> worker -> get(), nothing else, so the figure
// shows what Redis, the sockets and two Node processes cost on this box.
//   node bench/proc/raw-roundtrip.mjs echo <redis url> <list> <channel>     (until SIGTERM)
//   node bench/proc/raw-roundtrip.mjs client <redis url> <list> <channel> <samples>
import { Redis } from "ioredis";
import { latencySummary, sampleRoundTrips } from "./latency.mjs";

const [role = "", url = "", list = "bench-raw-rt", channel = "bench-raw-rt", samplesArg = "1000"] =
  process.argv.slice(2);
const taken = `${list}.taken`;

if (role === "echo") {
  const redis = new Redis(url);
  const reply = `{"status": "SUCCESS", "result": 0, "traceback": null, "children": [], "date_done": "${new Date().toISOString()}", "task_id": "`;
  let stopping = false;
  process.once("SIGTERM", () => {
    stopping = true;
    redis.disconnect();
    process.exit(0);
  });
  await redis.del(list, taken);
  process.stderr.write("echo ready\n");
  while (!stopping) {
    // Takes the oldest message into a second list, as the worker's wait moves it, then replies.
    const message = await redis.blmove(list, taken, "RIGHT", "LEFT", 1);
    if (message === null) continue;
    const id = message.slice(0, message.indexOf(" "));
    await redis.publish(channel, `${reply}${id}"}`);
  }
} else if (role === "client") {
  const samples = Number(samplesArg);
  const redis = new Redis(url);
  const subscriber = new Redis(url);
  await subscriber.subscribe(channel);
  // About the size of a sendTask envelope (headers, base64 body, properties).
  const padding = "x".repeat(800);
  let waiting = null;
  subscriber.on("message", (_channel, message) => {
    const w = waiting;
    if (w && message.includes(`"task_id": "${w.id}"`)) {
      waiting = null;
      w.resolve();
    }
  });
  const once = (i) =>
    new Promise((resolve, reject) => {
      const id = `rt-${i}`;
      waiting = { id, resolve };
      redis.lpush(list, `${id} ${padding}`).catch(reject);
    });
  const ms = await sampleRoundTrips(once, samples);
  await redis.del(list, `${list}.taken`);
  redis.disconnect();
  subscriber.disconnect();
  console.log(JSON.stringify(latencySummary(ms)));
} else {
  process.stderr.write("usage: raw-roundtrip.mjs echo|client <redis url> <list> <channel> [samples]\n");
  process.exit(2);
}
