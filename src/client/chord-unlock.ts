import type { ChordJoiner } from "../backends/backend.js";
import type { CanvasPublisher } from "../canvas/apply.js";
import { toPublishOptions } from "../canvas/options.js";
import type { Signature } from "../canvas/signature.js";
import type { Settings } from "../config.js";
import { Router } from "./router.js";

/**
 * Chords on backends without a join of their own (Celery's SQLAlchemy backend):
 * `Backend.apply_chord` -> `fallback_chord_unlock` sends `celery.chord_unlock(group_id, body,
 * interval=None, max_retries=None, result=[header tuples])` with countdown 1 to the body's
 * queue; that task (celery/app/builtins.py `unlock_chord`) polls the header results, retrying
 * every `result_chord_retry_interval` until all are ready, then sends the body with their values
 * (or stores a ChordError on it). Whichever worker, Python or TS, consumes that queue runs it,
 * and only one chord_unlock message exists per chord, so the body fires once. The task itself,
 * for TS workers, is worker/chord-unlock.ts.
 */
export const CHORD_UNLOCK_TASK = "celery.chord_unlock";

/** `backend.apply_chord(header_result_args, body)`, producer side. */
export async function applyChordOnBackend(
  join: ChordJoiner,
  settings: Settings,
  publishTask: CanvasPublisher["publishTask"],
  groupId: string,
  headerTuples: unknown[],
  body: Signature,
): Promise<void> {
  if (join.applyChord) await join.applyChord(groupId, headerTuples);
  if (!join.usesChordUnlock) return;
  // fallback_chord_unlock (celery/backends/base.py 5.7): queue = body's queue, else the route of
  // the body's task name; priority = body's, else 0; the queue's exchange type travels in kwargs
  // for retries.
  const router = new Router(settings);
  const explicitQueue = typeof body.options.queue === "string" ? body.options.queue : undefined;
  const queue = explicitQueue ?? router.route(body.task, {}).queue.name;
  const priority = typeof body.options.priority === "number" ? body.options.priority : 0;
  const kwargs: Record<string, unknown> = { interval: null, max_retries: null, result: headerTuples };
  const exchangeType =
    typeof body.options.exchange_type === "string"
      ? body.options.exchange_type
      : router.queue(queue).exchangeType;
  kwargs._chord_unlock_exchange_type = exchangeType;
  const options: Record<string, unknown> = { countdown: 1, queue, priority };
  for (const key of ["exchange", "routing_key", "headers"]) {
    if (body.options[key] !== undefined && body.options[key] !== null) options[key] = body.options[key];
  }
  await publishTask(CHORD_UNLOCK_TASK, [groupId, body.toDict()], kwargs, toPublishOptions(options));
}
