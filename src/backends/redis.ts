import type { Redis } from "ioredis";
import type { RetryPolicy } from "../config-values.js";
import { DecodeError } from "../errors.js";
import {
  ClientClosedError,
  closeClient,
  createRedisClient,
  ensureConnecting,
  type RedisConnectionOptions,
  withRetry,
} from "../transports/redis/connection.js";
import { ResultKeys } from "../transports/redis/keys.js";
import type { RedisEndpoint } from "../transports/redis/url.js";
import {
  type ChordJoiner,
  pendingMeta,
  type ResultBackend,
  type ResultMetaRecord,
  type WaitOptions,
} from "./backend.js";
import type { MetaCodec } from "./meta-codec.js";
import { RedisChord } from "./redis-chord.js";
import { RedisResultConsumer } from "./redis-result-consumer.js";
import { StoreBatch } from "./redis-store-batch.js";

/**
 * Celery's Redis result backend (celery/backends/redis.py `RedisBackend`,
 * celery/backends/base.py `BaseKeyValueStoreBackend`), byte-compatible with
 * Python readers and writers (5.7.0):
 *
 * - metas live at `celery-task-meta-<id>` (with the result backend's own
 *   `global_keyprefix`, `_` rule), written with SETEX (`result_expires`,
 *   FAILURE uses `result_failure_expires` when set) + PUBLISH in one MULTI,
 *   never overwriting a stored SUCCESS; the writes of one event-loop turn share
 *   one MGET (the SUCCESS check) and one MULTI ({@link StoreBatch});
 * - waiting is SUBSCRIBE then GET on one shared subscriber connection
 *   ({@link RedisResultConsumer}), never a polling loop.
 */
export interface RedisBackendOptions {
  endpoint: RedisEndpoint;
  codec: MetaCodec;
  /** `result_backend_transport_options.global_keyprefix`. */
  globalKeyprefix?: string;
  /** Seconds; null/0 stores without expiry (plain SET). Default 86400. */
  resultExpires?: number | null;
  /** 5.7 `result_failure_expires`; null means `resultExpires`. */
  resultFailureExpires?: number | null;
  connection?: RedisConnectionOptions;
  /** Retry policy for reads and deletes (GET/MGET/DEL); default 3 quick retries. */
  retryPolicy?: Required<RetryPolicy>;
  /** Retry policy for storing a meta (default Celery's `BaseBackend.retry_policy`: 20 retries, 0 then 1 s apart). */
  storeRetryPolicy?: Required<RetryPolicy>;
  /** 5.7 chord join with the `.d`/`.c` keys (`compat.chordClaimKeys`); default true. */
  chordClaimKeys?: boolean;
  /** `result_chord_expires` seconds (null = `resultExpires`). */
  chordExpires?: number | null;
}

const DEFAULT_RETRY: Required<RetryPolicy> = {
  maxRetries: 3,
  intervalStart: 0,
  intervalStep: 0.2,
  intervalMax: 0.2,
};

/**
 * celery/backends/base.py `Backend.retry_policy` (5.7.0), which
 * `RedisBackend.set` runs under (`ensure` -> kombu `retry_over_time`): a
 * result already computed survives a Redis restart of up to ~19 s.
 */
export const CELERY_STORE_RETRY: Required<RetryPolicy> = {
  maxRetries: 20,
  intervalStart: 0,
  intervalStep: 1,
  intervalMax: 1,
};

function asMeta(value: unknown, taskId: string): ResultMetaRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DecodeError(`result meta for ${taskId} is not an object`);
  }
  const meta = value as Record<string, unknown>;
  if (typeof meta.status !== "string") throw new DecodeError(`result meta for ${taskId} has no status`);
  return {
    ...meta,
    status: meta.status,
    result: meta.result ?? null,
    traceback: (meta.traceback as string | null | undefined) ?? null,
    children: (meta.children as unknown[] | null | undefined) ?? null,
    date_done: (meta.date_done as string | null | undefined) ?? null,
    task_id: typeof meta.task_id === "string" ? meta.task_id : taskId,
  };
}

export class RedisBackend implements ResultBackend {
  readonly keys: ResultKeys;
  readonly endpoint: RedisEndpoint;
  readonly codec: MetaCodec;
  readonly chordJoiner: ChordJoiner;
  private readonly options: RedisBackendOptions;
  private readonly retryPolicy: Required<RetryPolicy>;
  private readonly storeRetryPolicy: Required<RetryPolicy>;
  private commandClient: Redis | null = null;
  private consumer: RedisResultConsumer | null = null;
  private closed = false;
  private readonly writes: StoreBatch;

  constructor(options: RedisBackendOptions) {
    this.options = options;
    this.endpoint = options.endpoint;
    this.codec = options.codec;
    this.keys = new ResultKeys(options.globalKeyprefix ?? "");
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY;
    this.storeRetryPolicy = options.storeRetryPolicy ?? CELERY_STORE_RETRY;
    this.writes = new StoreBatch({
      run: (what, command) => this.run(what, command, this.storeRetryPolicy),
      isSuccess: (data, taskId) => this.decodeMeta(data, taskId).status === "SUCCESS",
    });
    this.chordJoiner = new RedisChord(this, {
      claimKeys: options.chordClaimKeys ?? true,
      chordExpires: options.chordExpires ?? null,
      ...(options.resultExpires !== undefined ? { resultExpires: options.resultExpires } : {}),
    });
  }

