/**
 * The visibility restore reads `unacked` entries with the one envelope codec, and ends where
 * kombu 5.7's own `QoS.restore_visible` ends on the same entries (issue 11 item 5). Two fresh
 * Redis dbs get identical entries as kombu's `QoS.append` writes them; kombu restores one, our
 * RedisQoS the other; every key is then compared byte for byte:
 * - an envelope with NaN and an int above 2^53 (kombu's JSON writes both) is restored with them;
 * - a priority-6 envelope goes to the priority-6 list; one without headers is pushed unmarked;
 * - an entry whose envelope is a string is dropped ("Could not restore message");
 * - an entry that is not JSON stays in `unacked` for the next sweep (kombu's transaction aborts).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisKeys } from "../../src/transports/redis/keys.js";
import { type QosKeys, RedisQoS } from "../../src/transports/redis/qos.js";
import { runPython } from "../support/celery.js";
import { allocateRedisDb, uniqueQueue } from "../support/services.js";

const queue = uniqueQueue("restore");
const envelope = (
  tag: string,
  extra: string,
  priority = 0,
  headers = '"headers": {"id": "ID", "x": NaN}, ',
) =>
  `{"body": "W1tdLCB7fSwge31d", "content-encoding": "utf-8", "content-type": "application/json", ${headers}"properties": {"delivery_info": {"exchange": "", "routing_key": "${queue}"}, "priority": ${priority}, "body_encoding": "base64", "delivery_tag": "${tag}"${extra}}}`.replace(
    '"ID"',
    JSON.stringify(tag),
  );
const entry = (body: string) => `[${body}, "", "${queue}"]`;

/** What kombu's QoS.append stores (`dumps([message._raw, EX, RK])`), by tag, with its age in seconds. */
const ENTRIES: Array<[tag: string, stored: string, age: number]> = [
  ["t-nan", entry(envelope("t-nan", ', "big": 123456789012345678901234567890')), 1000],
  ["t-prio", entry(envelope("t-prio", "", 6)), 1100],
  ["t-noheaders", entry(envelope("t-noheaders", "", 0, "")), 1200],
  ["t-string", `["just a string", "", "${queue}"]`, 1300],
  // Oldest, so kombu reaches it last: its loads() raises out of restore_visible.
  ["t-notjson", `[{"body": "e30=", "properties": {"delivery_tag": "t-notjson"`, 5000],
];

let urls: { ours: string; kombus: string };
const clients: Redis[] = [];

async function seed(url: string): Promise<Redis> {
  const client = new Redis(url);
  clients.push(client);
  const keys = new RedisKeys(0);
  const now = Date.now() / 1000;
  for (const [tag, stored, age] of ENTRIES) {
    await client.zadd(keys.unackedIndexKey(), String(now - age), tag);
    await client.hset(keys.unackedKey(), tag, stored);
  }
  return client;
}

async function state(client: Redis): Promise<Record<string, unknown>> {
  const keys = new RedisKeys(0);
  const lists: Record<string, string[]> = {};
  for (const key of keys.queueKeys(queue)) lists[JSON.stringify(key)] = await client.lrange(key, "0", "-1");
  return {
    unacked: (await client.hkeys(keys.unackedKey())).sort(),
    index: (await client.zrange(keys.unackedIndexKey(), "0", "-1")).sort(),
    lists,
  };
}

beforeAll(async () => {
  urls = { ours: (await allocateRedisDb()).url, kombus: (await allocateRedisDb()).url };
});

afterAll(() => {
  for (const c of clients) c.disconnect();
});

describe("visibility restore through the kombu-JSON envelope codec", () => {
  it("ends where kombu 5.7's restore_visible ends, byte for byte", async () => {
    const ours = await seed(urls.ours);
    const theirs = await seed(urls.kombus);

    const run = await runPython(
      `
      import sys
      from kombu import Connection
      with Connection(sys.argv[1], transport_options={"visibility_timeout": 10}) as conn:
          try:
              conn.default_channel.qos.restore_visible(num=100)
              print("restored")
          except Exception as exc:
              print("raised", type(exc).__name__)
      `,
      { args: [urls.kombus] },
    );
    expect(run.stdout.trim()).toMatch(/^raised /); // kombu's loads() raised on t-notjson

    const k = new RedisKeys(0);
    const keys: QosKeys = {
      unacked: k.unackedKey(),
      unackedIndex: k.unackedIndexKey(),
      unackedMutex: k.unackedMutexKey(),
      bindingTable: (exchange) => k.bindingKey(exchange),
      queueKey: (q, priority) => k.queueKey(q, priority),
    };
    const reports: string[] = [];
    const qos = new RedisQoS(ours, {
      keys,
      visibilityTimeout: 10,
      onError: (err) => reports.push(err.message),
    });
    expect(await qos.restoreVisible()).toBe(3);

    const ourState = await state(ours);
    expect(ourState).toEqual(await state(theirs));
    expect(ourState.unacked).toEqual(["t-notjson"]);
    const restored = Object.values(ourState.lists as Record<string, string[]>).flat();
    expect(
      restored.some((text) => text.includes('"x": NaN') && text.includes("123456789012345678901234567890")),
    ).toBe(true);
    expect(reports.some((r) => /Could not restore message t-string/.test(r))).toBe(true);
    expect(reports.some((r) => /t-notjson: .*left in unacked for the next sweep/.test(r))).toBe(true);
  });
});
