import type { EventBody } from "./event.js";
import { num } from "./event.js";

/**
 * In-memory cluster state built from events: celery/events/state.py
 * `State`, `Worker`, `Task`, bounded like Celery's (LRU of 5000 workers and
 * 10 000 tasks by default). Feed it from a receiver: `handlers: {"*": (e) => state.event(e)}`.
 */

/** celery/states.py `PRECEDENCE` (lower index = wins). */
const PRECEDENCE = [
  "SUCCESS",
  "FAILURE",
  null,
  "REVOKED",
  "STARTED",
  "RECEIVED",
  "REJECTED",
  "RETRY",
  "PENDING",
];
const NONE_PRECEDENCE = PRECEDENCE.indexOf(null);

function precedence(state: string): number {
  const i = PRECEDENCE.indexOf(state);
  return i < 0 ? NONE_PRECEDENCE : i;
}

/** celery/events/state.py `TASK_EVENT_TO_STATE`. */
const TASK_EVENT_TO_STATE: Record<string, string> = {
  sent: "PENDING",
  received: "RECEIVED",
  started: "STARTED",
  failed: "FAILURE",
  retried: "RETRY",
  succeeded: "SUCCESS",
  revoked: "REVOKED",
  rejected: "REJECTED",
};

/** `Task.merge_rules`: fields kept from an out-of-order RECEIVED event. */
const RECEIVED_KEEP = new Set([
  "name",
  "args",
  "kwargs",
  "parent_id",
  "root_id",
  "retries",
  "eta",
  "expires",
]);

/** celery/events/state.py `HEARTBEAT_EXPIRE_WINDOW` (percent of `freq`). */
export const HEARTBEAT_EXPIRE_WINDOW = 200;
/** `Worker.heartbeat_max`. */
const HEARTBEAT_MAX = 4;

export class WorkerState {
  pid: number | null = null;
  freq = 60;
  /** Local receive times of the last heartbeats (at most 4), oldest first. */
  heartbeats: number[] = [];
  clock = 0;
  active: number | null = null;
  processed: number | null = null;
  loadavg: number[] | null = null;
  sw_ident: string | null = null;
  sw_ver: string | null = null;
  sw_sys: string | null = null;
  /** Every field of the last worker event. */
  fields: EventBody = {};

  constructor(readonly hostname: string) {}

  /** `Worker.heartbeat_expires`: last heartbeat + freq × 2. */
  get heartbeatExpires(): number | null {
    const last = this.heartbeats.at(-1);
    return last === undefined ? null : last + this.freq * (HEARTBEAT_EXPIRE_WINDOW / 100);
  }

  /** `Worker.alive`: a heartbeat within the window. */
  alive(nowSeconds: number = Date.now() / 1000): boolean {
    const expires = this.heartbeatExpires;
    return expires !== null && nowSeconds < expires;
  }

  get id(): string {
    return `${this.hostname}.${this.pid}`;
  }

  /** `Worker.event`. */
  event(
    subject: string | null,
    timestamp: number | null,
    localReceived: number | null,
    fields?: EventBody,
  ): void {
    if (fields) this.update(fields);
    if (subject === "offline") {
      this.heartbeats = [];
      return;
    }
    if (!localReceived || !timestamp) return;
    if (this.heartbeats.length > HEARTBEAT_MAX - 1) this.heartbeats.shift();
    const last = this.heartbeats.at(-1);
    if (last !== undefined && localReceived <= last) {
      this.heartbeats.push(localReceived);
      this.heartbeats.sort((a, b) => a - b);
    } else {
      this.heartbeats.push(localReceived);
    }
  }

  private update(fields: EventBody): void {
    this.fields = { ...fields };
    const f = fields;
    if (typeof f.pid === "number") this.pid = f.pid;
    const freq = num(f.freq);
    if (freq !== null) this.freq = freq;
    if (typeof f.clock === "number") this.clock = f.clock;
    if (typeof f.active === "number") this.active = f.active;
    if (typeof f.processed === "number") this.processed = f.processed;
    if (Array.isArray(f.loadavg)) this.loadavg = f.loadavg.map((v) => num(v) ?? 0);
    for (const key of ["sw_ident", "sw_ver", "sw_sys"] as const) {
      if (typeof f[key] === "string") this[key] = f[key];
    }
  }
}

