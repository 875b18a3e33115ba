import type { ChainableCommander, Redis } from "ioredis";
import type { RetryPolicy } from "../../config-values.js";
import { CeleryError, ConnectionLostError } from "../../errors.js";
import type { OutgoingMessage, QueueSpec } from "../transport.js";
import { atTurnEnd } from "../turn-end.js";
import { ensureConnecting, withRetry } from "./connection.js";
import type { BodyEncoding } from "./envelope.js";
import { type EncodedEnvelope, EnvelopeEncoder } from "./envelope-encoder.js";
import type { RedisKeys } from "./keys.js";
import type { RedisEndpoint } from "./url.js";

/**
 * The producer half of kombu's Redis transport
 * (kombu/transport/redis.py `Channel._put`, `_put_fanout`, `_queue_bind`;
 * kombu/transport/virtual/base.py `basic_publish`, `_lookup`;
 * kombu/transport/virtual/exchange.py Direct/Topic/Fanout `lookup`).
 *
 * Throughput: every publish issued in the same tick is written in ONE
 * pipeline, and consecutive pushes to the same list key become one
 * multi-value `LPUSH key v1 v2 ...`. `LPUSH` inserts its values left to
 * right, so the consumer's `BRPOP` (right end) still sees v1 first: order
 * within a caller is kept, and there is no round trip per message.
 *
 * Declarations: before the first publish to a queue, `SADD
 * _kombu.binding.<exchange>` (+ `_kombu.binding_permanent.<exchange>` on
 * compat 5.7) in the same pipeline, ahead of the push, as Celery's
 * `send_task_message(declare=[queue])` + kombu `maybe_declare` do once per
 * connection. The cache is cleared on reconnect (kombu clears
 * `declared_entities` when the connection is reset).
 */
export interface RedisPublisherOptions {
  client: Redis;
  keys: RedisKeys;
  endpoint: RedisEndpoint;
  /** kombu 5.7: pair every binding with `_kombu.binding_permanent.<exchange>`. */
  permanentBindings: boolean;
  /** `task_publish_retry_policy`, or null for `task_publish_retry=False`. */
  retryPolicy: Required<RetryPolicy> | null;
  bodyEncoding?: BodyEncoding;
  /** Exchange types this process knows (kombu keeps them in process state); unknown ones are direct. */
  exchangeTypes?: ReadonlyMap<string, "direct" | "topic" | "fanout">;
  /** `waitForReplicas` (Celeriac only): `WAIT` for this many replicas after each write (0: never). */
  waitForReplicas?: number;
}

/** How long one write waits for its replicas before it counts as failed (and is retried). */
const WAIT_FOR_REPLICAS_MS = 1000;

type Op =
  | { kind: "push"; key: string; value: string }
  | { kind: "publish"; channel: string; value: string }
  | { kind: "bind"; spec: QueueSpec };

interface Batch {
  ops: Op[];
  /** Settles once the batch is written or has failed: every publish in it shares this promise. */
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  sent: boolean;
}

function newBatch(): Batch {
  let resolve: () => void = () => {};
  let reject: (err: unknown) => void = () => {};
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { ops: [], done, resolve, reject, sent: false };
}

/** Ops per pipeline write; larger bursts are split into several back-to-back writes. */
const MAX_BATCH_OPS = 1000;

/** Escapes regex metacharacters except the ones kombu keeps (`.#*`), as kombu's `escape_regex`. */
function topicPattern(routingKey: string): string {
  const wildcards: Record<string, string> = { "*": ".*?[^\\.]", "#": ".*?" };
  const escaped = routingKey.replace(/[\\^$+?()[\]{}|]/g, "\\$&");
  return `^${escaped
    .split(".")
    .map((word) => wildcards[word] ?? word)
    .join("\\.")}$`;
}

export class RedisPublisher {
  private readonly options: RedisPublisherOptions;
  private readonly client: Redis;
  private readonly keys: RedisKeys;
  private readonly encoder: EnvelopeEncoder;
  private readonly declared = new Set<string>();
  private readonly specKeys = new WeakMap<QueueSpec, string>();
  private readonly regexCache = new Map<string, RegExp>();
  private batch: Batch | null = null;
  /** Set while a named-exchange publish looks up its bindings, so later publishes queue behind it. */
  private barrier: Promise<void> | null = null;
  /** Batches being written (for {@link drain}). */
  private readonly inflight = new Set<Promise<void>>();

  constructor(options: RedisPublisherOptions) {
    this.options = options;
    this.client = options.client;
    this.keys = options.keys;
    this.encoder = new EnvelopeEncoder(options.bodyEncoding ?? "base64");
    this.client.on("ready", () => this.declared.clear());
  }

