import type { ResultBackend } from "../backends/backend.js";
import { ConfigError, TimeoutError } from "../errors.js";
import { AsyncResult, type GetOptions } from "./async-result.js";

/**
 * A group's results (celery/result.py `GroupResult`): `id` is the group id,
 * `results` the members in group order (an `AsyncResult` or a nested
 * `GroupResult` each). `get()` returns the values in that order, as
 * `GroupResult.join` does; `save()`/`restore()` use
 * `celery-taskset-meta-<gid>` = `{"result": as_tuple()}` (wire notes 6.4), so a
 * group saved by Python can be restored here and the reverse.
 */
export type AnyResult = AsyncResult | GroupResult;

/** A result with the task or group that produced its input (`result.parent`). */
export interface WithParent {
  parent: AnyResult | null;
}

const parents = new WeakMap<object, AnyResult | null>();

/** The parent recorded for a result (`AsyncResult.parent`), null when none. */
export function parentOf(result: AnyResult): AnyResult | null {
  return parents.get(result) ?? null;
}

/** Records `result.parent` (used by the canvas when building chain/chord results). */
export function setParent(result: AnyResult, parent: AnyResult | null): void {
  parents.set(result, parent);
}

/** `as_tuple()` of a result: `[[id, parent-tuple|null], null]` or `[[gid, parent], [children...]]`. */
export function asTuple(result: AnyResult): unknown[] {
  const parent = parentOf(result);
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
    setParent(result, resultFromTuple(parentTuple, backend));
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

  get parent(): AnyResult | null {
    return parentOf(this);
  }

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
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    const values: unknown[] = [];
    for (const r of this.results) {
      const each: GetOptions = { ...options };
      if (deadline !== undefined) {
        const left = deadline - Date.now();
        if (left <= 0) throw new TimeoutError(`group ${this.id}: timed out waiting for ${r.id}`);
        each.timeout = left;
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
    const backend = this.requireBackend() as ResultBackend & { deleteGroup?(id: string): Promise<void> };
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
