/**
 * The worker's concurrency slots (`worker_concurrency`): at most `limit` handlers run at once.
 *
 * A run's slot is given back when its handler has returned, while its result is still being
 * stored and its message settled, so the next handler starts without waiting for the backend's
 * round trip (tasks otherwise run in waves of `limit`, each wave idle for one result round trip).
 * Runs in that finishing stage are bounded by `limit` too: when the backend is slow or away, at
 * most `limit` finished runs wait on it and further runs keep their slot to the end, so the
 * worker stops taking on work as Celery's pool does when its children block storing results
 * (celery/app/trace.py `build_tracer` stores the result inside the pool process, 5.7.0).
 * Nothing about a message changes: with `acks_late` it is still acked after its result is stored.
 */
export class RunSlots {
  /** Runs whose handler has not returned (or that keep their slot to the end). */
  private handlers = 0;
  /** Runs whose handler returned and whose slot was given back early. */
  private finishing = 0;

  constructor(private readonly limit: () => number) {}

  /** A slot is free for one more handler. */
  get free(): boolean {
    return this.handlers < this.limit();
  }

  /** Runs in progress, finishing ones included (what a warm shutdown waits for). */
  get inProgress(): number {
    return this.handlers + this.finishing;
  }

  /** A run starts: it takes a slot. */
  take(): void {
    this.handlers++;
  }

  /**
   * The run's handler returned: its slot is given back unless `limit` runs are already
   * finishing. Returns whether it was (the run then ends with `finished(true)`).
   */
  handlerReturned(): boolean {
    if (this.finishing >= this.limit()) return false;
    this.handlers--;
    this.finishing++;
    return true;
  }

  /** The run ended; `early` is what {@link handlerReturned} returned for it (false if not called). */
  finished(early: boolean): void {
    if (early) this.finishing--;
    else this.handlers--;
  }
}
