import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { ConfigError } from "../errors.js";
import { isRecord } from "../protocol/guards.js";
import { parseResultTuple, type ResultTupleNode } from "../protocol/result-meta.js";
import type { ResultKeys } from "../transports/redis/keys.js";
import type { ChordErrorInfo, ChordJoin, ChordJoiner, ChordPart } from "./backend.js";
import { chordError, excDictRepr } from "./chord-results.js";
import type { MetaCodec } from "./meta-codec.js";

/**
 * The Redis chord join, the same keys and semantics as Celery's Redis
 * backend so TS and Python header tasks can share one chord
 * (celery/backends/redis.py `RedisBackend.set_chord_size`,
 * `on_chord_part_return`, 5.7.0):
 *
 * - `celery-taskset-meta-<gid>.j` ZSET of `[1, tid, state, result]` scored by
 *   `group_index`; `.s` the chord size written by the producer; `.t` the
 *   `add_to_chord` counter.
 * - 5.7 (`compat.chordClaimKeys`): one Lua script per header part with the
 *   `.d` dedup set (`"<tid>:<group_index>"`) and the `.c` claim key; only the
 *   claimant fires the body, then a cleanup script deletes the keys and
 *   leaves `.c = done` so late duplicates do nothing. The producer does
 *   `DEL .c` then `SET .s n EX ttl` (no PUBLISH).
 * - 5.2-5.6: a MULTI of ZADD/ZCOUNT/GET .t/GET .s/EXPIRE; the producer's
 *   `.s` is written like any value (SETEX + PUBLISH).
 *
 * `result_chord_ordered=False` (RPUSH lists) is not supported: Celery's
 * default, the ordered ZSET, is always used.
 */

// Our own Lua, written to the semantics of Celery 5.7's CHORD_PART_RETURN_LUA:
// KEYS .j .t .s .d <group meta key> .c; ARGV tid, value, score, expires, group_expires, claim_expires, token.
export const CHORD_PART_RETURN_SCRIPT = `
local j, t, s, d, g, c = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
if redis.call('GET', c) == 'done' then return {-1, false, false, 0} end
local member = ARGV[1] .. ':' .. ARGV[3]
if redis.call('SISMEMBER', d, member) == 0 then
  redis.call('ZADD', j, ARGV[3], ARGV[2])
  redis.call('SADD', d, member)
end
local ready = redis.call('ZCOUNT', j, '-inf', '+inf')
local ttl, gttl = tonumber(ARGV[4]), tonumber(ARGV[5])
if ttl > 0 then
  redis.call('EXPIRE', j, ttl); redis.call('EXPIRE', t, ttl)
  redis.call('EXPIRE', s, ttl); redis.call('EXPIRE', d, ttl)
  if gttl > 0 then redis.call('EXPIRE', g, gttl) end
end
local diff = redis.call('GET', t)
local size = redis.call('GET', s)
local claimed = 0
if size and ready == tonumber(size) + tonumber(diff or 0) then
  if redis.call('SET', c, ARGV[7], 'NX', 'EX', tonumber(ARGV[6])) then claimed = 1 end
end
return {ready, diff, size, claimed}
`;

// Semantics of CHORD_CLAIM_EXTEND_LUA: keep (or retake) the claim while publishing the body.
export const CHORD_CLAIM_EXTEND_SCRIPT = `
local c, s = KEYS[1], KEYS[2]
local holder = redis.call('GET', c)
if holder == ARGV[1] then return redis.call('EXPIRE', c, tonumber(ARGV[2])) end
if not holder and redis.call('EXISTS', s) == 1 then
  if redis.call('SET', c, ARGV[1], 'EX', tonumber(ARGV[2]), 'NX') then return 1 end
end
return 0
`;

// Semantics of CHORD_CLEANUP_LUA: drop the chord keys and mark it done, if we still hold the claim.
export const CHORD_CLEANUP_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  local ttl = tonumber(ARGV[2])
  if ttl and ttl > 0 then redis.call('SET', KEYS[1], 'done', 'EX', ttl) end
  return 1
