/**
 * The acks of one event-loop turn on one channel, coalesced: when the oldest outstanding
 * deliveries are all acked in the turn, one `basic.ack multiple=true` on the newest of them
 * acks them all (AMQP 0-9-1 `basic.ack`, "multiple": every unacknowledged tag up to and
 * including this one); any other ack of the turn is sent alone. A tag still unsettled or
 * settled otherwise is never covered by a multiple ack, so the outcome on the broker is exactly
 * the per-message acks kombu sends (py-amqp amqp/channel.py `Channel.basic_ack`, 5.4.2, which
 * kombu/transport/pyamqp.py's `Channel` inherits).
 *
 * Rejects are not deferred: they are written at once, before the turn's acks.
 */
export interface AckChannel {
  ack(message: { fields: { deliveryTag: number } }, allUpTo?: boolean): void;
}

export class AckBatch {
  /** Delivery tags handed out and not yet acked/rejected on the wire, oldest first (tags only grow). */
  private outstanding: number[] = [];
  private head = 0;
  /** Tags settled (acked or rejected) that still sit in `outstanding` behind an older one. */
  private readonly done = new Set<number>();
  private pending = new Set<number>();
  private scheduled = false;
  private discarded = false;

  constructor(
    private readonly channel: AckChannel,
    private readonly onError: (err: Error) => void,
  ) {}

  /** A delivery was handed out. */
  delivered(tag: number): void {
    this.outstanding.push(tag);
  }

  /** Queue the ack of `tag` for the end of this turn. */
  ack(tag: number): void {
    this.pending.add(tag);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** The delivery was settled another way (rejected): it leaves the outstanding set now. */
  settledOtherwise(tag: number): void {
    this.done.add(tag);
  }

  /** The channel is gone: the broker requeued every unacked delivery, nothing is left to send. */
  discard(): void {
    this.discarded = true;
    this.pending.clear();
  }

  /** Writes the queued acks now (also before the channel is closed on purpose). */
  flush(): void {
    this.scheduled = false;
    if (this.discarded || this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Set();
    let lastOfPrefix = -1;
    let prefixCount = 0;
    while (this.head < this.outstanding.length) {
      const tag = this.outstanding[this.head] as number;
      if (this.done.delete(tag)) {
        this.head++;
        continue;
      }
      if (!pending.delete(tag)) break;
      lastOfPrefix = tag;
      prefixCount++;
      this.head++;
    }
    this.compact();
    try {
      if (prefixCount > 0) this.channel.ack({ fields: { deliveryTag: lastOfPrefix } }, prefixCount > 1);
      for (const tag of pending) {
        this.done.add(tag);
        this.channel.ack({ fields: { deliveryTag: tag } }, false);
      }
    } catch (err) {
      // The channel closed under us: the broker requeued what it had not been told about.
      this.onError(err as Error);
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head);
      this.head = 0;
    }
  }
}
