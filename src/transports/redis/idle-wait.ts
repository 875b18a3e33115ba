import type { Redis } from "ioredis";
import { type TakeKeys, type TakenMessage, takeMessages, waitThenTake } from "./take.js";

/** Idle poll of the lists not watched by the blocking wait (seconds), and after recent work. */
const IDLE_POLL_S = 0.25;
const BUSY_POLL_S = 0.05;
const RECENT_ACTIVITY_MS = 5000;

export interface IdleWaitOptions {
  /** The consumer's dedicated blocking connection. */
  client: Redis;
  keys: TakeKeys;
  /** Priority buckets (kombu `priority_steps`). */
  steps: readonly number[];
  /** Server-side wait in seconds (kombu `brpop_timeout`, 1). */
  brpopTimeout: number;
  /** The consumer's wake-able pause (for a server without BLMOVE). */
  pause(ms: number): Promise<void>;
  /** Receives what a take abandoned at its deadline still took, whenever its reply comes. */
  onLateTake(taken: TakenMessage[]): void;
}

/**
 * The idle side of the Redis consumer's take loop (kombu/transport/redis.py
 * `Channel._brpop_start`, 5.7.0, waits in BRPOP; a take script cannot block):
 * block until a message is in one queue's bucket-0 list (`BLMOVE k k RIGHT
 * RIGHT`, which leaves the list as it was) or the bounded wait ends, with the
 * take pipelined behind it ({@link waitThenTake}), so a message pushed during
 * the wait is taken in the same server turn that ends the wait. The watched
 * queue rotates; the other lists are seen by the take that follows every wait.
 * A client-side deadline drops a half-dead socket (ioredis would wait forever
 * for its reply). Without BLMOVE (Redis < 6.2) the wait is a plain pause, then a take.
 */
export class IdleWait {
  /** BLMOVE known (Redis >= 6.2); false after an "unknown command" reply. */
  private blmove = true;
  /** When a take last found work (performance.now()); drives the poll interval. */
  private lastTakeAt = Number.NEGATIVE_INFINITY;
  /** Which queue's bucket-0 list the next wait watches (round-robin). */
  private doorbell = 0;

  constructor(private readonly options: IdleWaitOptions) {}

  /** A take found work: the lists are polled more often for a while. */
  tookWork(): void {
    this.lastTakeAt = performance.now();
  }

  /** Waits, then takes up to `count` from `queues` (in this order); what it took, often nothing. */
  async wait(queues: readonly string[], count: number): Promise<TakenMessage[]> {
    const { client, keys, steps, brpopTimeout } = this.options;
    // Lists other than the one watched are seen at the take after the wait: poll them often when
    // there are any (every 0.25 s), and every 0.05 s for a few seconds after a take found work, so
    // a burst on another queue or priority bucket is picked up within ~50 ms without a busy loop.
    const recentlyBusy = performance.now() - this.lastTakeAt < RECENT_ACTIVITY_MS;
    const idlePoll = recentlyBusy ? BUSY_POLL_S : IDLE_POLL_S;
    const timeout =
      queues.length * steps.length === 1 && brpopTimeout > 0
        ? brpopTimeout
        : Math.min(brpopTimeout || 1, idlePoll);
    if (!this.blmove) {
      await this.options.pause(timeout * 1000);
      return takeMessages(client, keys, queues, steps, count);
    }
    const queue = queues[this.doorbell++ % queues.length];
    if (queue === undefined) return [];
    const door = keys.queueKey(queue, 0);
    const waited = waitThenTake(client, keys, door, timeout, queues, steps, count);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), (timeout + 4) * 1000);
    });
    try {
      const won = await Promise.race([waited, deadline]);
      if (won === "deadline") {
        // ioredis re-sends the commands in flight after the reconnect: what that take still
        // takes is in `unacked` already, so it is handed over whenever it comes back.
        waited.then(
          ({ taken }) => this.options.onLateTake(taken),
          () => undefined,
        );
        // The socket went quiet: drop it (ioredis reconnects).
        client.disconnect(true);
        throw new Error(`BLMOVE got no reply within ${timeout + 4}s; reconnecting`);
      }
      const { waitError, taken } = won;
      if (waitError === null) return taken;
      if (/unknown command/i.test(waitError.message)) {
        this.blmove = false;
        return taken;
      }
      // The take ran all the same: what it took is handed over before the error is raised.
      this.options.onLateTake(taken);
      throw waitError;
    } finally {
      clearTimeout(timer);
    }
  }
}
