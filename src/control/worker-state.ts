import type { TaskEventSource } from "../events/task-events.js";
import { formatPythonIsoformat } from "../protocol/datetime.js";
import { setOwn } from "../protocol/guards.js";
import type { RequestInfo, ScheduledInfo } from "./host.js";
import { RevokedSet } from "./revoked.js";
import { RevokedStamps } from "./revoked-stamps.js";

/**
 * `Request.eta.isoformat()` (celery/worker/control.py `_iter_schedule_requests`, 5.7.0): the
 * header's datetime as Python parsed it, aware (a naive one is UTC, `maybe_make_aware`), written
 * back by `datetime.isoformat()`: 6 fraction digits or none, the offset as `+HH:MM`.
 */
export function pythonEtaIsoformat(header: unknown, eta: Date | null): string | null {
  const m =
    typeof header === "string"
      ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/.exec(header)
      : null;
  if (m?.[1]) {
    const micro = (m[2] ?? "").slice(0, 6).padEnd(6, "0");
    const offset = m[3] === undefined || m[3] === "Z" || m[3] === "-00:00" ? "+00:00" : m[3];
    return `${m[1]}${/^0+$/.test(micro) ? "" : `.${micro}`}${offset}`;
  }
  return eta === null ? null : formatPythonIsoformat(eta, true);
}

/** A request as the worker tracks it for inspect and events. */
export interface TrackedRequest extends TaskEventSource {
  args: unknown[];
  kwargs: Record<string, unknown>;
  eta: Date | null;
  deliveryInfo: { exchange: string; routingKey: string; priority: number; redelivered: boolean };
  /** Names of its stamps (`stamped_headers`) and the `stamps` header, for revoking by stamp. */
  stampedHeaders?: string[] | null;
  stamps?: Record<string, unknown>;
}

/** What `revoke(terminate=True)` fires for a running request (the worker ends the run with it). */
export interface RunAbort {
  abort(reason?: unknown): void;
}

interface Entry {
  request: TrackedRequest;
  state: "reserved" | "scheduled" | "active";
  timeStart: number | null;
  abort: RunAbort | null;
}

/**
 * One worker's request bookkeeping (celery/worker/state.py `reserved_requests`,
 * `active_requests`, `total_count`, `revoked`, 5.7.0): what `inspect` answers
 * from and what the heartbeat counts. It sends nothing; WorkerOps pairs each
 * change with its task event.
 */
export class WorkerBookkeeping {
  readonly revoked = new RevokedSet();
  readonly revokedStamps = new RevokedStamps();
  private readonly entries = new Map<string, Entry>();
  private readonly totals = new Map<string, number>();
  private processedCount = 0;

  constructor(private readonly hostname: string) {}

  /** Tracks an accepted request as reserved; false (and untracked) when its id is revoked. */
  track(request: TrackedRequest): boolean {
    if (this.revoked.has(request.id)) return false;
    this.entries.set(request.id, { request, state: "reserved", timeStart: null, abort: null });
    return true;
  }

  /** Held for its ETA/countdown (inspect scheduled). */
  markScheduled(id: string): void {
    const e = this.entries.get(id);
    if (e) e.state = "scheduled";
  }

  /** Back from the ETA timer / rate queue: reserved again. False when revoked meanwhile. */
  due(id: string): boolean {
    const e = this.entries.get(id);
    if (e) e.state = "reserved";
    return !this.revoked.has(id);
  }

  /**
   * The handler starts; `abort` is what `terminate` fires. Counted in `total` and `processed`
   * now, as celery/worker/state.py `task_accepted` counts a request when the pool accepts it.
   * The request, or null when untracked.
   */
  start(id: string, abort: RunAbort): TrackedRequest | null {
    const e = this.entries.get(id);
    if (!e) return null;
    this.processedCount += 1;
    this.totals.set(e.request.name, (this.totals.get(e.request.name) ?? 0) + 1);
    e.state = "active";
    e.timeStart = Date.now() / 1000;
    e.abort = abort;
    return e.request;
  }

  /** The run is over. The request, or null when untracked. */
  finish(id: string): TrackedRequest | null {
    const e = this.entries.get(id);
    if (!e) return null;
    this.entries.delete(id);
    return e.request;
  }

  /** Forgets a request (revoked, expired, terminated, or put back on its queue). */
  forget(id: string): void {
    this.entries.delete(id);
  }

  get processed(): number {
    return this.processedCount;
  }

  /** `stats()["total"]`: finished runs per task name. */
  totalsByName(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }

  count(state: Entry["state"]): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === state) n++;
    return n;
  }

  private info(e: Entry, safe = false): RequestInfo {
    const r = e.request;
    return {
      id: r.id,
      name: r.name,
      args: safe ? r.argsrepr : r.args,
      kwargs: safe ? r.kwargsrepr : r.kwargs,
      type: r.name,
      hostname: this.hostname,
      time_start: e.timeStart,
      acknowledged: e.state === "active",
      delivery_info: {
        exchange: r.deliveryInfo.exchange,
        routing_key: r.deliveryInfo.routingKey,
        priority: r.deliveryInfo.priority,
        redelivered: r.deliveryInfo.redelivered,
      },
      worker_pid: e.state === "active" ? process.pid : null,
    };
  }

  active(safe: boolean): RequestInfo[] {
    return [...this.entries.values()].filter((e) => e.state === "active").map((e) => this.info(e, safe));
  }

  reserved(): RequestInfo[] {
    return [...this.entries.values()].filter((e) => e.state === "reserved").map((e) => this.info(e));
  }

  scheduled(): ScheduledInfo[] {
    return [...this.entries.values()]
      .filter((e) => e.state === "scheduled")
      .map((e) => ({
        eta: pythonEtaIsoformat(e.request.headers.eta, e.request.eta),
        // strategy.py puts every ETA request on the timer with priority=6; that is what is listed.
        priority: 6,
        request: this.info(e),
      }));
  }

  findRequest(id: string) {
    const e = this.entries.get(id);
    return e ? { state: e.state, info: this.info(e) } : null;
  }

  /** Fires the abort of a running request; false when it is not running here. */
  terminate(id: string, reason: Error): boolean {
    const e = this.entries.get(id);
    if (e?.state !== "active" || !e.abort) return false;
    e.abort.abort(reason);
    return true;
  }

  /** Running requests with their stamps (celery/worker/request.py `Request.stamps`: named ones only). */
  activeStamps(): { id: string; stamps: Record<string, unknown> }[] {
    const out: { id: string; stamps: Record<string, unknown> }[] = [];
    for (const e of this.entries.values()) {
      if (e.state !== "active") continue;
      const all = e.request.stamps ?? {};
      const stamps: Record<string, unknown> = {};
      for (const name of e.request.stampedHeaders ?? []) {
        setOwn(stamps, name, Object.hasOwn(all, name) ? all[name] : null);
      }
      out.push({ id: e.request.id, stamps });
    }
    return out;
  }

  /** True when `id` is running here (`terminate` would reach it). */
  isActive(id: string): boolean {
    const e = this.entries.get(id);
    return e?.state === "active" && e.abort !== null;
  }
}
