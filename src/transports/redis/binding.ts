import type { Redis } from "ioredis";
import type { RedisKeys } from "./keys.js";

/**
 * kombu 5.7 bookkeeping for queues declared with `x-expires` (the pidbox
 * node queue, pidbox reply queues, `celeryev.<uuid>`): the binding is added
 * by a script that also moves the exchange's deadline in
 * `_kombu.binding_deadlines` (`ZADD … GT`), so a 5.7 sweep does not delete the
 * table while we use it. Mirrors kombu/transport/redis.py `REFRESH_BINDING`,
 * `Channel._queue_bind`, `_binding_ttl` (max(2 × x-expires, 1 h)) and
 * `maybe_refresh_binding_expiry` (refresh every third of the ttl).
 * Before 5.7 (no deadline table) a plain SADD is what kombu does.
 */
const REFRESH_BINDING = `
redis.call('SADD', KEYS[1], ARGV[1])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[2], 'GT', ms + tonumber(ARGV[3]), ARGV[2])
`;

export const MIN_BINDING_TTL_MS = 60 * 60 * 1000;

/** kombu `_binding_ttl`: max(2 × x-expires, 1 h), in ms. */
export function bindingTtlMs(expiresSeconds: number): number {
  return Math.max(expiresSeconds * 1000 * 2, MIN_BINDING_TTL_MS);
}

export interface ExpiringBinding {
  exchange: string;
  routingKey: string;
  queue: string;
  /** The queue's `x-expires` in seconds. */
  expires: number;
}

/** Writes one binding the way kombu binds an expiring queue (5.7: script; earlier: SADD). */
export async function bindExpiring(
  client: Redis,
  keys: RedisKeys,
  binding: ExpiringBinding,
  deadlines: boolean,
): Promise<void> {
  const member = keys.bindingMember(binding.routingKey, "", binding.queue);
  const table = keys.bindingKey(binding.exchange);
  if (!deadlines) {
    await client.sadd(table, member);
    return;
  }
  await client.eval(
    REFRESH_BINDING,
    2,
    table,
    keys.bindingDeadlinesKey(),
    member,
    binding.exchange,
    String(bindingTtlMs(binding.expires)),
  );
}

/** Removes a binding (kombu `_delete`: SREM from the table and the permanent set). */
export async function unbind(client: Redis, keys: RedisKeys, binding: ExpiringBinding): Promise<void> {
  const member = keys.bindingMember(binding.routingKey, "", binding.queue);
  await client
    .multi()
    .srem(keys.bindingKey(binding.exchange), member)
    .srem(keys.bindingPermanentKey(binding.exchange), member)
    .exec();
}

/** Keeps a binding's deadline moving while it is in use; returns a stop function. */
export function keepBinding(
  client: Redis,
  keys: RedisKeys,
  binding: ExpiringBinding,
  deadlines: boolean,
  onError: (err: unknown) => void,
): () => void {
  if (!deadlines) return () => {};
  const every = bindingTtlMs(binding.expires) / 3;
  const timer = setInterval(() => {
    bindExpiring(client, keys, binding, deadlines).catch(onError);
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