  /** The command connection (opened on first use). Exposed for the chord join and tests. */
  get client(): Redis {
    if (this.closed) throw new ClientClosedError("the result backend is closed (app.close() was called)");
    if (this.commandClient === null) {
      this.commandClient = createRedisClient(this.endpoint, {
        ...this.options.connection,
        autoPipelining: true,
        connectionName: "celeriac-backend",
      });
    }
    return this.commandClient;
  }

  private get resultConsumer(): RedisResultConsumer {
    if (this.closed) throw new ClientClosedError("the result backend is closed (app.close() was called)");
    if (this.consumer === null) {
      this.consumer = new RedisResultConsumer({
        endpoint: this.endpoint,
        connection: this.options.connection ?? {},
        keys: this.keys,
        decode: (data, taskId) => this.decodeMeta(data, taskId),
        mget: (keys) => this.run("MGET", (c) => c.mgetBuffer(...keys)),
      });
    }
    return this.consumer;
  }

  private run<T>(
    what: string,
    command: (client: Redis) => Promise<T>,
    policy: Required<RetryPolicy> = this.retryPolicy,
  ): Promise<T> {
    const client = this.client;
    return withRetry(`result backend ${what}`, this.endpoint, policy, () => {
      ensureConnecting(client);
      return command(client);
    });
  }

  /** Decodes a stored value or PUBLISH payload into a meta (5.7 compression prefix handled by the codec). */
  decodeMeta(data: Buffer, taskId: string): ResultMetaRecord {
    return asMeta(this.codec.decode(data), taskId);
  }

  /** The TTL Celery uses for a meta in `state` (`RedisBackend._set_with_state`). */
  expiresFor(state: string): number | null {
    const base = this.options.resultExpires === undefined ? 86400 : this.options.resultExpires;
    if (state === "FAILURE" && this.options.resultFailureExpires) return this.options.resultFailureExpires;
    return base || null;
  }

  /** SETEX (or SET) + PUBLISH of the same value in one MULTI (`RedisBackend._set`), batched per turn. */
  setWithState(key: string, value: Buffer, state: string): Promise<void> {
    return this.write(key, value, state, null);
  }

  /**
   * celery/backends/base.py `_store_result`: never overwrite a SUCCESS already stored. The
   * read is part of the store (one MGET per batch), so it rides out an outage under the
   * store policy too.
   */
  storeResult(meta: ResultMetaRecord): Promise<void> {
    try {
      return this.write(this.keys.taskMeta(meta.task_id), this.codec.encode(meta), meta.status, meta.task_id);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private write(key: string, value: Buffer, state: string, guardTaskId: string | null): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ClientClosedError("the result backend is closed (app.close() was called)"));
    }
    const ttl = this.expiresFor(state);
    return this.writes.write({
      key,
      value,
      state,
      ttl: ttl ? Math.max(1, Math.round(ttl)) : null,
      guardTaskId,
    });
  }

  async getMeta(taskId: string): Promise<ResultMetaRecord> {
    const data = await this.run("GET", (c) => c.getBuffer(this.keys.taskMeta(taskId)));
    return data ? this.decodeMeta(data, taskId) : pendingMeta(taskId);
  }

  /** MGET of several metas (unknown ids read as PENDING). */
  async getMetas(taskIds: readonly string[]): Promise<ResultMetaRecord[]> {
    if (taskIds.length === 0) return [];
    const values = await this.run("MGET", (c) =>
      c.mgetBuffer(...taskIds.map((id) => this.keys.taskMeta(id))),
    );
    return taskIds.map((id, i) => {
      const data = values[i];
      return data ? this.decodeMeta(data, id) : pendingMeta(id);
    });
  }

  waitForReady(taskId: string, options: WaitOptions = {}): Promise<ResultMetaRecord> {
    try {
      return this.resultConsumer.wait(taskId, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Celery subscribes in `on_task_call`, before publishing. Waiting always
   * does SUBSCRIBE then GET, so nothing is missed without it: this is not the
   * backend's `onTaskCall` (the producer would pay a SUBSCRIBE per send), only
   * a way to start the subscription early.
   */
  async subscribeEarly(taskId: string): Promise<void> {
    await this.resultConsumer.prefetch(taskId);
  }

  async forget(taskId: string): Promise<void> {
    this.consumer?.cancel(taskId);
    await this.run("DEL", (c) => c.del(this.keys.taskMeta(taskId)));
  }

  /** `_save_group`: `{"result": GroupResult.as_tuple()}` under `celery-taskset-meta-<gid>`. */
  async saveGroup(groupId: string, result: unknown): Promise<void> {
    await this.setWithState(this.keys.groupMeta(groupId), this.codec.encode({ result }), "SUCCESS");
  }

  /** `_restore_group`: the stored `result` tuple, or null. */
  async restoreGroup(groupId: string): Promise<unknown | null> {
    const data = await this.run("GET", (c) => c.getBuffer(this.keys.groupMeta(groupId)));
    if (!data) return null;
    const meta = this.codec.decode(data) as { result?: unknown } | null;
    return meta?.result ?? null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.run("DEL", (c) => c.del(this.keys.groupMeta(groupId)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Results already computed are written before the connection goes (the batch may hold some).
    await this.writes.drain();
    if (this.closed) return;
    this.closed = true;
    await this.consumer?.close();
    if (this.commandClient) await closeClient(this.commandClient);
  }
}
