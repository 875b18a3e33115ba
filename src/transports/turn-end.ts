/**
 * Runs `fn` once the current event-loop turn has done all it can without I/O: after the caller's
 * synchronous code and after every promise reaction queued now or by those reactions (the whole
 * microtask drain), before the loop moves on to timers, I/O or its check phase.
 *
 * A batch that waits for this still gathers everything one turn produces (a loop of sends, a
 * `Promise.all`, the finished tasks of one take), but a lone item goes out at once instead of
 * after the rest of the loop's phases, which `setImmediate` makes it wait for. The microtask hop
 * is what makes it robust: a `process.nextTick` queued from synchronous code would run before
 * the promise reactions of the same turn; queued from a microtask it runs after the drain.
 */
export function atTurnEnd(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}
