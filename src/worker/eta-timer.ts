/**
 * A timer for a task's ETA. Node's `setTimeout` takes at most 2^31-1 ms
 * (24.8 days); a longer delay is clamped to 1 ms and fires at once. So the
 * timer sleeps in steps no longer than that and re-arms until the ETA is
 * due, reading the clock each time it wakes (kombu's timer likewise checks
 * `eta <= now` whenever it wakes, kombu/asynchronous/timer.py `Timer.__iter__`).
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class EtaTimer {
  private handle: NodeJS.Timeout | null = null;

  constructor(
    readonly dueAt: number,
    private readonly fire: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.arm();
  }

  /** Stops the timer; `fire` is not called. */
  cancel(): void {
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
  }

  private arm(): void {
    const wait = Math.min(Math.max(0, this.dueAt - this.now()), MAX_TIMER_DELAY_MS);
    this.handle = setTimeout(() => {
      if (this.now() < this.dueAt) {
        this.arm();
        return;
      }
      this.handle = null;
      this.fire();
    }, wait);
  }
}
