import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { checkValueDepth, DEFAULT_WIRE_BUDGET } from "../../serialization/index.js";
import type { ConsumeOptions, Consumer, QueueSpec } from "../transport.js";
import { AckBatch } from "./ack-batch.js";
import type { AmqpConnection, SetupHook } from "./connection.js";
import { AmqpDelivery, type DeliveryOwner } from "./delivery.js";
import { UNDECODABLE_HEADERS } from "./frame-guard.js";

/**
 * A basic.consume on every queue of one `consume()` call, on a channel of its
 * own (publishes never share it), with `basic.qos` prefetch set first.
 *
 * kombu/Celery semantics kept:
 * - prefetch is channel-wide (`global=true`, Celery's `qos_global` on
 *   RabbitMQ) so `setPrefetch()` applies at once; quorum queues refuse a
 *   global QoS, so a consumer with a quorum queue uses per-consumer QoS
 *   (celery/worker/consumer/tasks.py `qos_global` with quorum detection);
 * - the acks of one turn are coalesced ({@link AckBatch}: `multiple=true` over the oldest
 *   outstanding tags when they are all acked, single acks otherwise);
 * - acks and rejects go to the channel that delivered the message; if that
 *   channel is gone RabbitMQ has already requeued the message, so settling it
 *   is a no-op (the redelivery is handled again, at-least-once);
 * - a consumer cancel notification (queue deleted, node failover) re-declares
 *   the queue and consumes again; so does a reconnect (setup hook) and a
 *   channel closed by a channel error on a live connection.
 */
export interface AmqpConsumerDeps {
  connection: AmqpConnection;
  /** Declares the queues (with the transport's settings) on `channel`. */
  declare(channel: Channel, queues: QueueSpec[]): Promise<void>;
  /** Re-declare delay after a cancel notification, ms (default 1000). */
  recancelDelayMs?: number;
  /** `wireMaxDepth`: deepest headers table delivered (default 512); deeper is rejected. */
  maxDepth?: number;
  /** Per-consumer QoS even without a quorum queue consumed here (the app has one: `worker_detect_quorum_queues`). */
  perConsumerQos?: boolean;
}

function isQuorum(queue: QueueSpec): boolean {
  return queue.arguments?.["x-queue-type"] === "quorum";
}

export class AmqpConsumer implements Consumer, DeliveryOwner {
  private channel: Channel | null = null;
  private channelGeneration = -1;
  /** The connection generation of the last successful open (null before the first). */
  private openedGeneration: number | null = null;
  private opening: Promise<void> | null = null;
  private readonly tags = new Map<string, QueueSpec>();
  private prefetch: number;
  private cancelled = false;
  private unsettled = 0;
  private readonly hook: SetupHook;
  private readonly globalQos: boolean;
  private stopFatal: () => void = () => {};
  private readonly ackBatches = new WeakMap<Channel, AckBatch>();

  constructor(
    private readonly deps: AmqpConsumerDeps,
    private readonly options: ConsumeOptions,
  ) {
    this.prefetch = options.prefetch;
    this.globalQos = !(deps.perConsumerQos === true || options.queues.some(isQuorum));
    this.hook = (model, generation) => this.open(model, generation);
  }

  /** Opens the channel and starts consuming; re-opens after every reconnect. */
  async start(): Promise<void> {
    this.deps.connection.addSetupHook(this.hook);
    // The broker gone for good (reconnect policy exhausted): the worker decides what follows.
    const stopFatal = this.deps.connection.onFatal((err) => {
      if (!this.cancelled) this.options.onFatal?.(err);
    });
    // Connection losses and retries reach the worker's log through its consumer.
    const stopReport = this.deps.connection.onReport((err) => {
      if (!this.cancelled) this.report(err);
    });
    this.stopFatal = () => {
      stopFatal();
      stopReport();
    };
    const model = await this.deps.connection.model();
    await this.open(model, this.deps.connection.generation);
  }

  private report(err: Error): void {
    try {
      this.options.onError?.(err);
    } catch {
      // the caller's logger must not break the consumer
    }
  }

