import type { SignatureDict } from "../protocol/task-message.js";
import { snakeOption } from "./option-names.js";
import { Chain, Chord, Group, Signature } from "./signature.js";

/**
 * The functions workflows are written with, as celery/canvas.py's (5.7.0) `signature()`, `Task.s`,
 * `Task.si`, `chain()`, `group()` and `chord()`, typed by what each step returns.
 */

type SigInput = Signature | SignatureDict;
const toSig = (s: SigInput): Signature => Signature.fromDict(s);

/** The result type of a signature (`unknown` for a dict or a task by name). */
export type SignatureResult<S> = S extends Signature<infer R> ? R : unknown;
/** The last element type of a tuple (any element of a plain array). */
type LastOf<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : T[number];

/** A signature of one task (not a chain, group or chord), as `s()`, `si()`, `signature()` and task handles make. */
export type TaskSig<R = unknown> = Signature<R> & { readonly subtaskType: null };

/** A task signature by name (`celery.signature(name, args, kwargs, options)`). */
export function signature<R = unknown>(
  task: string,
  args: readonly unknown[] = [],
  kwargs: Record<string, unknown> = {},
  options: Record<string, unknown> = {},
): TaskSig<R> {
  const snake: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) snake[snakeOption(k)] = v;
  return new Signature<R>(task, args, kwargs, snake) as TaskSig<R>;
}

/** `Task.s(*args)`: a mutable signature (a parent's result is prepended to its args). */
export function s<R = unknown>(task: string, ...args: unknown[]): TaskSig<R> {
  return new Signature<R>(task, args) as TaskSig<R>;
}

/** `Task.si(*args)`: an immutable signature (a parent's result is not passed). */
export function si<R = unknown>(task: string, ...args: unknown[]): TaskSig<R> {
  return new Signature<R>(task, args, {}, {}, null, true) as TaskSig<R>;
}

/**
 * `chain(*tasks)`; nested chains are spliced when applied, as `_chain.prepare_steps` does. Typed
 * by its last step: `chain(add.s(1, 2), double.s())` is a `Chain<number>` when `double` returns one.
 */
export function chain<T extends SigInput[]>(...tasks: T): Chain<SignatureResult<LastOf<T>>, LastOf<T>> {
  return new Chain(tasks.map(toSig));
}

/** `group(*tasks)` (or `group([tasks])`); a `Group<R>` of members returning `R`. */
export function group<T extends SigInput[]>(tasks: T): Group<SignatureResult<T[number]>>;
export function group<T extends SigInput[]>(...tasks: T): Group<SignatureResult<T[number]>>;
export function group(...tasks: (SigInput | SigInput[])[]): Group {
  const flat = tasks.length === 1 && Array.isArray(tasks[0]) ? tasks[0] : (tasks as SigInput[]);
  return new Group(flat.map(toSig));
}

/** `chord(header, body)`: body runs with the ordered list of header results; typed by the body. */
export function chord<B extends SigInput>(header: Group | SigInput[], body: B): Chord<SignatureResult<B>> {
  const g = header instanceof Group ? header : new Group(header.map(toSig));
  return new Chord(g, toSig(body));
}
