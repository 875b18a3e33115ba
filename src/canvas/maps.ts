import { ConfigError } from "../errors.js";
import { isRecord } from "../protocol/guards.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { Group, Signature } from "./signature.js";

/**
 * `xmap`, `xstarmap` and `chunks` (celery/canvas.py `_basemap`, `xmap`,
 * `xstarmap`, `chunks`, 5.7.0): signatures of the built-in tasks
 * `celery.map`, `celery.starmap` and `celery.chunks`, which call a task's
 * function once per item inside the worker that runs them (the TS worker
 * hosts them for the tasks it registers: src/worker/builtins.ts).
 *
 * On the wire they are immutable signatures with no args and
 * `kwargs = {task: <signature dict>, it: [...]}` (plus `n` for chunks).
 * Applying one routes by the INNER task's name
 * (`route_name=task_name_from(task)`), so `taskRoutes` for that task send
 * the built-in to the workers that host it.
 */

export const MAP_TASK = "celery.map";
export const STARMAP_TASK = "celery.starmap";
export const CHUNKS_TASK = "celery.chunks";

function innerDict(task: Signature | SignatureDict): SignatureDict {
  return task instanceof Signature ? task.toDict() : Signature.fromDict(task).toDict();
}

function items(it: Iterable<unknown>, what: string): unknown[] {
  if (it === null || typeof it !== "object" || !(Symbol.iterator in it))
    throw new ConfigError(what, `${what} needs an iterable of items (got ${typeof it})`);
  return [...it];
}

function chunkSize(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw new ConfigError("chunks", `chunks needs a chunk size n >= 1 (got ${String(n)})`);
  return n;
}

/**
 * `_basemap`: an immutable `celery.map` / `celery.starmap` signature. Its
 * dict has `subtask_type` null (Celery's `_basemap.__init__` passes none), so
 * a dict read back is a plain signature that sends the built-in by its name,
 * as in Python.
 */
export class MapSignature extends Signature {
  /** `_basemap.apply_async` routes by this name (`task_name_from(task)`). */
  get routeName(): string | undefined {
    const inner = this.kwargs.task;
    if (inner instanceof Signature) return inner.task;
    return isRecord(inner) && typeof inner.task === "string" ? inner.task : undefined;
  }
}

/** `chunks`: applying it sends {@link Chunks.group} (its `celery.starmap` parts) as a group. */
export class Chunks extends MapSignature {
  /** `chunks.group()`: `group(xstarmap(task, part) for part in _chunks(iter(it), n))`. */
  group(): Group {
    const task = this.kwargs.task as Signature | SignatureDict;
    const it = Array.isArray(this.kwargs.it) ? this.kwargs.it : [];
    const n = chunkSize(this.kwargs.n);
    const parts: Signature[] = [];
    for (let i = 0; i < it.length; i += n) parts.push(xstarmap(task, it.slice(i, i + n) as unknown[][]));
    return new Group(parts);
  }
}

/** `xmap(task, it)` (`Task.map`): `[task(item) for item in it]`, one message, run in order in one worker. */
export function xmap(task: Signature | SignatureDict, it: Iterable<unknown>): MapSignature {
  return new MapSignature(MAP_TASK, [], { task: innerDict(task), it: items(it, "xmap") }, {}, null, true);
}

/** `xstarmap(task, it)` (`Task.starmap`): `[task(*args) for args in it]`. */
export function xstarmap(task: Signature | SignatureDict, it: Iterable<readonly unknown[]>): MapSignature {
  return new MapSignature(
    STARMAP_TASK,
    [],
    { task: innerDict(task), it: items(it, "xstarmap") },
    {},
    null,
    true,
  );
}

/** `chunks(task, it, n)` (`Task.chunks`): `it` (argument lists) split into `n`-sized starmap parts run as a group. */
export function chunks(task: Signature | SignatureDict, it: Iterable<readonly unknown[]>, n: number): Chunks {
  return new Chunks(
    CHUNKS_TASK,
    [],
    { task: innerDict(task), it: items(it, "chunks"), n: chunkSize(n) },
    {},
    null,
    true,
  );
}
