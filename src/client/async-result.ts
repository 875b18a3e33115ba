import type { ResultBackend, ResultMetaRecord } from "../backends/backend.js";
import { ConfigError } from "../errors.js";
import { type AnyResult, parentOf } from "./group-result.js";
import { metaToError } from "./result-error.js";

/**
 * A handle on one task's result (celery/result.py `AsyncResult`).
 *
 * `get()` waits through the backend (Redis: SUBSCRIBE then GET on a shared
 * subscriber, no polling), then returns the decoded value, or throws the
 * task's failure as a typed error (`RemoteTaskError`, `TaskRevokedError`,
 * `NotRegisteredError`); a timeout throws `TimeoutError` naming the id.
 *
 * Values are already in their TS forms (kombu JSON `__type__` markers are
 * decoded by the result codec: datetime -> PyDateTime/Date, Decimal ->
 * PyDecimal, UUID -> PyUUID, bytes -> Uint8Array).
 */
export interface GetOptions {
  /** Milliseconds; undefined waits forever (as Celery's `timeout=None`). */
  timeout?: number;
  /**
   * Milliseconds between polls for backends that must poll. The Redis backend
   * waits on pub/sub and does not use it; accepted for Celery parity.
   */
  interval?: number;
  /** Throw the task's error (default true); false returns the error object instead. */
  propagate?: boolean;
  signal?: AbortSignal;
}

/** The `result_extended` fields of a meta, camel-cased, plus the core ones. */
export interface ResultMeta {
  taskId: string;
  status: string;
  result: unknown;
  traceback: string | null;
  children: unknown[] | null;
  dateDone: string | null;
  groupId?: string | undefined;
  parentId?: string | undefined;
  /** `result_extended` only. */
  name?: string | undefined;
  args?: unknown[] | undefined;
  kwargs?: Record<string, unknown> | undefined;
  worker?: string | undefined;
  retries?: number | undefined;
  queue?: string | undefined;
  /** The raw meta as stored. */
  raw: ResultMetaRecord;
}

const READY = new Set(["SUCCESS", "FAILURE", "REVOKED"]);
const EXCEPTION_STATES = new Set(["FAILURE", "REVOKED", "RETRY"]);

export function toResultMeta(raw: ResultMetaRecord): ResultMeta {
  const pick = <T>(key: string, check: (v: unknown) => boolean): T | undefined =>
    check(raw[key]) ? (raw[key] as T) : undefined;
  const isString = (v: unknown) => typeof v === "string";
  return {
    taskId: raw.task_id,
    status: raw.status,
    result: raw.result,
    traceback: raw.traceback,
    children: raw.children,
    dateDone: raw.date_done,
    groupId: pick("group_id", isString),
    parentId: pick("parent_id", isString),
    name: pick("name", isString),
    args: pick("args", Array.isArray),
    kwargs: pick("kwargs", (v) => v !== null && typeof v === "object" && !Array.isArray(v)),
    worker: pick("worker", isString),
    retries: pick("retries", (v) => typeof v === "number"),
    queue: pick("queue", isString),
    raw,
  };
}

/** Task ids named by a meta's `children` (result tuples `[[id, parent], null]`, group tuples `[[gid, null], [...]]`). */
export function childIds(children: unknown[] | null): string[] {
  const ids: string[] = [];
  for (const child of children ?? []) {
    if (!Array.isArray(child)) continue;
    const head = child[0];
    if (Array.isArray(head) && typeof head[0] === "string") ids.push(head[0]);
    else if (typeof head === "string") ids.push(head);
  }
  return ids;
}

export class AsyncResult<T = unknown> {
  readonly id: string;
  /** The task name when this process sent it (`AsyncResult.name`). */
  readonly name: string | undefined;
  private readonly backend: ResultBackend | null;
  private cached: ResultMetaRecord | null = null;

  constructor(id: string, backend: ResultBackend | null, name?: string) {
    this.id = id;
    this.backend = backend;
    this.name = name;
  }

  private requireBackend(): ResultBackend {
    if (this.backend === null) {
      throw new ConfigError(
        "backend",
        "No result backend is configured: pass `backend` (e.g. redis://localhost:6379/1) to new Celery() to read results",
      );
    }
    return this.backend;
  }

  /** Fetches the current meta (a ready meta is cached: it can no longer change). */
  async meta(): Promise<ResultMeta> {
    if (this.cached === null || !READY.has(this.cached.status)) {
      const raw = await this.requireBackend().getMeta(this.id);
      this.cached = raw;
    }
    return toResultMeta(this.cached as ResultMetaRecord);
  }

  /** Waits for the task to finish and returns its value (or throws its error). */
  async get(options: GetOptions = {}): Promise<T> {
    let meta = this.cached;
    if (meta === null || !READY.has(meta.status)) {
      const wait: { timeout?: number; signal?: AbortSignal } = {};
      if (options.timeout !== undefined) wait.timeout = options.timeout;
      if (options.signal !== undefined) wait.signal = options.signal;
      meta = await this.requireBackend().waitForReady(this.id, wait);
      this.cached = meta;
    }
    if (meta.status === "SUCCESS") return meta.result as T;
    const error = metaToError(meta);
    if (options.propagate === false) return error as T;
    throw error;
  }

  /** `PENDING`, `STARTED`, `RETRY`, `SUCCESS`, `FAILURE`, `REVOKED`, or a custom state. */
  async state(): Promise<string> {
    return (await this.meta()).status;
  }

  async ready(): Promise<boolean> {
    return READY.has(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === "SUCCESS";
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === "FAILURE";
  }

  /** The result value, or for exception states the rebuilt error (`AsyncResult.info`). */
  async info(): Promise<unknown> {
    const meta = await this.meta();
    return EXCEPTION_STATES.has(meta.status) && meta.result !== null ? metaToError(meta.raw) : meta.result;
  }

  /** The Python traceback of the last fetched meta (after `get()`/`state()`/`meta()`). */
  get traceback(): string | null {
    return this.cached?.traceback ?? null;
  }

  /** Results of tasks this task sent while running (from the last fetched meta). */
  get children(): AsyncResult[] {
    return childIds(this.cached?.children ?? null).map((id) => new AsyncResult(id, this.backend));
  }

  /** The result this one's task received its input from (chain/chord steps; `AsyncResult.parent`). */
  get parent(): AnyResult | null {
    return parentOf(this);
  }

  /** Deletes the stored result (`AsyncResult.forget`). */
  async forget(): Promise<void> {
    this.cached = null;
    await this.requireBackend().forget(this.id);
  }

  toString(): string {
    return this.id;
  }
}
