import type { ResultBackend, ResultMetaRecord } from "../backends/backend.js";
import { ConfigError, TimeoutError } from "../errors.js";
import { EXCEPTION_STATES, READY_STATES } from "../protocol/states.js";
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
  /**
   * How long to wait, in milliseconds (the name says so: Celeriac's durations are otherwise
   * seconds, as Celery's); undefined waits forever (Celery's `timeout=None`).
   */
  timeoutMs?: number;
  /**
   * @deprecated Milliseconds, unlike Celery's `get(timeout=)` in seconds: use `timeoutMs`.
   * Still read (when `timeoutMs` is absent) until Celeriac 1.0, which removes it.
   */
  timeout?: number;
  /**
   * Milliseconds between polls for backends that must poll. The Redis and RPC backends wait
   * for a message and do not poll; accepted for Celery's `interval` parity.
   */
  intervalMs?: number;
  /** @deprecated Milliseconds, unlike Celery's `interval` in seconds: use `intervalMs`. */
  interval?: number;
  /** Throw the task's error (default true); false returns the error object instead. */
  propagate?: boolean;
  signal?: AbortSignal;
}

/** `timeoutMs`, else the deprecated millisecond `timeout`. */
function getTimeoutMs(options: GetOptions): number | undefined {
  return options.timeoutMs ?? options.timeout;
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
    if (this.cached === null || !READY_STATES.has(this.cached.status)) {
      const raw = await this.requireBackend().getMeta(this.id);
      this.cached = raw;
    }
    return toResultMeta(this.cached as ResultMetaRecord);
  }

  /** Waits for the task to finish and returns its value (or throws its error). */
  async get(options: GetOptions = {}): Promise<T> {
    let meta = this.cached;
    if (meta === null || !READY_STATES.has(meta.status)) {
      const wait: { timeout?: number; signal?: AbortSignal } = {};
      const timeoutMs = getTimeoutMs(options);
      if (timeoutMs !== undefined) wait.timeout = timeoutMs;
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
    return READY_STATES.has(await this.state());
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
  parent: AnyResult | null = null;

  /** Deletes the stored result (`AsyncResult.forget`). */
  async forget(): Promise<void> {
    this.cached = null;
    await this.requireBackend().forget(this.id);
  }

  toString(): string {
    return this.id;
  }
}

/**
 * A group's results (celery/result.py `GroupResult`): `id` is the group id,
 * `results` the members in group order (an `AsyncResult` or a nested
 * `GroupResult` each). `get()` returns the values in that order, as
 * `GroupResult.join` does; `save()`/`restore()` use
 * `celery-taskset-meta-<gid>` = `{"result": as_tuple()}` (celery/backends/base.py
 * `BaseKeyValueStoreBackend._save_group`, 5.7.0), so a
 * group saved by Python can be restored here and the reverse.
 */
export type AnyResult = AsyncResult | GroupResult;

/** `as_tuple()` of a result: `[[id, parent-tuple|null], null]` or `[[gid, parent], [children...]]`. */
export function asTuple(result: AnyResult): unknown[] {
  const parent = result.parent;
  const head = [result.id, parent ? asTuple(parent) : null];
  return result instanceof GroupResult ? [head, result.results.map(asTuple)] : [head, null];
}

/** `celery.result.result_from_tuple`: rebuilds a result (with parents) from its tuple. */
export function resultFromTuple(tuple: unknown, backend: ResultBackend | null): AnyResult {
  if (!Array.isArray(tuple) || !Array.isArray(tuple[0]) || typeof tuple[0][0] !== "string") {
    throw new ConfigError("result", `not a Celery result tuple: ${JSON.stringify(tuple)}`);
  }
  const [id, parentTuple] = tuple[0] as [string, unknown];
  const nodes = tuple[1];
  const result: AnyResult = Array.isArray(nodes)
    ? new GroupResult(
        id,
        nodes.map((n) => resultFromTuple(n, backend)),
        backend,
      )
    : new AsyncResult(id, backend);
  if (parentTuple !== null && parentTuple !== undefined)
    result.parent = resultFromTuple(parentTuple, backend);
  return result;
}

export class GroupResult<T = unknown> {
  readonly id: string;
  readonly results: AnyResult[];
  private readonly backend: ResultBackend | null;

  constructor(id: string, results: AnyResult[], backend: ResultBackend | null) {
    this.id = id;
    this.results = results;
    this.backend = backend;
  }

  /** The members' results (`GroupResult.children`). */
  get children(): AnyResult[] {
    return this.results;
  }

  /** The result this group's members received their input from (`GroupResult.parent`). */
  parent: AnyResult | null = null;

  private requireBackend(): ResultBackend {
    if (this.backend === null) {
      throw new ConfigError(
        "backend",
        "No result backend is configured: GroupResult needs one (e.g. redis://localhost:6379/1)",
      );
    }
    return this.backend;
  }

  /**
   * Waits for every member and returns their values in group order
   * (`GroupResult.get` / `join`). `timeout` bounds the whole wait; with
   * `propagate` (default) the first failed member's error is thrown.
   */
  async get(options: GetOptions = {}): Promise<T[]> {
    const timeoutMs = getTimeoutMs(options);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const values: unknown[] = [];
    for (const r of this.results) {
      const { timeout: _deprecated, ...each }: GetOptions = { ...options };
      if (deadline !== undefined) {
        const left = deadline - Date.now();
        if (left <= 0) throw new TimeoutError(`group ${this.id}: timed out waiting for ${r.id}`);
        each.timeoutMs = left;
      }
      values.push(await r.get(each));
    }
    return values as T[];
  }

  /** Number of members that succeeded (`GroupResult.completed_count`). */
  async completedCount(): Promise<number> {
    let n = 0;
    for (const r of this.results) if (await r.successful()) n++;
    return n;
  }

  async ready(): Promise<boolean> {
    for (const r of this.results) if (!(await r.ready())) return false;
    return true;
  }

  async successful(): Promise<boolean> {
    for (const r of this.results) if (!(await r.successful())) return false;
    return true;
  }

  async failed(): Promise<boolean> {
    for (const r of this.results) if (await r.failed()) return true;
    return false;
  }

  /** True while some member is not ready (`GroupResult.waiting`). */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** `GroupResult.as_tuple()`. */
  asTuple(): unknown[] {
    return asTuple(this);
  }

  /** Stores the group (`GroupResult.save` -> `celery-taskset-meta-<gid>`), so `restore()` finds it later. */
  async save(): Promise<void> {
    await this.requireBackend().saveGroup(this.id, this.asTuple());
  }

  /** Deletes the saved group (`GroupResult.delete`). */
  async delete(): Promise<void> {
    const backend = this.requireBackend();
    if (!backend.deleteGroup) throw new ConfigError("backend", "this result backend cannot delete groups");
    await backend.deleteGroup(this.id);
  }

  /** Forgets every member's result (`GroupResult.forget`). */
  async forget(): Promise<void> {
    for (const r of this.results) await r.forget();
  }

  /** `GroupResult.restore(gid)`: the saved group, or null when nothing was saved under that id. */
  static async restore<T = unknown>(groupId: string, backend: ResultBackend): Promise<GroupResult<T> | null> {
    const tuple = await backend.restoreGroup(groupId);
    if (tuple === null || tuple === undefined) return null;
    const result = resultFromTuple(tuple, backend);
    if (!(result instanceof GroupResult))
      throw new ConfigError("result", `celery-taskset-meta-${groupId} does not hold a group`);
    return result as GroupResult<T>;
  }

  toString(): string {
    return this.id;
  }
}
