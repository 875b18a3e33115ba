import type { CompatProfile } from "../compat.js";
import { LATEST_COMPAT } from "../compat.js";
import { CeleryError, ConnectionLostError, DecodeError } from "../errors.js";
import type { AmqpConsumer } from "../transports/amqp/consumer.js";
import { rpcReplyQueue } from "../transports/amqp/topology.js";
import type { AmqpTransport } from "../transports/amqp/transport.js";
import type { Delivery } from "../transports/transport.js";
import { pendingMeta, type ResultBackend, type ResultMetaRecord, type WaitOptions } from "./backend.js";
import type { MetaCodec } from "./meta-codec.js";
import { RpcReplyStore } from "./rpc-replies.js";

/**
 * Celery's RPC result backend (`rpc://`, celery/backends/rpc.py `RPCBackend`):
 * results are AMQP messages, not stored state.
 *
 * - Worker side (`storeResult`): publish the meta to the default exchange
 *   with routing key = the task's `reply_to` and `correlation_id` = the
 *   task's correlation id (or its id), delivery_mode 1 (`result_persistent`
 *   False), nothing at all when `reply_to` is empty (`RPCBackend.store_result`,
 *   `destination_for`). Body: 5.7 sends the full result meta with `task_id`
 *   last; 5.2-5.6 send `{task_id, status, result, traceback, children}`
 *   (`RPCBackend._to_result`).
 * - Producer side: one reply queue per app named by its oid, declared as
 *   Celery does (`RPCBackend.binding`: durable on 5.7, auto-delete,
 *   `x-expires` = result_expires) before the first task is sent
 *   (`on_task_call`); one consumer routes every reply by `correlation_id`
 *   (falling back to the body's `task_id`), keeping the latest state per id.
 *   Every reply is acked once it is in memory (5.7 acks final states;
 *   `on_out_of_band_result`).
 * - No stored state: `forget` only drops the local copy (as `RPCBackend.forget`),
 *   groups are unsupported (`save_group`/`restore_group` raise in Celery too).
 */

/** Where a worker sends a result: the request's `reply_to` and `correlation_id`. */
export interface ResultDestination {
  replyTo: string | null | undefined;
  correlationId?: string | null | undefined;
}

export interface RpcBackendOptions {
  /** The AMQP broker transport (the RPC backend rides on the broker connection, as Celery's). */
  transport: AmqpTransport;
  /** This app's reply queue name (`app.oid`, Celery's `thread_oid`). */
  oid: string;
  codec: MetaCodec;
  /** Content type/encoding of `codec` (default JSON: application/json, utf-8). */
  contentType?: string;
  contentEncoding?: string;
  compat?: CompatProfile;
  /** Seconds (`result_expires`, default 86400): the reply queue's `x-expires`. */
  resultExpires?: number | null;
  /** `result_persistent` (default false): delivery_mode 2 instead of 1. */
  resultPersistent?: boolean;
  /** Close the transport with the backend (when it was made for this backend only). */
  ownsTransport?: boolean;
}

/** Celery's error text for group calls on this backend. */
export class RpcUnsupportedError extends CeleryError {
  constructor(operation: string) {
    super("ERR_NOT_SUPPORTED", `${operation} is not supported by this backend (rpc://).`);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DecodeError("RPC result reply is not an object");
  }
  return value as Record<string, unknown>;
}

/** The reply body Python's rpc backend of the given minor writes (and so reads back). */
export function rpcReplyBody(meta: ResultMetaRecord, compat: CompatProfile): Record<string, unknown> {
  if (!compat.rpcFullMeta) {
    return {
      task_id: meta.task_id,
      status: meta.status,
      result: meta.result,
      traceback: meta.traceback,
      children: meta.children,
    };
  }
  const { task_id, ...rest } = meta;
  return { ...rest, task_id };
}

export class RpcBackend implements ResultBackend {
  readonly oid: string;
  private readonly options: RpcBackendOptions;
  private readonly compat: CompatProfile;
  private readonly replies = new RpcReplyStore();
  private consumer: AmqpConsumer | null = null;
  private starting: Promise<void> | null = null;
  private closed = false;

  constructor(options: RpcBackendOptions) {
    this.options = options;
    this.oid = options.oid;
    this.compat = options.compat ?? LATEST_COMPAT;
  }

  private get transport(): AmqpTransport {
    return this.options.transport;
  }

