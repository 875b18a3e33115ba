import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { isNoScript, LuaScript } from "./lua-script.js";

/**
 * Taking messages off kombu's Redis lists without a window in which a killed
 * worker loses them.
 *
 * kombu pops with BRPOP and records the message in `unacked` afterwards
 * (kombu/transport/redis.py `Channel._brpop_read`, then `QoS.append`, 5.7.0):
 * a process killed between the two loses the message. Here one Lua script
 * pops and records in the same atomic step, writing exactly the entries
 * `QoS.append` writes (`ZADD unacked_index <time> <tag>`, `HSET unacked <tag>
 * [envelope, exchange, routing_key]`), so Python workers' visibility sweeps
 * restore our messages and ours restore theirs.
 *
 * A script cannot block, and Redis has no blocking command that waits on
 * several lists without popping (BLMOVE takes one source). So an idle
 * consumer waits with `BLMOVE q q RIGHT RIGHT <t>` on one queue's
 * bucket-0 list: it moves the tail element to the tail of the same list (the
 * list does not change) and returns as soon as a message is there, then the
 * script takes it. Other lists are polled every `t` seconds while idle.
 *
 * Within one call the script repeats kombu's choice for each message: the
 * first non-empty list in priority-major order (all bucket-0 keys, then
 * bucket 3, ...), queues in round-robin order, the queue that delivered
 * moved to the back (`Channel._brpop_start`, `round_robin_cycle.rotate`).
 */

/**
 * KEYS: unacked_index, unacked.
 * ARGV: now (seconds), most messages to take, number of queues, tag prefix for envelopes without
 * a delivery tag, the key prefix, number of priority steps, each step's key suffix (step-major
 * order: "" for bucket 0, then `<sep>3`, ...), then the queue names in the caller's current order.
 * Returns a flat list: key, envelope, tag, key, envelope, tag, ...
 *
 * The bucket lists are named by the script (prefix .. queue .. suffix, the names
 * `RedisKeys.queueKey` gives) instead of being passed as KEYS: with many queues the 4 keys per
 * queue per call cost more to encode and parse than the take itself (200 queues: 800 arguments
 * per call). Redis allows it outside Cluster, and kombu's Redis transport has no Cluster mode.
 *
 * An envelope the script cannot parse (not JSON, nested deeper than cjson
 * allows) is still recorded, as a JSON string: the worker logs and settles
 * it, and a sweep that finds it drops it with a log, as kombu's does.
 */
export const TAKE_SCRIPT = `
local nq = tonumber(ARGV[3])
local prefix = ARGV[5]
local ns = tonumber(ARGV[6])
local names = 6 + ns
local order = {}
for i = 1, nq do order[i] = i end
local keyOf = {}
local out = {}
for n = 1, tonumber(ARGV[2]) do
  local at, q, key, raw
  for s = 1, ns do
    for oi = 1, nq do
      local slot = (s - 1) * nq + order[oi]
      local k = keyOf[slot]
      if not k then
        k = prefix .. ARGV[names + order[oi]] .. ARGV[6 + s]
        keyOf[slot] = k
      end
      local v = redis.call('RPOP', k)
      if v then at, q, key, raw = oi, order[oi], k, v break end
    end
    if raw then break end
  end
  if not raw then break end
  local tag, ex, rk = nil, '', ARGV[names + q]
  local entry
  local ok, env = pcall(cjson.decode, raw)
  if ok and type(env) == 'table' then
    local props = env['properties']
    if type(props) == 'table' then
      if type(props['delivery_tag']) == 'string' then tag = props['delivery_tag'] end
      local di = props['delivery_info']
      if type(di) == 'table' then
        if type(di['exchange']) == 'string' then ex = di['exchange'] end
        if type(di['routing_key']) == 'string' then rk = di['routing_key'] end
      end
    end
    entry = '[' .. raw .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
  else
    entry = '[' .. cjson.encode(raw) .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
  end
  if not tag or tag == '' then tag = ARGV[4] .. n end
  redis.call('ZADD', KEYS[1], ARGV[1], tag)
  redis.call('HSET', KEYS[2], tag, entry)
  out[#out + 1] = key
  out[#out + 1] = raw
  out[#out + 1] = tag
  table.remove(order, at)
  order[#order + 1] = q
end
return out
`;

