import type { Logger } from "../logging.js";
import type { Consumer, QueueSpec } from "../transports/transport.js";
import { toQueueSpec } from "./worker-options.js";

/**
 * Which queues a worker consumes, and the one consumer reading them.
 *
 * The transport consumes a fixed queue list, so a change (remote
 * `add_consumer` / `cancel_consumer`: celery/worker/consumer/consumer.py
 * `add_task_queue`, `cancel_task_queue`) starts a consumer on the new list and
 * then cancels the old one: no gap in consuming the queues both share.
 * `queues` shows the new list only once the old consumer has stopped, so a
 * queue gone from `active_queues` is no longer read. Changes run one at a time.
 */
export class QueueConsumption {
  /** The live list (the same array for the whole worker's life: remote control reads it). */
  readonly queues: QueueSpec[];
  private consumer: Consumer | null = null;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    queues: QueueSpec[],
    private readonly consume: (queues: QueueSpec[]) => Promise<Consumer>,
    private readonly logger: Logger,
  ) {
    this.queues = queues;
  }

  async start(): Promise<void> {
    this.consumer = await this.consume([...this.queues]);
  }

  /** Waits for a change in progress, then stops consuming. */
  async stop(): Promise<void> {
    await this.pending;
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.cancel();
  }

  setPrefetch(prefetch: number): void {
    this.consumer?.setPrefetch(prefetch);
  }

  /** Consume one more queue (kombu's default `Queue(name)` for a bare name); nothing when it is consumed already. */
  async add(queue: string | QueueSpec): Promise<void> {
    const spec = toQueueSpec(queue);
    const changed = await this.change((current) =>
      current.some((q) => q.name === spec.name) ? null : [...current, spec],
    );
    if (changed) this.logger.info(`Started consuming from ${spec.name}`);
  }

  /** Stop consuming one queue; messages already taken from it still run. */
  async cancel(name: string): Promise<void> {
    this.logger.info(`Canceling queue ${name}`);
    await this.change((current) =>
      current.some((q) => q.name === name) ? current.filter((q) => q.name !== name) : null,
    );
  }

  private change(next: (current: readonly QueueSpec[]) => QueueSpec[] | null): Promise<boolean> {
    const change = this.pending.then(async () => {
      const queues = next(this.queues);
      if (queues === null) return false;
      if (this.consumer !== null) {
        const old = this.consumer;
        this.consumer = queues.length > 0 ? await this.consume(queues) : null;
        await old.cancel();
      }
      this.queues.splice(0, this.queues.length, ...queues);
      return true;
    });
    this.pending = change.then(
      () => undefined,
      (err: unknown) => this.logger.error({ err }, `changing queues: ${(err as Error).message}`),
    );
    return change;
  }
}
