import type { EventDispatcher } from "./dispatcher.js";
import { loadAverage, softwareInfo } from "./event.js";
import { pyFloat } from "./json.js";

/** What a heartbeat reports about the worker (celery/worker/state.py `active_requests`, `all_total_count`). */
export interface HeartStats {
  active(): number;
  processed(): number;
}

/**
 * celery/worker/heartbeat.py `Heart`: `worker-online` on start, then
 * `worker-heartbeat` every `interval` seconds (2.0 by default), and
 * `worker-offline` on stop; each with `freq, active, processed, loadavg`
 * and the `sw_*` fields. Follows the dispatcher's enable/disable as Python does.
 */
export class Heart {
  readonly interval: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly onEnabled = () => this.start();
  private readonly onDisabled = () => this.stop();

  constructor(
    private readonly eventer: EventDispatcher,
    private readonly stats: HeartStats,
    interval = 2.0,
  ) {
    this.interval = interval > 0 ? interval : 2.0;
    eventer.onEnabled.add(this.onEnabled);
    eventer.onDisabled.add(this.onDisabled);
  }

  private beat(type: "worker-online" | "worker-heartbeat" | "worker-offline"): void {
    this.eventer.send(type, {
      freq: pyFloat(this.interval),
      active: this.stats.active(),
      processed: this.stats.processed(),
      loadavg: loadAverage(),
      ...softwareInfo(),
    });
  }

  start(): void {
    if (!this.eventer.enabled || this.timer !== null) return;
    this.beat("worker-online");
    this.timer = setInterval(() => this.beat("worker-heartbeat"), this.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      if (this.eventer.enabled) this.beat("worker-offline");
    }
  }

  /** Detaches from the dispatcher (after a final stop). */
  close(): void {
    this.stop();
    this.eventer.onEnabled.delete(this.onEnabled);
    this.eventer.onDisabled.delete(this.onDisabled);
  }
}
