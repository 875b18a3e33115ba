import type { Channel, ConsumeMessage } from "amqplib";
import type { Delivery, DeliveryInfo } from "../transport.js";
import type { AckBatch } from "./ack-batch.js";
import { fromMessageProperties, headersOf } from "./message.js";

/** What a delivery needs from the consumer that handed it out. */
export interface DeliveryOwner {
  /**
   * The delivery is settled (exactly once): write the ack (`requeue` null) or the reject on
   * `channel` if it is still the consumer's channel (else the broker requeued it already).
   */
  settle(channel: Channel, acks: AckBatch, message: ConsumeMessage, requeue: boolean | null): void;
}

/** Every settle resolves at once: the ack goes out at the end of the turn (AckBatch). */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * One basic.deliver handed to the worker as a kombu-shaped {@link Delivery}: one object per
 * message (the ack and reject are methods, not closures), settled once on the channel that
 * delivered it (kombu/message.py `Message.ack` / `reject`, which also refuse a second settle).
 */
export class AmqpDelivery implements Delivery {
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly contentEncoding: string;
  readonly headers: Record<string, unknown>;
  readonly properties: Record<string, unknown>;
  readonly deliveryInfo: DeliveryInfo;
  private settled = false;

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly channel: Channel,
    private readonly acks: AckBatch,
    private readonly message: ConsumeMessage,
    queue: string,
    channelGeneration: number,
  ) {
    const { fields, properties } = message;
    this.body = message.content;
    this.contentType = properties.contentType ?? "";
    this.contentEncoding = properties.contentEncoding ?? "";
    this.headers = headersOf(message);
    this.properties = fromMessageProperties(message);
    this.deliveryInfo = {
      exchange: fields.exchange,
      routingKey: fields.routingKey,
      priority: typeof properties.priority === "number" ? properties.priority : 0,
      redelivered: fields.redelivered,
      deliveryTag: `${channelGeneration}:${fields.deliveryTag}`,
      queue,
    };
  }

  ack(): Promise<void> {
    this.settle(null);
    return SETTLED;
  }

  reject(requeue: boolean): Promise<void> {
    this.settle(requeue);
    return SETTLED;
  }

  private settle(requeue: boolean | null): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settle(this.channel, this.acks, this.message, requeue);
  }
}
