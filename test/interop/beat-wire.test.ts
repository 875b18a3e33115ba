/**
 * What TS beat sends is what Celery 5.7's own beat sends for the same entries: a real
 * `celery beat` (PersistentScheduler) and the TS Beat each publish the same two entries to real
 * Redis; the messages (kombu envelope, properties, headers incl. `celery_beat_task`, body,
 * routing, priority list, expires) are compared field for field after replacing what differs
 * by nature (ids, origin, reply_to, the expires instant).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { crontab } from "../../src/beat/index.js";
import { createLogger } from "../../src/logging.js";
import { type QueuedMessage, queuedMessages, startPythonBeat } from "../support/beat.js";
import { waitUntil } from "../support/process.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const dir = mkdtempSync(join(tmpdir(), "beat-wire-"));
let url: string;
let redis: Redis;

beforeAll(async () => {
  ({ url } = await allocateRedisDb());
  redis = new Redis(url);
});
afterAll(async () => {
  redis?.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** The parts of a message that differ between any two sends, replaced by what they must look like. */
function normalize(m: QueuedMessage): unknown {
  const headers = { ...m.headers };
  const properties = { ...m.properties } as Record<string, unknown>;
  expect(headers.id).toMatch(UUID);
  expect(headers.root_id).toBe(headers.id);
  expect(headers.origin).toMatch(/^gen\d+@/);
  expect(properties.correlation_id).toBe(headers.id);
  expect(properties.reply_to).toMatch(UUID);
  const deliveryInfo = { ...(properties.delivery_info as Record<string, unknown>) };
  expect(properties.delivery_tag).toMatch(UUID);
  headers.id = headers.root_id = "<id>";
  headers.origin = "<origin>";
  properties.correlation_id = "<id>";
  properties.reply_to = "<oid>";
  properties.delivery_tag = "<tag>";
  for (const field of ["expires", "eta"]) {
    if (headers[field] === null) continue;
    // Send time + N seconds in the app's zone: the instant differs, the shape (fraction, offset) must not.
    expect(Number.isNaN(Date.parse(headers[field] as string))).toBe(false);
    expect(headers[field]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d$/);
    headers[field] = (headers[field] as string).replace(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?/,
      "<time>",
    );
  }
  return { ...m, headers, properties: { ...properties, delivery_info: deliveryInfo } };
}

describe("TS beat sends what Celery 5.7's beat sends (real Redis, real celery beat)", {
  timeout: 60_000,
}, () => {
  it("same envelope, headers (celery_beat_task), body, routing and priority for the same entries", async () => {
    const q1 = uniqueQueue("beat-wire-a");
    const q2 = uniqueQueue("beat-wire-b");
    // Python's beat_schedule and TS's beatSchedule: the same two entries.
    const pyEntries = {
      report: {
        task: "proj.tasks.report",
        schedule: 1.0,
        args: [1, "two", { three: 3 }],
        kwargs: { k: [1, 2], when: "now" },
        options: { queue: q1, priority: 6, expires: 30, headers: { tenant: "acme" } },
      },
      plain: { task: "proj.tasks.plain", schedule: 1.0, options: { queue: q2, countdown: 10 } },
    };
    const py = await startPythonBeat({
      brokerUrl: url,
      scheduleFile: join(dir, "py-schedule"),
      maxInterval: 1,
      config: { beat_schedule: pyEntries, timezone: "Europe/Paris" },
    });
    try {
      await waitUntil(
        "python beat sent both entries",
        async () => (await redis.llen(q2)) > 0 && (await redis.llen(`${q1}\x06\x166`)) > 0,
        {
          timeoutMs: 20_000,
          intervalMs: 100,
          child: py.child,
        },
      );
    } finally {
      await py.stop();
    }
    const pyReport = (await queuedMessages(redis, `${q1}\x06\x166`))[0] as QueuedMessage;
    const pyPlain = (await queuedMessages(redis, q2))[0] as QueuedMessage;
    await redis.del(`${q1}\x06\x166`, q2);

    const app = new Celery({
      broker: url,
      timezone: "Europe/Paris",
      beatMaxLoopInterval: 1,
      beatSchedule: {
        report: {
          task: "proj.tasks.report",
          schedule: 1,
          args: [1, "two", { three: 3 }],
          kwargs: { k: [1, 2], when: "now" },
          options: { queue: q1, priority: 6, expires: 30, headers: { tenant: "acme" } },
        },
        plain: { task: "proj.tasks.plain", schedule: 1, options: { queue: q2, countdown: 10 } },
        // A crontab entry sends the same shape; it is here so the schedule type plays no part.
        nightly: { task: "proj.tasks.nightly", schedule: crontab({ minute: "0", hour: "3" }) },
      },
    });
    const beat = app.beat({ scheduler: "memory", log: createLogger({ level: "warn" }) });
    const running = beat.start();
    try {
      await waitUntil(
        "ts beat sent both entries",
        async () => (await redis.llen(q2)) > 0 && (await redis.llen(`${q1}\x06\x166`)) > 0,
        {
          timeoutMs: 20_000,
          intervalMs: 100,
        },
      );
    } finally {
      await beat.stop();
      await running;
      await app.close();
    }
    const tsReport = (await queuedMessages(redis, `${q1}\x06\x166`))[0] as QueuedMessage;
    const tsPlain = (await queuedMessages(redis, q2))[0] as QueuedMessage;

    expect(pyReport.headers.celery_beat_task).toBe(true);
    expect(pyReport.headers.tenant).toBe("acme");
    // Celery writes send_task's times in the app's zone (Europe/Paris: +01:00 in winter, +02:00 in summer).
    expect(pyReport.headers.expires).toMatch(/\+0[12]:00$/);
    expect(pyPlain.headers.eta).toMatch(/\+0[12]:00$/);
    expect(normalize(tsReport)).toEqual(normalize(pyReport));
    expect(normalize(tsPlain)).toEqual(normalize(pyPlain));
  });
});