  /** The binding-table member kombu writes for a queue (topic exchanges store a regex pattern). */
  bindingOf(spec: QueueSpec): { key: string; permanentKey: string; member: string } {
    const pattern = spec.exchangeType === "topic" ? topicPattern(spec.routingKey) : "";
    return {
      key: this.keys.bindingKey(spec.exchange),
      permanentKey: this.keys.bindingPermanentKey(spec.exchange),
      member: this.keys.bindingMember(spec.routingKey, pattern, spec.name),
    };
  }

  /** Declares (binds) queues now, as kombu `Queue.declare` does on Redis. */
  declare(queues: readonly QueueSpec[]): Promise<void> {
    return this.enqueue(queues.map((spec) => ({ kind: "bind", spec })));
  }

  /**
   * Publishes one message. `declare` lists queues to bind first (once per
   * connection). Resolves once Redis has acknowledged the push.
   */
  publish(message: OutgoingMessage, declare: readonly QueueSpec[] = []): Promise<void> {
    // Not async on the hot path: no promise of its own (the batch's), no extra ticks.
    if (this.barrier) return this.barrier.then(() => this.publish(message, declare));
    const binds: Op[] = [];
    for (const spec of declare) {
      if (!this.declared.has(this.declaredKey(spec))) binds.push({ kind: "bind", spec });
    }
    let envelope: EncodedEnvelope;
    try {
      envelope = this.encoder.encode(message);
    } catch (err) {
      // An unencodable message (a bigint header) rejects like every other publish failure.
      return Promise.reject(err);
    }
    if (message.exchange === "") {
      // Anonymous exchange: the routing key is the queue (virtual `_lookup`).
      const key = this.keys.queueKey(message.routingKey, envelope.priority);
      binds.push({ kind: "push", key, value: envelope.value });
      return this.enqueue(binds);
    }
    const type = this.options.exchangeTypes?.get(message.exchange) ?? "direct";
    if (type === "fanout") {
      const channel = this.keys.fanoutPublishChannel(message.exchange, message.routingKey);
      return this.enqueue([...binds, { kind: "publish", channel, value: envelope.value }]);
    }
    return this.publishNamed(message, binds, envelope, type);
  }

  /**
   * Named direct/topic exchange: bindings first (so the table lookup sees them), then
   * SMEMBERS + match + LPUSH to every matching queue. Later publishes wait behind us.
   */
  private async publishNamed(
    message: OutgoingMessage,
    binds: Op[],
    envelope: EncodedEnvelope,
    type: "direct" | "topic",
  ): Promise<void> {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.barrier = gate;
    let pushed: Promise<void>;
    try {
      if (binds.length > 0) await this.enqueue(binds);
      const queues = await this.lookup(message.exchange, message.routingKey, type);
      if (queues.length === 0) {
        // kombu would drop it (no deadletter queue by default); we refuse to drop silently.
        throw new CeleryError(
          "ERR_UNROUTABLE",
          `No queue is bound to exchange ${JSON.stringify(message.exchange)} with routing key ${JSON.stringify(message.routingKey)} (_kombu.binding.${message.exchange} has no match); message not sent`,
        );
      }
      const { value, priority } = envelope;
      pushed = this.enqueue(
        queues.map((q) => ({ kind: "push" as const, key: this.keys.queueKey(q, priority), value })),
      );
    } finally {
      if (this.barrier === gate) this.barrier = null;
      release();
    }
    return pushed;
  }

  /** Queues bound to `exchange` that match `routingKey` (kombu `ExchangeType.lookup`), deduplicated. */
  async lookup(exchange: string, routingKey: string, type: "direct" | "topic" = "direct"): Promise<string[]> {
    const members = await withRetry(
      "publish (binding lookup)",
      this.options.endpoint,
      this.options.retryPolicy,
      () => {
        ensureConnecting(this.client);
        return this.client.smembers(this.keys.bindingKey(exchange));
      },
    );
    const queues = new Set<string>();
    for (const member of members) {
      const parsed = this.keys.parseBindingMember(member);
      if (!parsed) continue;
      if (
        type === "direct" ? parsed.routingKey === routingKey : this.topicMatch(parsed.pattern, routingKey)
      ) {
        queues.add(parsed.queue);
      }
    }
    return [...queues];
  }

  private topicMatch(pattern: string, routingKey: string): boolean {
    let re = this.regexCache.get(pattern);
    if (!re) {
      re = new RegExp(pattern, "u");
      this.regexCache.set(pattern, re);
    }
    return re.test(routingKey);
  }

