import { Chain, Chord, Group, Signature } from "./signature.js";

/**
 * Celery's `|` operator on signatures (celery/canvas.py `Signature.__or__`,
 * `_chain.__or__`, `group.__or__`, `_chord.__or__`, 5.7.0): what `a | b`
 * builds. `Task.replace` composes its replacement with it, so the TS worker
 * must build exactly the shapes Python builds:
 *
 * - `group | x` -> `chord(group, x)` (an empty group on the right is a no-op);
 * - `chain | task` -> the chain extended; a chain ending in a group upgrades that
 *   group to `chord(group, task)`; a chain ending in a chord extends the chord's body;
 * - `chain | chain` -> each step of the right one piped on in turn;
 * - `chord | task` -> the chord with `body | task` as its body;
 * - `task | x` -> `chain(task, x)` (a right-hand chain is spliced in).
 *
 * A one-member group on the right is unrolled to its member first
 * (`maybe_unroll_group`). Operands are never changed: the result is built
 * from clones where Celery clones.
 */
export function pipe(a: Signature, b: Signature): Signature {
  if (a instanceof Group) return isEmptyGroup(b) ? a : new Chord(a, b);
  if (a instanceof Chain) return pipeChain(a, b);
  if (a instanceof Chord) {
    const unrolled = b instanceof Group && b.tasks.length === 1 ? unrollGroup(b) : b;
    if (!(unrolled instanceof Group) && !(unrolled instanceof Chain)) {
      const sig = cloneChord(a);
      sig.body = pipe(sig.body, unrolled);
      return sig;
    }
  }
  return pipeTask(a, b);
}

/** `Signature.__or__`: a task (or a chord falling through) on the left. */
function pipeTask(a: Signature, b: Signature): Signature {
  if (b instanceof Chain) return new Chain([a, ...unchainTasks(b)]);
  return new Chain([a, b instanceof Group ? unrollGroup(b) : b]);
}

/** `_chain.__or__`. */
function pipeChain(a: Chain, b: Signature): Signature {
  if (isEmptyGroup(b)) return a;
  if (b instanceof Group) {
    const other = unrollGroup(b);
    if (!(other instanceof Group)) return pipeChain(a, other);
    const tasks = unchainTasks(a);
    const last = tasks[tasks.length - 1];
    if (last === undefined) return other;
    if (last instanceof Chord) {
      last.body = pipe(last.body, other);
      return new Chain(tasks);
    }
    return new Chain([...tasks, other]);
  }
  if (b instanceof Chain) return unchainTasks(b).reduce<Signature>((acc, t) => pipe(acc, t), a);
  const last = a.tasks[a.tasks.length - 1];
  if (last instanceof Group) {
    const sig = a.clone();
    const steps = sig.tasks;
    steps[steps.length - 1] = new Chord(steps[steps.length - 1] as Group, b);
    const beforeLast = steps[steps.length - 2];
    // Two chords in a row: the second becomes part of the first one's body.
    if (steps.length > 1 && beforeLast instanceof Chord) {
      beforeLast.body = pipe(beforeLast.body, steps[steps.length - 1] as Signature);
      sig.kwargs.tasks = steps.slice(0, -1);
    }
    return sig;
  }
  if (last instanceof Chord && !(b instanceof Chord)) {
    const sig = a.clone();
    const tail = sig.tasks[sig.tasks.length - 1] as Chord;
    tail.body = pipe(tail.body, b);
    return sig;
  }
  return new Chain([...unchainTasks(a), b]);
}

/**
 * `_chain.unchain_tasks`: the steps cloned, the chain's `link` moved to the
 * last step and its `link_error` given to every step.
 */
export function unchainTasks(c: Chain): Signature[] {
  const tasks = c.tasks.map((t) => t.clone());
  const last = tasks[tasks.length - 1];
  for (const cb of listOption(c.options.link)) last?.link(cb);
  for (const eb of listOption(c.options.link_error)) for (const t of tasks) t.linkError(eb);
  return tasks;
}

function listOption(value: unknown): Signature[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => Signature.fromDict(v as Signature));
}

/**
 * `_chord.clone`: rebuilt from its dict, so the header becomes a plain list
 * of its (frozen) members (`_maybe_group`) and the header group's own
 * options are dropped; the chord's `task_id` still names the group id.
 */
function cloneChord(c: Chord): Chord {
  const sig = c.clone();
  sig.kwargs.header = new Group(sig.header.tasks);
  return sig;
}

/** `maybe_unroll_group`: a one-member group stands for its member. */
function unrollGroup(g: Group): Signature {
  return g.tasks.length === 1 ? (g.tasks[0] as Signature) : g;
}

function isEmptyGroup(sig: Signature): boolean {
  return sig instanceof Group && sig.tasks.length === 0;
}
