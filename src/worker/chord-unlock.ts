import type { ResultBackend, ResultMetaRecord } from "../backends/backend.js";
import { joinResults, tupleTaskIds } from "../backends/chord-results.js";
import { applySignature } from "../canvas/apply.js";
import { Signature } from "../canvas/signature.js";
import { CHORD_UNLOCK_TASK } from "../client/chord-unlock.js";
import { logSafe } from "../protocol/py-repr.js";
import { parseResultTuple } from "../protocol/result-meta.js";
import { saferepr } from "../protocol/saferepr.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { type ContinuationDeps, chordErrorFromStack } from "./continuations.js";

/**
 * The builtin `celery.chord_unlock` for TS workers (celery/app/builtins.py `unlock_chord`, 5.7),
 * registered when the backend joins chords that way (Celery's SQLAlchemy backend): polls the
 * header results, retrying every `interval` (`result_chord_retry_interval`) until all are ready,
 * then sends the body with their values in order, or stores a ChordError on it.
 */
/** What the TS worker's `celery.chord_unlock` needs. */
export interface ChordUnlockDeps {
  backend: ResultBackend;
  canvas: ContinuationDeps;
  /** `result_chord_retry_interval` (seconds). */
  retryInterval: number;
}

/** The `celery.chord_unlock` context fields used (a subset of the TS task context). */
export interface ChordUnlockContext {
  id: string;
  rootId: string | null;
  kwargs: Record<string, unknown>;
  retry(options: { countdown: number; maxRetries: number | null }): never;
}

async function readMetas(backend: ResultBackend, ids: string[]): Promise<Map<string, ResultMetaRecord>> {
  const many = (backend as { getMetas?: (ids: readonly string[]) => Promise<ResultMetaRecord[]> }).getMetas;
  const metas = many
    ? await many.call(backend, ids)
    : await Promise.all(ids.map((id) => backend.getMeta(id)));
  return new Map(metas.map((m) => [m.task_id, m]));
}

/** celery/app/builtins.py `unlock_chord` (5.7) for the TS worker. */
export async function unlockChord(
  deps: ChordUnlockDeps,
  ctx: ChordUnlockContext,
  groupId: string,
  callback: SignatureDict,
): Promise<void> {
  const interval = typeof ctx.kwargs.interval === "number" ? ctx.kwargs.interval : deps.retryInterval;
  const maxRetries = typeof ctx.kwargs.max_retries === "number" ? ctx.kwargs.max_retries : null;
  const tuples = Array.isArray(ctx.kwargs.result) ? ctx.kwargs.result : [];
  const nodes = tuples.map((t, i) => parseResultTuple(t, `chord_unlock result[${i}]`));
  let joined: ReturnType<typeof joinResults>;
  try {
    joined = joinResults(nodes, await readMetas(deps.backend, tupleTaskIds(nodes)));
  } catch {
    // `deps.ready()` raised (database unreachable): retry, as Celery does.
    ctx.retry({ countdown: interval, maxRetries });
  }
  if (joined === null) ctx.retry({ countdown: interval, maxRetries });
  const body = Signature.fromDict(callback);
  if ("error" in joined) {
    // `logger.exception('Chord %r raised: %r', group_id, exc)` (celery/app/builtins.py
    // unlock_chord, 5.7), with reprs that never throw (celery/utils/saferepr.py `saferepr`).
    deps.canvas.log?.(
      "error",
      `Chord ${logSafe(saferepr(groupId))} raised: ChordError(${logSafe(saferepr(joined.error.exc_message[0]))})`,
    );
    await chordErrorFromStack(deps.canvas, body, joined.error);
    return;
  }
  // `callback.delay(ret)` from inside chord_unlock: this task is the body's parent.
  const extra: Record<string, unknown> = {
    parent_id: ctx.id,
    root_id: body.options.root_id ?? ctx.rootId ?? ctx.id,
  };
  try {
    await applySignature(deps.canvas.publisher, body, [joined.results], {}, extra);
  } catch (err) {
    await chordErrorFromStack(deps.canvas, body, {
      exc_type: "ChordError",
      exc_message: [`Callback error: ${String(err)}`],
      exc_module: "celery.exceptions",
    });
  }
}

/** What {@link registerChordUnlock} needs of the worker's task registry. */
export interface ChordUnlockRegistry {
  has(name: string): boolean;
  register(
    name: string,
    handler: (ctx: ChordUnlockContext, groupId: string, callback: SignatureDict) => Promise<void>,
    options: { ignoreResult: boolean; maxRetries: null; defaultRetryDelay: number },
  ): unknown;
}

/**
 * Registers the builtin `celery.chord_unlock` (`shared=False, ignore_result=True,
 * max_retries=None`) in a TS worker whose backend joins chords that way, unless the app
 * registered its own.
 */
export function registerChordUnlock(
  registry: ChordUnlockRegistry,
  backend: ResultBackend | null,
  canvas: { deps: ContinuationDeps },
  retryInterval: number,
): void {
  if (!backend?.chordJoiner?.usesChordUnlock || registry.has(CHORD_UNLOCK_TASK)) return;
  const deps: ChordUnlockDeps = { backend, canvas: canvas.deps, retryInterval };
  registry.register(
    CHORD_UNLOCK_TASK,
    (ctx, groupId, callback) => unlockChord(deps, ctx, groupId, callback),
    {
      ignoreResult: true,
      maxRetries: null,
      defaultRetryDelay: retryInterval,
    },
  );
}
