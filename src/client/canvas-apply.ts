import { type ResultBackend, requireChordJoiner } from "../backends/backend.js";
import { applySignature, type CanvasPublisher } from "../canvas/apply.js";
import { type ResultNode, resultTuple } from "../canvas/freeze.js";
import type { Chunks } from "../canvas/maps.js";
import { snakeOption } from "../canvas/option-names.js";
import type { PublishOptions } from "../canvas/options.js";
import type { Chain, Chord, Group, Signature } from "../canvas/signature.js";
import type { Settings } from "../config.js";
import { applyChordOnBackend } from "./chord-unlock.js";
import { addTrail, withoutTrail } from "./current-task.js";
import { type AnyResult, AsyncResult, GroupResult } from "./result.js";

/** What applying a workflow needs from the app (the `Celery` facade satisfies it). */
export interface CanvasApp {
  readonly oid: string;
  /** For `celery.chord_unlock`'s routing (database backends). */
  readonly settings: Settings;
  readonly backend: ResultBackend | null;
  publishTask(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options?: PublishOptions,
  ): Promise<unknown>;
}

/** A {@link CanvasPublisher} sending through the app. */
export function canvasPublisher(app: CanvasApp): CanvasPublisher {
  const publishTask: CanvasPublisher["publishTask"] = (name, args, kwargs, options) =>
    app.publishTask(name, args, kwargs, options);
  return {
    oid: app.oid,
    publishTask,
    setChordSize: (gid, size) => requireChordJoiner(app.backend).setChordSize(gid, size),
    applyChord: (gid, headerTuples, body) =>
      applyChordOnBackend(
        requireChordJoiner(app.backend),
        app.settings,
        publishTask,
        gid,
        headerTuples,
        body,
      ),
  };
}

/** Result handles (with `parent` links) for a result tree. */
export function resultOf(node: ResultNode, backend: ResultBackend | null): AnyResult {
  const result: AnyResult =
    node.kind === "task"
      ? new AsyncResult(node.id, backend)
      : new GroupResult(
          node.id,
          node.results.map((n) => resultOf(n, backend)),
          backend,
        );
  if (node.parent) result.parent = resultOf(node.parent, backend);
  return result;
}

/** `apply_async` options in camelCase (`sendTask` spellings) or Celery's snake_case. */
export type CanvasOptions = Record<string, unknown>;

/**
 * Sends a workflow (`sig.apply_async(args, kwargs, **options)`): a chain's
 * last step result, a group's GroupResult, a chord's body result.
 */
export async function applyAsync<T = unknown>(
  app: CanvasApp,
  sig: Group,
  args?: readonly unknown[],
  kwargs?: Record<string, unknown>,
  options?: CanvasOptions,
): Promise<GroupResult<T>>;
/** `chunks(...)` is sent as its group of `celery.starmap` parts: a GroupResult of their lists. */
export async function applyAsync<T = unknown>(
  app: CanvasApp,
  sig: Chunks,
  args?: readonly unknown[],
  kwargs?: Record<string, unknown>,
  options?: CanvasOptions,
): Promise<GroupResult<T>>;
export async function applyAsync<T = unknown>(
  app: CanvasApp,
  sig: Chord,
  args?: readonly unknown[],
  kwargs?: Record<string, unknown>,
  options?: CanvasOptions,
): Promise<AsyncResult<T>>;
/** A chain's result is its last step's: an AsyncResult, or a GroupResult when the chain ends in a group. */
export async function applyAsync<T = unknown>(
  app: CanvasApp,
  sig: Chain,
  args?: readonly unknown[],
  kwargs?: Record<string, unknown>,
  options?: CanvasOptions,
): Promise<AsyncResult<T>>;
export async function applyAsync<T = unknown>(
  app: CanvasApp,
  sig: Signature,
  args?: readonly unknown[],
  kwargs?: Record<string, unknown>,
  options?: CanvasOptions,
): Promise<AsyncResult<T>>;
export async function applyAsync(
  app: CanvasApp,
  sig: Signature,
  args: readonly unknown[] = [],
  kwargs: Record<string, unknown> = {},
  options: CanvasOptions = {},
): Promise<AnyResult> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) extra[snakeOption(k)] = v;
  const node = await withoutTrail(() => applySignature(canvasPublisher(app), sig, args, kwargs, extra));
  addTrail(trailTuple(node));
  return resultOf(node, app.backend);
}

/**
 * What a canvas sent from inside a task adds to that task's `children`
 * (celery/canvas.py 5.7.0): its members go out with `add_to_parent=False`;
 * a group adds its GroupResult, a chord its header's, a chain the plain
 * result `send_task` returned for its first step (no parent).
 */
export function trailTuple(node: ResultNode): unknown[] {
  let first = node;
  while (first.parent) first = first.parent;
  return first.kind === "task" ? [[first.id, null], null] : resultTuple({ ...first, parent: null });
}