const TAKE = new LuaScript(TAKE_SCRIPT);

/** One message the script took: which list it came from, the envelope as stored, its unacked tag. */
export interface TakenMessage {
  key: string;
  raw: string;
  tag: string;
}

export interface TakeKeys {
  unacked: string;
  unackedIndex: string;
  queueKey(queue: string, priority: number): string;
}

/** The prefix and the per-step suffixes of the bucket list names, as `keys.queueKey` makes them. */
function bucketNaming(keys: TakeKeys, steps: readonly number[]): string[] {
  const prefix = keys.queueKey("", 0);
  return [prefix, String(steps.length), ...steps.map((step) => keys.queueKey("", step).slice(prefix.length))];
}

/** The EVALSHA arguments of one take: keys and argv as {@link TAKE_SCRIPT} reads them. */
function takeArgs(
  keys: TakeKeys,
  queues: readonly string[],
  steps: readonly number[],
  count: number,
): [number, ...string[]] {
  return [
    2,
    keys.unackedIndex,
    keys.unacked,
    String(Date.now() / 1000),
    String(count),
    String(queues.length),
    `${randomUUID()}-`,
    ...bucketNaming(keys, steps),
    ...queues,
  ];
}

/** The script's flat reply as messages. */
function takenOf(reply: unknown): TakenMessage[] {
  const flat = Array.isArray(reply) ? (reply as string[]) : [];
  const taken: TakenMessage[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    taken.push({ key: flat[i] as string, raw: flat[i + 1] as string, tag: flat[i + 2] as string });
  }
  return taken;
}

/**
 * Pops up to `count` messages from `queues` (in the given round-robin order)
 * and records them as unacked, atomically. Runs the cached script (EVALSHA),
 * loading it on a server that does not know it yet.
 */
export async function takeMessages(
  client: Redis,
  keys: TakeKeys,
  queues: readonly string[],
  steps: readonly number[],
  count: number,
): Promise<TakenMessage[]> {
  if (queues.length === 0 || count <= 0) return [];
  const args = takeArgs(keys, queues, steps, count);
  let reply: unknown;
  try {
    reply = await client.evalsha(TAKE.sha, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    reply = await client.eval(TAKE.text, ...args);
  }
  return takenOf(reply);
}

/** What {@link waitThenTake} saw: the wait's error (null when it returned) and what the take took. */
export interface WaitedTake {
  waitError: Error | null;
  taken: TakenMessage[];
}

/**
 * The idle wait and the take after it in ONE write: `BLMOVE door door RIGHT RIGHT <timeout>`
 * followed by the take script, pipelined on the blocking connection. Redis runs a blocked
 * client's next command as soon as the blocking one returns, so a message pushed while the
 * consumer waits is taken in the same server turn that wakes the wait, instead of one round trip
 * later (a wake reply, then a take request). When the wait times out the take still runs, and
 * sees the lists the wait does not watch. A server that does not know the script answers
 * NOSCRIPT and takes nothing; a plain take then loads the script and takes.
 */
export async function waitThenTake(
  client: Redis,
  keys: TakeKeys,
  door: string,
  timeoutSeconds: number,
  queues: readonly string[],
  steps: readonly number[],
  count: number,
): Promise<WaitedTake> {
  const pipeline = client.pipeline().blmove(door, door, "RIGHT", "RIGHT", timeoutSeconds);
  if (queues.length > 0 && count > 0) pipeline.evalsha(TAKE.sha, ...takeArgs(keys, queues, steps, count));
  const replies = (await pipeline.exec()) ?? [];
  const [waitError = null] = replies[0] ?? [];
  const [takeError = null, takeReply = null] = replies[1] ?? [];
  if (takeError === null) return { waitError, taken: takenOf(takeReply) };
  if (!isNoScript(takeError)) throw takeError;
  // The server lost the script (a restart, SCRIPT FLUSH) and took nothing: a plain take loads it.
  return { waitError, taken: await takeMessages(client, keys, queues, steps, count) };
}