  private open(model: ChannelModel, generation: number): Promise<void> {
    if (this.cancelled) return Promise.resolve();
    if (this.channel !== null && this.channelGeneration === generation) return Promise.resolve();
    const run = async () => {
      if (this.cancelled || (this.channel !== null && this.channelGeneration === generation)) return;
      // A new connection generation after a first one: the broker connection came back.
      const reconnected = this.openedGeneration !== null && this.openedGeneration !== generation;
      const channel = await this.deps.connection.openChannel(model, false);
      channel.on("close", () => this.onChannelClosed(channel));
      await channel.prefetch(this.prefetch, this.globalQos);
      await this.deps.declare(channel, this.options.queues);
      this.tags.clear();
      this.channel = channel;
      this.channelGeneration = generation;
      for (const queue of this.options.queues) await this.consumeQueue(channel, queue);
      this.openedGeneration = generation;
      if (reconnected) this.options.onReconnected?.();
    };
    this.opening = (this.opening ?? Promise.resolve()).then(run, run).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async consumeQueue(channel: Channel, queue: QueueSpec): Promise<void> {
    const { consumerTag } = await channel.consume(queue.name, (msg) => this.onMessage(channel, queue, msg), {
      noAck: false,
    });
    this.tags.set(consumerTag, queue);
  }

  private onMessage(channel: Channel, queue: QueueSpec, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // basic.cancel from the broker (queue deleted, ...): consume again later.
      this.report(new Error(`RabbitMQ cancelled the consumer of queue ${queue.name}; consuming again`));
      setTimeout(() => this.reconsume(channel, queue), this.deps.recancelDelayMs ?? 1000).unref();
      return;
    }
    this.unsettled += 1;
    const acks = this.acksOf(channel);
    acks.delivered(msg.fields.deliveryTag);
    const refusal = this.refusal(msg);
    if (refusal !== null) {
      // Settled here, before anyone walks the headers: rejected without requeue (dead-lettered
      // if the queue has a DLX), so it is not redelivered first after every reconnect.
      this.settle(channel, acks, msg, false);
      this.report(
        new Error(
          `rejected message ${msg.fields.deliveryTag} from queue ${queue.name} (delivery tag, no requeue): ${refusal}`,
        ),
      );
      return;
    }
    this.options.onMessage(new AmqpDelivery(this, channel, acks, msg, queue.name, this.channelGeneration));
  }

  /** {@link DeliveryOwner.settle}: the ack of the turn (AckBatch) or a reject, written at once. */
  settle(channel: Channel, acks: AckBatch, msg: ConsumeMessage, requeue: boolean | null): void {
    this.unsettled -= 1;
    if (this.channel === channel) {
      const tag = msg.fields.deliveryTag;
      try {
        if (requeue === null) {
          acks.ack(tag);
        } else {
          acks.settledOtherwise(tag);
          channel.reject(msg, requeue);
        }
      } catch (err) {
        // Channel closed under us: the broker requeued the message already.
        this.report(err as Error);
      }
    }
    this.maybeCloseAfterCancel();
  }

  private acksOf(channel: Channel): AckBatch {
    let acks = this.ackBatches.get(channel);
    if (acks === undefined) {
      acks = new AckBatch(channel, (err) => this.report(err));
      this.ackBatches.set(channel, acks);
    }
    return acks;
  }

  /** Why a delivery's headers cannot be handed over, or null. */
  private refusal(msg: ConsumeMessage): string | null {
    const headers = msg.properties.headers as Record<string, unknown> | undefined;
    if (headers === undefined || headers === null) return null;
    const undecodable = headers[UNDECODABLE_HEADERS];
    if (typeof undecodable === "string") return undecodable;
    try {
      checkValueDepth(headers, this.deps.maxDepth ?? DEFAULT_WIRE_BUDGET.maxDepth, "headers table");
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  }

  private async reconsume(channel: Channel, queue: QueueSpec): Promise<void> {
    if (this.cancelled || this.channel !== channel) return;
    try {
      await this.deps.declare(channel, [queue]);
      await this.consumeQueue(channel, queue);
    } catch (err) {
      this.report(err as Error);
    }
  }

  private onChannelClosed(channel: Channel): void {
    this.ackBatches.get(channel)?.discard();
    if (this.channel !== channel) return;
    this.channel = null;
    this.tags.clear();
    if (this.cancelled) return;
    // Connection loss: the reconnect hook re-opens us. A channel error on a
    // live connection: re-open here, after a breath.
    setTimeout(() => {
      if (this.cancelled || this.channel !== null || !this.deps.connection.isOpen) return;
      this.deps.connection
        .model()
        .then((model) => this.open(model, this.deps.connection.generation))
        .catch((err: Error) => this.report(err));
    }, 200).unref();
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.channel?.prefetch(prefetch, this.globalQos).catch((err: Error) => this.report(err));
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.stopFatal();
    this.deps.connection.removeSetupHook(this.hook);
    await this.opening?.catch(() => {});
    const channel = this.channel;
    if (channel === null) return;
    for (const tag of [...this.tags.keys()]) await channel.cancel(tag).catch(() => {});
    this.tags.clear();
    this.maybeCloseAfterCancel();
  }

  /** After cancel, the channel stays open until every delivered message is settled. */
  private maybeCloseAfterCancel(): void {
    if (!this.cancelled || this.unsettled > 0 || this.channel === null) return;
    const channel = this.channel;
    this.channel = null;
    this.ackBatches.get(channel)?.flush();
    channel.close().catch(() => {});
  }

  /** Closes the channel now; unsettled deliveries go back to their queues (broker requeue). */
  async close(): Promise<void> {
    await this.cancel();
    const channel = this.channel;
    this.channel = null;
    if (channel) {
      this.ackBatches.get(channel)?.flush();
      await channel.close().catch(() => {});
    }
  }
}
