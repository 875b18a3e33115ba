import type { TaskContext } from "./context.js";
import { namedStamps, type WorkerRequest } from "./request.js";

/**
 * The request fields of a handler's context (Celery's `task.request` of a bound task): plain
 * data, also what a process- or thread-pool run receives.
 */
export function plainTaskContext(
  request: WorkerRequest,
  hostname: string,
  hard: number | null,
  soft: number | null,
): Record<string, unknown> {
  return {
    id: request.id,
    name: request.name,
    args: request.args,
    kwargs: request.kwargs,
    retries: request.retries,
    rootId: request.rootId,
    parentId: request.parentId,
    groupId: request.groupId,
    groupIndex: request.groupIndex,
    eta: request.eta,
    expires: request.expires,
    timeLimit: [hard, soft],
    origin: request.origin,
    replyTo: request.replyTo,
    correlationId: request.correlationId,
    headers: request.customHeaders,
    deliveryInfo: { ...request.deliveryInfo },
    properties: request.properties,
    chord: request.embed.chord,
    replacedTaskNesting: request.replacedTaskNesting,
    stampedHeaders: request.stampedHeaders ?? [],
    stamps: namedStamps(request),
    isEager: false,
    hostname,
  };
}

/** Where a context keeps the function that builds its `signal` (not enumerable: no spread copies it). */
const SIGNAL_SOURCE = Symbol("celeriac.signalSource");

const SIGNAL_PROPERTY: PropertyDescriptor = {
  get(this: { [SIGNAL_SOURCE]: () => AbortSignal }): AbortSignal {
    return this[SIGNAL_SOURCE]();
  },
  enumerable: true,
  configurable: true,
};

/** What a context does beyond carrying data: `ctx.retry()`, `replace()`, `addToChord()`, `updateState()`. */
export type ContextActions = Pick<TaskContext, "retry" | "replace" | "addToChord" | "updateState">;

/**
 * The context an in-process handler receives: {@link plainTaskContext}'s fields, `signal`, then
 * the actions, in that key order. `signal` is read through a getter, so its controller is only
 * built for a handler that looks at it (or when the run is aborted); a spread or
 * `Object.keys(ctx)` sees it as an ordinary enumerable property.
 */
export function workerTaskContext(
  plain: Record<string, unknown>,
  signal: () => AbortSignal,
  actions: ContextActions,
): TaskContext {
  // One getter function for every context, its source in a hidden slot: a getter of its own per
  // context gave every context its own hidden class (V8 shares a property transition only for the
  // same accessor functions), a map allocated per task and megamorphic reads of every field.
  Object.defineProperty(plain, SIGNAL_SOURCE, { value: signal });
  Object.defineProperty(plain, "signal", SIGNAL_PROPERTY);
  plain.retry = actions.retry;
  plain.replace = actions.replace;
  plain.addToChord = actions.addToChord;
  plain.updateState = actions.updateState;
  return plain as unknown as TaskContext;
}
