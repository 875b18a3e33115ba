/**
 * `celeriac beat` and `celeriac worker -B` as processes on real Redis: the persistent scheduler's
 * JSON file carries run counts across a restart (no double fire, no catch-up burst), SIGTERM stops
 * gracefully, the embedded beat feeds the worker it runs in, and bad schedules or schedulers stop
 * the command with an error naming what is wrong.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BEAT_APP, queuedMessages, startTsBeat } from "../support/beat.js";
import { celeriac } from "../support/cli-apps/run.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const dir = mkdtempSync(join(tmpdir(), "beat-cli-"));
let url: string;
let redis: Redis;

beforeAll(async () => {
  ({ url } = await allocateRedisDb());
  redis = new Redis(url);
});
afterAll(() => {
  redis?.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function runCount(file: string, name: string): number {
  const data = JSON.parse(readFileSync(file, "utf8")) as {
    entries: Record<string, { total_run_count: number }>;
  };
  return data.entries[name]?.total_run_count ?? -1;
}

describe("celeriac beat / worker -B", { timeout: 60_000 }, () => {
  it("persistent scheduler: run counts survive a restart, no double fire, no burst of missed runs", async () => {
    const queue = uniqueQueue("beat-cli");
    const file = join(dir, "schedule");
    const config = {
      broker: url,
      beatSchedule: { every2: { task: "proj.every2", schedule: 2, options: { queue } } },
    };
    const first = await startTsBeat({ config, args: ["-s", file, "--max-interval", "1"] });
    await waitUntil("two sends", async () => (await redis.llen(queue)) >= 2, {
      timeoutMs: 20_000,
      child: first.child,
    });
    await first.stop();
    expect(first.logs()).toMatch(/beat: Stopped\./);
    expect(first.child.exit?.code).toBe(0);
    const sentBefore = await redis.llen(queue);
    expect(runCount(`${file}.json`, "every2")).toBe(sentBefore);

    // Down for longer than two intervals: on restart one send, then the normal cadence.
    await new Promise((r) => setTimeout(r, 4500));
    const second = await startTsBeat({ config, args: ["-s", file, "--max-interval", "1"] });
    await waitUntil("a send after the restart", async () => (await redis.llen(queue)) > sentBefore, {
      timeoutMs: 20_000,
      child: second.child,
    });
    await new Promise((r) => setTimeout(r, 600)); // well inside the 2 s interval
    expect(await redis.llen(queue)).toBe(sentBefore + 1);
    await second.stop();
    expect(runCount(`${file}.json`, "every2")).toBe(await redis.llen(queue));
  });

  it("worker -B: the embedded beat sends to the worker it runs in; SIGTERM stops both", async () => {
    const queue = uniqueQueue("beat-embedded");
    const worker = await startTsBeat({
      command: "worker",
      args: ["-Q", queue, "--max-interval", "1", "-S", "memory"],
      config: {
        broker: url,
        backend: url,
        beatSchedule: { tick: { task: "ts.beat.tick", schedule: 1, options: { queue } } },
      },
    });
    await worker.waitFor(/Task ts\.beat\.tick\[[0-9a-f-]+\] succeeded in [\d.]+s: \{'beat': True\}/, 20_000);
    await worker.stop();
    expect(worker.logs()).toMatch(/beat: Stopped\./);
    expect(worker.child.exit?.code).toBe(0);
    expect(await queuedMessages(redis, queue)).toEqual([]);
  });

  it("a malformed crontab or an unknown scheduler: the command fails naming what is wrong", async () => {
    const bad = await celeriac(["-A", BEAT_APP, "beat"], {
      CELERIAC_BEAT_CONFIG: JSON.stringify({
        broker: url,
        beatSchedule: { nightly: { task: "t", schedule: { crontab: { minute: "*/0" } } } },
      }),
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/minute "\*\/0": slice step cannot be zero/);

    const unknown = await celeriac(["-A", BEAT_APP, "beat", "-S", "django_celery_beat.schedulers:Nope"], {
      CELERIAC_BEAT_CONFIG: JSON.stringify({ broker: url }),
    });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(
      /unknown beat scheduler "django_celery_beat.schedulers:Nope"; accepted: .*redbeat/,
    );

    const entry = await celeriac(["-A", BEAT_APP, "beat"], {
      CELERIAC_BEAT_CONFIG: JSON.stringify({
        broker: url,
        beatSchedule: { e: { task: "t", schedule: "often" } },
      }),
    });
    expect(entry.code).not.toBe(0);
    expect(entry.stderr).toMatch(/beatSchedule\["e"\]\.schedule: must be seconds/);
  });
});
