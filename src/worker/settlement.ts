import type { Logger } from "../logging.js";
import type { Delivery } from "../transports/transport.js";

/** How a delivered message leaves the worker: acked, rejected (dropped / dead-lettered) or requeued. */
export type SettleDecision = "ack" | "reject" | "requeue";

/**
 * The one settle point of a delivered message. Whatever happens to the
 * request after it was admitted, its message is acked, rejected or requeued
 * exactly once: the first {@link settle} call decides, later calls change
 * nothing and share its promise. `settle` never rejects: a broker that
 * refuses the ack is logged, and the message stays unacked for the broker
 * (AMQP redelivers on channel loss; the Redis visibility sweep restores it),
 * as kombu's `Message.ack` leaves it when the channel is gone.
 */
export class Settlement {
  private done: Promise<void> | null = null;
  private decision: SettleDecision | null = null;

  constructor(
    private readonly delivery: Delivery,
    private readonly logger: Logger,
  ) {}

  /** The decision taken, or null while the message is still held. */
  get settled(): SettleDecision | null {
    return this.decision;
  }

  settle(how: SettleDecision): Promise<void> {
    if (this.done) return this.done;
    this.decision = how;
    this.done = this.apply(how);
    return this.done;
  }

  /** Not an async function: one promise per settled message, not two. */
  private apply(how: SettleDecision): Promise<void> {
    const { delivery } = this;
    const failed = (err: unknown) =>
      this.logger.error(
        { err },
        `Could not ${how} message ${String(delivery.deliveryInfo.deliveryTag)}: ${errorMessage(err)}`,
      );
    try {
      return (how === "ack" ? delivery.ack() : delivery.reject(how === "requeue")).catch(failed);
    } catch (err) {
      failed(err);
      return Promise.resolve();
    }
  }
}

/** An error's message without trusting it (a thrown non-Error, or a throwing getter). */
export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return "unprintable error";
  }
}

/**
 * The delivery as the worker holds it from the moment it arrives: its first
 * ack/reject settles it and every later call returns that first promise, so
 * no path (admission, a revoke, shutdown's restore, the run) can settle one
 * message twice, e.g. ack it and then reject it from an error handler.
 */
export function settleOnce(delivery: Delivery): Delivery {
  let first: Promise<void> | null = null;
  const once = (settle: () => Promise<void>): Promise<void> => {
    first ??= settle();
    return first;
  };
  return {
    body: delivery.body,
    contentType: delivery.contentType,
    contentEncoding: delivery.contentEncoding,
    headers: delivery.headers,
    properties: delivery.properties,
    deliveryInfo: delivery.deliveryInfo,
    ack: () => once(() => delivery.ack()),
    reject: (requeue) => once(() => delivery.reject(requeue)),
  };
}

/**
 * Puts a message the worker will not run back on its queue (kombu restores unacked messages at
 * shutdown). A refused restore is logged, unless `brokerGone()`: the visibility sweep restores it.
 */
export async function restoreMessage(
  delivery: Delivery,
  logger: Logger,
  brokerGone: () => boolean,
): Promise<void> {
  try {
    await delivery.reject(true);
  } catch (err) {
    // With the broker gone each of these would repeat the one fatal line; the sweep restores them.
    if (brokerGone()) return;
    logger.error(
      { err },
      `could not restore message ${delivery.deliveryInfo.deliveryTag}; the visibility sweep will`,
    );
  }
}