end
return 0
`;

/** `[1, tid, state, result]` entries decoded, in `group_index` order. */
export interface ChordMember {
  taskId: string;
  state: string;
  result: unknown;
}

const PROPAGATE = new Set(["FAILURE", "REVOKED"]);

/** A join's outcome: the values for the body, or the ChordError (and the failed member's exception). */
type Settled = { results: unknown[] } | { error: ChordErrorInfo; cause?: unknown };

export interface RedisChordOptions {
  /** 5.7 Lua join (`.d`/`.c`) vs the 5.2-5.6 pipeline. */
  claimKeys: boolean;
  /** `result_chord_expires` (null = `result_expires`). */
  chordExpires?: number | null;
  /** `result_expires` (default 86400; 0/null = no expiry). */
  resultExpires?: number | null;
  /** `result_chord_join_timeout` seconds (Celery default 3.0): claim TTL = max(5, 2 x this). */
  joinTimeout?: number;
}

/** What the join uses of the Redis result backend (its connection, keys, codec and meta write). */
export interface ChordStore {
  readonly client: Redis;
  readonly keys: ResultKeys;
  readonly codec: MetaCodec;
  setWithState(key: string, value: Buffer, state: string): Promise<void>;
}

export class RedisChord implements ChordJoiner {
  constructor(
    private readonly backend: ChordStore,
    private readonly options: RedisChordOptions,
  ) {}

  private get client(): Redis {
    return this.backend.client;
  }

  private key(gid: string, suffix: "j" | "t" | "s" | "d" | "c"): string {
    return this.backend.keys.chordKey(gid, suffix);
  }

  /** `BaseKeyValueStoreBackend.chord_expires`. */
  private get chordTtl(): number {
    const base = this.options.resultExpires === undefined ? 86400 : (this.options.resultExpires ?? 0);
    return Math.round(this.options.chordExpires ?? base) || 0;
  }

  /** `_chord_result_expires`: the group meta never outlives less than `result_expires`. */
  private get groupTtl(): number {
    const base = this.options.resultExpires === undefined ? 86400 : (this.options.resultExpires ?? 0);
    const ttl = this.chordTtl;
    return !ttl || !base ? 0 : Math.max(ttl, Math.round(base));
  }

  /** `RedisBackend.set_chord_size`, per compat. */
  async setChordSize(groupId: string, size: number): Promise<void> {
    if (!Number.isInteger(size) || size < 0)
      throw new ConfigError("chord", `chord size must be an integer >= 0 (got ${size})`);
    const skey = this.key(groupId, "s");
    if (this.options.claimKeys) {
      // Reapplying a frozen chord reuses its group id: drop an old run's claim/done marker first.
      await this.client.del(this.key(groupId, "c"));
      const ttl = this.chordTtl;
      if (ttl > 0) await this.client.set(skey, String(size), "EX", ttl);
      else await this.client.set(skey, String(size));
      return;
    }
    await this.backend.setWithState(skey, Buffer.from(String(size)), "SUCCESS");
  }

  /**
   * `RedisBackend.add_to_chord` (5.7.0): `INCR .t`, the count of header parts added while the
   * chord runs; the join waits for `.s + .t` parts. No TTL is set here: the join expires `.t`.
   */
  async addToChord(groupId: string): Promise<void> {
    await this.client.incrby(this.key(groupId, "t"), 1);
  }

  /**
   * `RedisBackend.apply_chord`: a header with a group among its results (a chain ending in a
   * group, say) is saved as a GroupResult, so the join gives the body that shape
   * ({@link savedHeader}); a flat header is not saved.
   */
  async applyChord(groupId: string, headerTuples: readonly unknown[]): Promise<void> {
    const complex = headerTuples.some((t) => Array.isArray(t) && Array.isArray(t[1]));
    if (!complex) return;
    const key = this.backend.keys.groupMeta(groupId);
    await this.backend.setWithState(
      key,
      this.backend.codec.encode({ result: [[groupId, null], headerTuples] }),
      "SUCCESS",
    );
  }

  private encodeMember(part: ChordPart, state: string, result: unknown): Buffer {
    return this.backend.codec.encode([1, part.id, state, result]);
  }

  private decodeMembers(raw: Buffer[]): ChordMember[] {
    return raw.map((data) => {
      const v = this.backend.codec.decode(data);
      if (!Array.isArray(v) || v.length < 4) return { taskId: "?", state: "FAILURE", result: v };
      return { taskId: String(v[1]), state: String(v[2]), result: v[3] };
    });
  }

  /** `_unpack_chord_result`: values in order, or the ChordError of the first failed member. */
  private settle(members: ChordMember[]): Settled {
    const results: unknown[] = [];
    for (const m of members) {
      if (PROPAGATE.has(m.state))
        return {
          error: chordError(`Dependency ${m.taskId} raised ${excDictRepr(m.result)}`),
          cause: m.result,
        };
      results.push(m.result);
    }
    return { results };
  }

  /**
   * `GroupResult.restore(gid)`: the header the producer saved because one of its members is
   * itself a group (`RedisBackend.apply_chord`); null when none was saved.
   */
  private async savedHeader(gid: string): Promise<ResultTupleNode[] | null> {
    const raw = await this.client.getBuffer(this.backend.keys.groupMeta(gid));
    if (raw === null) return null;
    const meta = this.backend.codec.decode(raw);
    if (!isRecord(meta)) return null;
    return parseResultTuple(meta.result, `group ${gid}`).children ?? [];
  }

  /**
   * `header_result.join_native(propagate=True)` over the saved header: each value in the shape
   * saved (a group member gives the list of its members' values), so nesting survives the join.
   * A failed member raises there, which Celery turns into `ChordError('Join error: ...')`.
   */
  private async joinSaved(nodes: readonly ResultTupleNode[]): Promise<Settled> {
    const ids: string[] = [];
    const collect = (n: ResultTupleNode) =>
      n.children === null ? ids.push(n.id) : n.children.forEach(collect);
    nodes.forEach(collect);
    const raw =
      ids.length === 0
        ? []
        : await this.client.mgetBuffer(...ids.map((id) => this.backend.keys.taskMeta(id)));
    const metas = new Map<string, Record<string, unknown>>();
    raw.forEach((data, i) => {
      const meta = data === null ? null : this.backend.codec.decode(data);
      if (isRecord(meta)) metas.set(ids[i] as string, meta);
    });
    for (const id of ids) {
      const meta = metas.get(id);
      if (meta !== undefined && PROPAGATE.has(String(meta.status)))
        return { error: chordError(`Join error: ${excDictRepr(meta.result)}`) };
    }
    const value = (n: ResultTupleNode): unknown =>
      n.children === null ? (metas.get(n.id)?.result ?? null) : n.children.map(value);
    return { results: nodes.map(value) };
  }

  /**
   * `on_chord_part_return` for one finished header task. `result` is the
   * value already encoded as Celery stores it (the exception dict for
   * FAILURE/REVOKED).
   */
  async onChordPartReturn(part: ChordPart, state: string, result: unknown): Promise<ChordJoin> {
    const gid = part.groupId;
    if (!gid || !part.id) return { kind: "waiting" };
    return this.options.claimKeys
      ? this.joinWithClaim(part, gid, state, result)
      : this.joinPipeline(part, gid, state, result);
  }

  private async joinWithClaim(
    part: ChordPart,
    gid: string,
    state: string,
    result: unknown,
  ): Promise<ChordJoin> {
    const joinTimeout = this.options.joinTimeout ?? 3;
    const claimTtl = Math.max(5, Math.trunc(joinTimeout * 2));
    const doneTtl = Math.trunc(Math.max(claimTtl * 2, 300));
    const token = randomBytes(16).toString("hex");
    const keys = [
      this.key(gid, "j"),
      this.key(gid, "t"),
      this.key(gid, "s"),
      this.key(gid, "d"),
      this.backend.keys.groupMeta(gid),
      this.key(gid, "c"),
    ];
    const score = part.groupIndex === null ? "+inf" : String(part.groupIndex);
    const reply = (await this.client.eval(
      CHORD_PART_RETURN_SCRIPT,
      keys.length,
      ...keys,
      part.id,
      this.encodeMember(part, state, result),
      score,
      String(this.chordTtl),
      String(this.groupTtl),
      String(claimTtl),
      token,
    )) as [number, string | null, string | null, number];
    const [ready, diff, size, claimed] = reply;
    if (ready === -1 || !size || claimed !== 1) return { kind: "waiting" };
    if (ready !== Number(size) + Number(diff ?? 0)) return { kind: "waiting" };
    const saved = await this.savedHeader(gid);
    const settled =
      saved !== null
        ? await this.joinSaved(saved)
        : this.settle(this.decodeMembers(await this.client.zrangeBuffer(keys[0] as string, "0", "-1")));
    const [j, t, s, d, , c] = keys as [string, string, string, string, string, string];
    if ("error" in settled) {
      // Celery drops `.s` so a late copy of a header task cannot fail the chord again; results stay.
      return {
        kind: "failed",
        error: settled.error,
        cause: settled.cause,
        done: async () => void (await this.client.del(s)),
      };
    }
    await this.client.eval(CHORD_CLAIM_EXTEND_SCRIPT, 2, c, s, token, String(Math.max(claimTtl * 2, 21)));
    return {
      kind: "ready",
      results: settled.results,
      done: async () =>
        void (await this.client.eval(CHORD_CLEANUP_SCRIPT, 5, c, j, t, s, d, token, String(doneTtl))),
    };
  }

  private async joinPipeline(
    part: ChordPart,
    gid: string,
    state: string,
    result: unknown,
  ): Promise<ChordJoin> {
    const j = this.key(gid, "j");
    const t = this.key(gid, "t");
    const s = this.key(gid, "s");
    const multi = this.client.multi();
    multi.zadd(
      j,
      part.groupIndex === null ? "+inf" : String(part.groupIndex),
      this.encodeMember(part, state, result),
    );
    multi.zcount(j, "-inf", "+inf");
    multi.get(t);
    multi.get(s);
    const ttl = this.options.resultExpires === undefined ? 86400 : (this.options.resultExpires ?? 0);
    if (ttl) {
      multi.expire(j, ttl);
      multi.expire(t, ttl);
      multi.expire(s, ttl);
    }
    const replies = (await multi.exec()) ?? [];
    const ready = Number(replies[1]?.[1] ?? 0);
    const diff = Number((replies[2]?.[1] as string | null) ?? 0);
    const size = replies[3]?.[1] as string | null;
    if (!size || ready !== Number(size) + diff) return { kind: "waiting" };
    const saved = await this.savedHeader(gid);
    const settled =
      saved !== null
        ? await this.joinSaved(saved)
        : this.settle(this.decodeMembers(await this.client.zrangeBuffer(j, "0", "-1")));
    const cleanup = async () => void (await this.client.del(j, t, s));
    if ("error" in settled)
      return { kind: "failed", error: settled.error, cause: settled.cause, done: async () => {} };
    return { kind: "ready", results: settled.results, done: cleanup };
  }
}
