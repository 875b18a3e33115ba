/**
 * Round trip over Redis, all through the built package: a TS client's `sendTask` -> a Celeriac
 * worker (defaults) -> `get()`, one task at a time, first with the worker idle, then while
 * another process streams 2 000 tasks/s into the same queue (200 with --quick). Beside each, the
 * broker's floor in the same conditions: raw ioredis `LPUSH` -> `BLMOVE` in an echo process ->
 * `PUBLISH` -> the client's subscriber (bench/proc/raw-roundtrip.mjs), what Redis and two Node
 * processes cost on this box with no Celery work at all.
 */
import { join } from "node:path";
import { ROOT, runProcJson, startCeleriacWorker, startProc, waitReady } from "./common.js";
import type { BenchContext, Check, FigureBody } from "./figure.js";

interface Latency {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface StreamReport {
  sent: number;
  failed: number;
  seconds: number;
  rate: number;
}

const RAW_NOTE =
  "LPUSH of an 800-byte message -> BLMOVE in an echo process -> PUBLISH of a meta-sized reply -> subscriber; no Celery work";

export async function roundTrip(ctx: BenchContext): Promise<FigureBody> {
  const samples = ctx.quick ? 50 : 2_000;
  const streamRate = ctx.quick ? 200 : 2_000;
  const broker = ctx.servers.redisUrl(5);
  const backend = ctx.servers.redisUrl(6);
  const queue = "bench-rt";
  const rawArgs = [broker, "bench-raw-rt", "bench-raw-rt"];
  const worker = startCeleriacWorker({ broker, backend, queues: [queue] });
  const echo = startProc("raw echo", process.execPath, [
    join(ROOT, "bench", "proc", "raw-roundtrip.mjs"),
    "echo",
    ...rawArgs,
  ]);
  const raw = async (when: string): Promise<Latency> => {
    const floor = await runProcJson<Latency>("raw-roundtrip.mjs", ["client", ...rawArgs, String(samples)]);
    ctx.log(`    raw ioredis floor ${when}: p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms`);
    return floor;
  };
  let idle: Latency;
  let loaded: Latency;
  let rawIdle: Latency;
  let rawLoaded: Latency;
  let stream: StreamReport;
  try {
    await waitReady(worker);
    await waitReady(echo, /echo ready/);
    ctx.log(`  idle: ${samples} round trips`);
    idle = await runProcJson<Latency>("roundtrip.mjs", [broker, backend, queue, String(samples)]);
    ctx.log(`    p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms`);
    rawIdle = await raw("idle");
    ctx.log(`  under a ${streamRate} tasks/s stream: ${samples} round trips`);
    const streamer = startProc("stream", process.execPath, [
      join(ROOT, "bench", "proc", "stream.mjs"),
      broker,
      backend,
      queue,
      String(streamRate),
    ]);
    try {
      await waitReady(streamer, /stream started/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      loaded = await runProcJson<Latency>("roundtrip.mjs", [broker, backend, queue, String(samples)]);
      rawLoaded = await raw(`under ${streamRate} tasks/s`);
    } finally {
      const exited = new Promise((resolve) => streamer.child.once("exit", resolve));
      streamer.child.kill("SIGTERM");
      await exited;
    }
    const line = streamer
      .stderr()
      .split("\n")
      .find((l) => l.startsWith('{"sent"'));
    if (!line) throw new Error(`the stream printed no report:\n${streamer.stderr()}`);
    stream = JSON.parse(line) as StreamReport;
    if (stream.failed > 0) throw new Error(`the stream lost ${stream.failed} sends`);
    ctx.log(
      `    p50 ${loaded.p50.toFixed(2)} ms, p99 ${loaded.p99.toFixed(2)} ms (stream ${stream.rate.toFixed(0)} tasks/s)`,
    );
  } finally {
    await worker.kill();
    await echo.kill();
  }
  const check = (label: string, value: number, max: number): Check => ({
    label,
    value,
    format: "ms",
    target: `≤ ${max} ms`,
    met: value <= max,
  });
  return {
    id: "roundtrip",
    short: "Round trip",
    title: "Round trip TS client → TS worker → result (Redis)",
    counts: { samples, streamRate, streamAchieved: Math.round(stream.rate) },
    contenders: [
      { name: "p50 idle", value: idle.p50, unit: "ms" },
      { name: "p99 idle", value: idle.p99, unit: "ms" },
      {
        name: `p50 under ${streamRate} tasks/s`,
        value: loaded.p50,
        unit: "ms",
        note: `stream achieved ${stream.rate.toFixed(0)} tasks/s`,
      },
      { name: `p99 under ${streamRate} tasks/s`, value: loaded.p99, unit: "ms" },
      { name: "raw ioredis floor p50 idle", value: rawIdle.p50, unit: "ms", note: RAW_NOTE },
      { name: "raw ioredis floor p99 idle", value: rawIdle.p99, unit: "ms" },
      { name: `raw ioredis floor p50 under ${streamRate} tasks/s`, value: rawLoaded.p50, unit: "ms" },
      { name: `raw ioredis floor p99 under ${streamRate} tasks/s`, value: rawLoaded.p99, unit: "ms" },
    ],
    checks: [
      check("p50 idle", idle.p50, 1),
      check("p99 idle", idle.p99, 3),
      check(`p50 under ${streamRate} tasks/s`, loaded.p50, 1),
      check(`p99 under ${streamRate} tasks/s`, loaded.p99, 3),
    ],
    chart: {
      kind: "grouped",
      yLabel: "ms",
      groups: ["p50", "p90", "p99"],
      series: [
        { name: "idle", values: [idle.p50, idle.p90, idle.p99] },
        { name: `under ${streamRate} tasks/s`, values: [loaded.p50, loaded.p90, loaded.p99] },
        { name: "raw floor, idle", values: [rawIdle.p50, rawIdle.p90, rawIdle.p99] },
        {
          name: `raw floor, under ${streamRate} tasks/s`,
          values: [rawLoaded.p50, rawLoaded.p90, rawLoaded.p99],
        },
      ],
    },
    detail: { idle, loaded, stream, rawIdle, rawLoaded },
  };
}
