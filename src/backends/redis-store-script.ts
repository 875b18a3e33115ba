import type { Redis } from "ioredis";
import { loadDependency } from "../optional-deps.js";
import { isNoScript, LuaScript } from "../transports/redis/lua-script.js";

/**
 * The writes of one flush of {@link StoreBatch} in one script call (one command, one round trip):
 * for each entry in order, `SETEX key ttl value` (`SET` without expiry) + `PUBLISH key value`, the
 * pair celery/backends/redis.py `RedisBackend._set` (5.7.0) sends in one MULTI, so the stored value
 * and the published message are the same bytes Celery writes.
 *
 * A guarded entry (celery/backends/base.py `BaseBackend._store_result`, 5.7.0: never overwrite a
 * stored SUCCESS) is written at once when its key holds nothing, skipped when the same call already
 * wrote a SUCCESS to it, and written when the same call wrote another state to it. When the key
 * holds a value this call did not write, the script cannot tell its status (the meta may be JSON,
 * msgpack, pickle or compressed), so the entry is deferred: its stored value is returned for the
 * caller to decode, and every later entry of that key is deferred too, so the writes of one key keep
 * their order.
 *
 * KEYS: the entries' keys. ARGV: four per entry: "1" guarded / "0" plain, ttl seconds ("0": no
 * expiry), the meta's state, the encoded meta.
 * Reply per entry: 0 written, 1 skipped, 2 deferred behind an earlier entry of its key, the stored
 * value (deferred), or `{message}` when Redis refused the write.
 */
export const STORE_SCRIPT = `
local written = {}
local deferred = {}
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local at = (i - 1) * 4
  local guarded = ARGV[at + 1] == "1"
  local ttl = tonumber(ARGV[at + 2])
  local state = ARGV[at + 3]
  local value = ARGV[at + 4]
  if deferred[key] then
    out[i] = 2
  elseif guarded and written[key] == "SUCCESS" then
    out[i] = 1
  else
    local stored = false
    if guarded and written[key] == nil then stored = redis.pcall("GET", key) end
    if type(stored) == "table" then
      out[i] = {stored.err}
    elseif stored then
      deferred[key] = true
      out[i] = stored
    else
      local reply
      if ttl > 0 then reply = redis.pcall("SETEX", key, ttl, value) else reply = redis.pcall("SET", key, value) end
      if type(reply) == "table" and reply.err then
        out[i] = {reply.err}
      else
        written[key] = state
        reply = redis.pcall("PUBLISH", key, value)
        if type(reply) == "table" and reply.err then out[i] = {reply.err} else out[i] = 0 end
      end
    end
  end
end
return out
`;

const STORE = new LuaScript(STORE_SCRIPT);

/** One write for the script. */
export interface ScriptWrite {
  key: string;
  value: Buffer;
  /** Seconds; null stores without expiry. */
  ttl: number | null;
  state: string;
  guarded: boolean;
}

/** What the script did with one entry. */
export type ScriptOutcome =
  | { kind: "written" }
  | { kind: "skipped" }
  | { kind: "deferred"; stored: Buffer | null }
  | { kind: "refused"; error: Error };

const WRITTEN: ScriptOutcome = { kind: "written" };
const SKIPPED: ScriptOutcome = { kind: "skipped" };
const DEFERRED_BEHIND: ScriptOutcome = { kind: "deferred", stored: null };

/**
 * One command with Buffer replies (a deferred entry's stored value may be msgpack, pickle or
 * compressed bytes). Sent as a Command because ioredis 6's `callBuffer` loses the command name
 * when auto-pipelining is on (`executeWithAutoPipelining` shifts the arguments a second time).
 */
function sendBuffer(client: Redis, name: string, args: Array<string | Buffer | number>): Promise<unknown> {
  // ioredis is an optional dependency: loaded when used, so importing the package does not load it.
  const { Command } = loadDependency<typeof import("ioredis")>("ioredis", "A Redis result backend");
  const command = new Command(name, args, { replyEncoding: null });
  void client.sendCommand(command);
  return command.promise;
}

/** Runs {@link STORE_SCRIPT} (EVALSHA, loading it on a server that does not know it yet). */
export async function runStoreScript(
  client: Redis,
  writes: readonly ScriptWrite[],
): Promise<ScriptOutcome[]> {
  if (writes.length === 0) return [];
  const n = writes.length;
  // [sha or script, numkeys, ...keys, ...argv]: built once, the script's text swapped in on NOSCRIPT.
  const args: Array<string | Buffer | number> = new Array(2 + n * 5);
  args[0] = STORE.sha;
  args[1] = n;
  for (let i = 0; i < n; i++) {
    const w = writes[i] as ScriptWrite;
    args[2 + i] = w.key;
    const at = 2 + n + i * 4;
    args[at] = w.guarded ? "1" : "0";
    args[at + 1] = w.ttl ? String(w.ttl) : "0";
    args[at + 2] = w.state;
    args[at + 3] = w.value;
  }
  let reply: unknown;
  try {
    reply = await sendBuffer(client, "evalsha", args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    args[0] = STORE.text;
    reply = await sendBuffer(client, "eval", args);
  }
  const replies = Array.isArray(reply) ? (reply as unknown[]) : [];
  const outcomes: ScriptOutcome[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = replies[i];
    if (r === 0) outcomes[i] = WRITTEN;
    else if (r === 1) outcomes[i] = SKIPPED;
    else if (r === 2) outcomes[i] = DEFERRED_BEHIND;
    else if (Buffer.isBuffer(r)) outcomes[i] = { kind: "deferred", stored: r };
    else if (Array.isArray(r)) outcomes[i] = { kind: "refused", error: new Error(String(r[0])) };
    else outcomes[i] = { kind: "refused", error: new Error(`unexpected store script reply ${String(r)}`) };
  }
  return outcomes;
}