  /** The reply queue as this compat's Celery declares it. */
  replyQueue() {
    return rpcReplyQueue(this.oid, {
      durable: this.compat.rpcFullMeta, // 5.7 made it durable together with the full meta
      resultExpires: this.options.resultExpires === undefined ? 86400 : this.options.resultExpires,
    });
  }

  /** Declares the reply queue and starts the one reply consumer (idempotent). */
  private ensureConsuming(): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionLostError("the RPC backend is closed"));
    if (this.consumer !== null) return Promise.resolve();
    this.starting ??= (async () => {
      const queue = this.replyQueue();
      await this.transport.declareRaw(`rpc\u0000${this.oid}`, {
        exchanges: [],
        queues: [queue],
        bindings: [],
      });
      this.consumer = await this.transport.consumeDeclared({
        queues: [{ name: queue.name, exchange: "", exchangeType: "direct", routingKey: queue.name }],
        prefetch: 0,
        onMessage: (delivery) => this.onReply(delivery),
      });
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private onReply(delivery: Delivery): void {
    try {
      const payload = asRecord(this.options.codec.decode(Buffer.from(delivery.body)));
      const correlation = delivery.properties.correlation_id;
      const taskId =
        typeof correlation === "string" && correlation !== ""
          ? correlation
          : typeof payload.task_id === "string"
            ? payload.task_id
            : null;
      if (taskId !== null && typeof payload.status === "string") {
        this.replies.record(taskId, {
          ...payload,
          status: payload.status,
          result: payload.result ?? null,
          traceback: (payload.traceback as string | null | undefined) ?? null,
          children: (payload.children as unknown[] | null | undefined) ?? null,
          date_done: (payload.date_done as string | null | undefined) ?? null,
          task_id: typeof payload.task_id === "string" ? payload.task_id : taskId,
        });
      }
    } catch {
      // An undecodable reply is dropped (acked) as kombu's consumer would after a decode error.
    }
    void delivery.ack();
  }

  /** Celery `on_task_call`: declare the reply queue (and listen on it) before the task is sent. */
  async onTaskCall(_taskId: string): Promise<void> {
    await this.ensureConsuming();
  }

  /**
   * Worker side: publish the meta to the request's reply queue. Without a
   * `reply_to` nothing is sent (Celery does the same).
   */
  async storeResult(meta: ResultMetaRecord, destination?: ResultDestination): Promise<void> {
    if (destination === undefined) {
      throw new CeleryError(
        "ERR_RPC_DESTINATION",
        `RPC backend missing task request for ${JSON.stringify(meta.task_id)}: storeResult needs {replyTo, correlationId}`,
      );
    }
    const replyTo = destination.replyTo;
    if (!replyTo) return;
    const body = this.options.codec.encode(rpcReplyBody(meta, this.compat));
    await this.transport.publish({
      body,
      contentType: this.options.contentType ?? "application/json",
      contentEncoding: this.options.contentEncoding ?? "utf-8",
      headers: {},
      properties: {
        correlation_id: destination.correlationId || meta.task_id,
        delivery_mode: this.options.resultPersistent ? 2 : 1,
        priority: 0,
      },
      exchange: "",
      routingKey: replyTo,
    });
  }

  /** The latest state received for the id, or PENDING. */
  async getMeta(taskId: string): Promise<ResultMetaRecord> {
    await this.ensureConsuming();
    return this.replies.get(taskId) ?? pendingMeta(taskId);
  }

  async waitForReady(taskId: string, options?: WaitOptions): Promise<ResultMetaRecord> {
    await this.ensureConsuming();
    return this.replies.wait(taskId, options);
  }

  /** `RPCBackend.forget`: drops the local copy; there is nothing stored server-side. */
  async forget(taskId: string): Promise<void> {
    this.replies.forget(taskId);
  }

  async saveGroup(_groupId: string, _meta: unknown): Promise<void> {
    throw new RpcUnsupportedError("save_group");
  }

  async restoreGroup(_groupId: string): Promise<unknown | null> {
    throw new RpcUnsupportedError("restore_group");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting?.catch(() => {});
    this.replies.rejectAll(new ConnectionLostError("the RPC backend was closed"));
    if (this.consumer) await this.consumer.close().catch(() => {});
    this.consumer = null;
    if (this.options.ownsTransport) await this.transport.close();
  }
}

/** An RPC backend on the app's AMQP transport (`rpc://`). */
export function createRpcBackend(options: RpcBackendOptions): RpcBackend {
  return new RpcBackend(options);
}
