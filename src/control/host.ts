import type { LamportClock } from "../events/clock.js";
import type { EventDispatcher } from "../events/dispatcher.js";
import type { RevokedSet } from "./revoked.js";
import type { RevokedStamps } from "./revoked-stamps.js";

/** celery/worker/request.py `Request.info()`: what inspect active/reserved/scheduled list. */
export interface RequestInfo {
  id: string;
  name: string;
  /** Parsed args, or the `argsrepr` string when `safe`. */
  args: unknown;
  kwargs: unknown;
  type: string;
  hostname: string;
  /** Epoch seconds the task started, or null (not started). */
  time_start: number | null;
  acknowledged: boolean;
  delivery_info: { exchange: string; routing_key: string; priority: number; redelivered: boolean };
  worker_pid: number | null;
}

export interface ScheduledInfo {
  eta: string | null;
  priority: number;
  request: RequestInfo;
}

export interface TaskInfo {
  name: string;
  /** `rate_limit`, `exchange`, `routing_key`, … as Celery's `registered` prints them with `str()`. */
  attributes: Record<string, unknown>;
}

/**
 * Everything the pidbox commands need from a worker (the part of Celery's
 * `state.consumer` / `worker_state` / `app.tasks` they touch). The TS worker
 * implements it; tests can implement it with plain objects.
 */
export interface WorkerControlHost {
  readonly hostname: string;
  readonly clock: LamportClock;
  readonly revoked: RevokedSet;
  /** Stamps flagged by `revoke_by_stamped_headers` (celery/worker/state.py `revoked_stamps`). */
  readonly revokedStamps?: RevokedStamps;
  /** The worker's event dispatcher, or null when none runs (`enable_events` then answers an error). */
  readonly events: EventDispatcher | null;
  tasks(): TaskInfo[];
  active(safe: boolean): RequestInfo[];
  reserved(): RequestInfo[];
  scheduled(): ScheduledInfo[];
  /** `query_task`: where a request is, or null when this worker does not hold it. */
  findRequest(id: string): { state: "active" | "reserved" | "scheduled" | "ready"; info: RequestInfo } | null;
  /** The running tasks with their stamps (`Request.stamps`), for `revoke_by_stamped_headers(terminate=True)`. */
  activeStamps?(): { id: string; stamps: Record<string, unknown> }[];
  /** Aborts a running task (AbortSignal; a thread-pool task is terminated). True if it was running here. */
  terminate(id: string, signal: string): boolean;
  /**
   * 5.7 `_revoke`'s backend write: REVOKED meta for an id whose stored
   * state is PENDING/RECEIVED/RETRY/REJECTED and that is not running here.
   */
  markRevoked?(id: string): Promise<void>;
  stats(): Record<string, unknown>;
  /** Returns null when done, or Celery's error text (`unknown task`). */
  setRateLimit(taskName: string, rateLimit: string | number | null): string | null;
  setTimeLimit(taskName: string, soft: number | null, hard: number | null): string | null;
  addConsumer(queue: string, exchange: string | null, exchangeType: string, routingKey: string | null): void;
  cancelConsumer(queue: string): void;
  activeQueues(): Record<string, unknown>[];
  poolGrow?(n: number): void;
  /** Null when done, or the error Celery's pool raises (`Can't shrink pool. All processes busy!`). */
  poolShrink?(n: number): string | null;
  /** Warm shutdown, after the reply is sent. */
  shutdown(): void;
  conf?(withDefaults: boolean): Record<string, unknown>;
  report?(): string;
}