export class TaskState {
  state = "PENDING";
  name: string | null = null;
  /** Timestamps of each event kind seen (`received`, `started`, `succeeded`, …). */
  readonly times: Record<string, number> = {};
  /** Every field as merged from the events (args, kwargs, result, exception, runtime, …). */
  fields: Record<string, unknown> = {};
  worker: WorkerState | null = null;
  /** `task.client`: the hostname that sent `task-sent`. */
  client: string | null = null;
  timestamp: number | null = null;
  clock = 0;

  constructor(readonly uuid: string) {}

  get ready(): boolean {
    return this.state === "SUCCESS" || this.state === "FAILURE" || this.state === "REVOKED";
  }

  /** `Task.event`: out-of-order events only fill the fields they are the source of. */
  event(subject: string, timestamp: number | null, fields: EventBody): void {
    const mapped = TASK_EVENT_TO_STATE[subject];
    const state = mapped ?? subject.toUpperCase();
    if (mapped !== undefined && timestamp !== null) this.times[subject] = timestamp;
    let merged: Record<string, unknown> = { ...fields };
    let replace = true;
    if (state !== "RETRY" && this.state !== "RETRY" && precedence(state) > precedence(this.state)) {
      replace = false;
      if (state === "RECEIVED") {
        merged = Object.fromEntries(Object.entries(fields).filter(([k]) => RECEIVED_KEEP.has(k)));
      }
    }
    for (const [k, v] of Object.entries(merged)) {
      if (k === "type" || k === "hostname") continue;
      this.fields[k] = v;
    }
    if (typeof merged.name === "string") this.name = merged.name;
    if (typeof merged.clock === "number") this.clock = merged.clock;
    if (replace) {
      this.state = state;
      this.timestamp = timestamp;
    }
  }
}

export interface StateOptions {
  maxWorkersInMemory?: number;
  maxTasksInMemory?: number;
  onNodeJoin?(worker: WorkerState): void;
  onNodeLeave?(worker: WorkerState): void;
}

export class State {
  readonly workers = new Map<string, WorkerState>();
  readonly tasks = new Map<string, TaskState>();
  eventCount = 0;
  taskCount = 0;
  private readonly maxWorkers: number;
  private readonly maxTasks: number;

  constructor(private readonly options: StateOptions = {}) {
    this.maxWorkers = Math.max(1, options.maxWorkersInMemory ?? 5000);
    this.maxTasks = Math.max(1, options.maxTasksInMemory ?? 10_000);
  }

  /** Feeds one event (already through a receiver: `local_received`, localized `timestamp`). */
  event(event: EventBody): void {
    this.eventCount += 1;
    const type = typeof event.type === "string" ? event.type : "";
    const dash = type.indexOf("-");
    const group = dash < 0 ? type : type.slice(0, dash);
    const subject = dash < 0 ? "" : type.slice(dash + 1);
    const hostname = typeof event.hostname === "string" ? event.hostname : null;
    const timestamp = num(event.timestamp);
    const localReceived = num(event.local_received);
    if (group === "worker" && hostname !== null) {
      let worker = this.workers.get(hostname);
      const created = worker === undefined;
      if (!worker) {
        worker = new WorkerState(hostname);
        if (subject !== "offline") this.remember(this.workers, hostname, worker, this.maxWorkers);
      }
      worker.event(subject, timestamp, localReceived, event);
      if (created || subject === "online") this.options.onNodeJoin?.(worker);
      if (subject === "offline") this.options.onNodeLeave?.(worker);
      return;
    }
    if (group === "task" && typeof event.uuid === "string" && hostname !== null) {
      let task = this.tasks.get(event.uuid);
      if (!task) task = new TaskState(event.uuid);
      this.remember(this.tasks, event.uuid, task, this.maxTasks);
      if (subject === "sent") {
        task.client = hostname;
      } else {
        let worker = this.workers.get(hostname);
        if (!worker) {
          worker = new WorkerState(hostname);
          this.remember(this.workers, hostname, worker, this.maxWorkers);
        }
        task.worker = worker;
        if (localReceived) worker.event(null, localReceived, timestamp);
      }
      if (subject === "received") this.taskCount += 1;
      task.event(subject, timestamp, event);
    }
  }

  /** LRU insert: refresh the entry's position, evict the oldest beyond the bound. */
  private remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > max) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }

  aliveWorkers(nowSeconds?: number): WorkerState[] {
    return [...this.workers.values()].filter((w) => w.alive(nowSeconds));
  }

  tasksByState(state: string): TaskState[] {
    return [...this.tasks.values()].filter((t) => t.state === state);
  }
}
