/**
 * Lamport clock (kombu/clocks.py `LamportClock`): `forward()` before every
 * event or control message we send, `adjust(other)` with every clock value we
 * receive, so events from many hosts can be ordered.
 */
export class LamportClock {
  value: number;

  constructor(initial = 0) {
    this.value = initial;
  }

  /** kombu `LamportClock.forward`: increments and returns the new value. */
  forward(): number {
    this.value += 1;
    return this.value;
  }

  /** kombu `LamportClock.adjust`: `max(value, other) + 1`. Non-numbers count as 0. */
  adjust(other: unknown): number {
    const n = typeof other === "number" && Number.isFinite(other) ? Math.trunc(other) : 0;
    this.value = Math.max(this.value, n) + 1;
    return this.value;
  }
}