  private declaredKey(spec: QueueSpec): string {
    // A route's queue spec is one object per queue (the router keeps it): no string per send.
    let key = this.specKeys.get(spec);
    if (key === undefined) {
      key = `${spec.exchange}\u0000${spec.routingKey}\u0000${spec.name}`;
      this.specKeys.set(spec, key);
    }
    return key;
  }

  private enqueue(ops: Op[]): Promise<void> {
    if (this.batch === null) {
      const batch = newBatch();
      this.batch = batch;
      // Everything published in this tick joins the batch; flush once the tick's code has run.
      // With nothing in flight (a lone send, or the first of a burst) that is the end of this
      // turn's microtask drain (a loop of sendTask calls, a Promise.all all join), without the
      // wait for the loop's check phase a lone message paid for nothing. While a batch is being
      // written, setImmediate gathers what the next turns publish, so a sustained burst still
      // goes out in large pipelines.
      if (this.inflight.size === 0) atTurnEnd(() => this.send(batch));
      else setImmediate(() => this.send(batch));
    }
    const batch = this.batch;
    for (const op of ops) batch.ops.push(op);
    // A full batch goes out at once, so Redis works while we build the next one (2 cores)
    // and a burst does not pile up in memory.
    if (batch.ops.length >= MAX_BATCH_OPS) this.send(batch);
    // One promise per batch, not per message: a burst's messages all wait for Redis at once.
    return batch.done;
  }

  private send(batch: Batch): void {
    if (batch.sent) return;
    batch.sent = true;
    if (this.batch === batch) this.batch = null;
    const flushing = this.flush(batch);
    this.inflight.add(flushing);
    void flushing.finally(() => this.inflight.delete(flushing));
  }

  /**
   * Resolves once every publish accepted so far has been written (or has failed): the batch
   * waiting for its tick goes out now. The transport's `close()` waits for this before it
   * closes the connection those publishes need.
   */
  async drain(): Promise<void> {
    while (this.batch !== null || this.barrier !== null || this.inflight.size > 0) {
      if (this.batch !== null) this.send(this.batch);
      await Promise.allSettled([...this.inflight, ...(this.barrier ? [this.barrier] : [])]);
    }
  }

  private async flush(batch: Batch): Promise<void> {
    try {
      await withRetry("publish", this.options.endpoint, this.options.retryPolicy, () =>
        this.write(batch.ops),
      );
      for (const op of batch.ops) if (op.kind === "bind") this.declared.add(this.declaredKey(op.spec));
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    }
  }

  /** One pipeline for the whole batch; consecutive pushes to one key merged into one LPUSH. */
  private async write(ops: readonly Op[]): Promise<void> {
    ensureConnecting(this.client);
    const pipeline: ChainableCommander = this.client.pipeline();
    const seenBinds = new Set<string>();
    let runKey: string | null = null;
    let run: string[] = [];
    const flushRun = () => {
      if (runKey !== null && run.length > 0) pipeline.lpush(runKey, ...run);
      runKey = null;
      run = [];
    };
    for (const op of ops) {
      if (op.kind === "push") {
        if (op.key !== runKey) flushRun();
        runKey = op.key;
        run.push(op.value);
        continue;
      }
      flushRun();
      if (op.kind === "publish") {
        pipeline.publish(op.channel, op.value);
        continue;
      }
      const id = this.declaredKey(op.spec);
      if (seenBinds.has(id) || this.declared.has(id)) continue;
      seenBinds.add(id);
      const { key, permanentKey, member } = this.bindingOf(op.spec);
      pipeline.sadd(key, member);
      // kombu 5.7 `_queue_bind`: queues without x-expires are also recorded as permanent.
      const expires = op.spec.arguments?.["x-expires"];
      if (this.options.permanentBindings && expires === undefined) pipeline.sadd(permanentKey, member);
    }
    flushRun();
    const replicas = this.options.waitForReplicas ?? 0;
    if (replicas > 0) pipeline.call("wait", String(replicas), String(WAIT_FOR_REPLICAS_MS));
    const replies = await pipeline.exec();
    const failed = replies?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    if (replicas > 0) {
      // Redis WAIT: how many replicas acknowledged every write of this connection so far.
      const acked = Number(replies?.[replies.length - 1]?.[1]);
      if (!(acked >= replicas)) {
        throw new ConnectionLostError(
          `publish: ${acked} of ${replicas} replica(s) (waitForReplicas) acknowledged the write within ${WAIT_FOR_REPLICAS_MS} ms`,
        );
      }
    }
  }
}
