import { randomUUID } from "node:crypto";
import { stringOrUndefined } from "../protocol/guards.js";
import { Chain, Chord, Group, type Signature } from "./signature.js";

/**
 * Freezing signatures, the way celery/canvas.py does it (5.7.0): every task of a workflow gets its
 * id, root/parent, group and chord options before anything is sent, so the result tree
 * (`AsyncResult` / `GroupResult` with `parent`) is known up front. Pure data: sending is apply.ts.
 */

/** A result tree node (celery/result.py `AsyncResult` / `GroupResult` with `parent`). */
export type ResultNode = TaskNode | GroupNode;

export interface TaskNode {
  kind: "task";
  id: string;
  parent: ResultNode | null;
}

export interface GroupNode {
  kind: "group";
  id: string;
  results: ResultNode[];
  parent: ResultNode | null;
}

/** `AsyncResult.as_tuple()` / `GroupResult.as_tuple()`: `[[id, parent-tuple], null | [children]]`. */
export function resultTuple(node: ResultNode): unknown[] {
  const parent = node.parent ? resultTuple(node.parent) : null;
  return node.kind === "task"
    ? [[node.id, parent], null]
    : [[node.id, parent], node.results.map(resultTuple)];
}

export type Options = Record<string, unknown>;

export const taskNode = (id: string, parent: ResultNode | null = null): TaskNode => ({
  kind: "task",
  id,
  parent,
});

/** The root of a node's parent chain. */
export function rootOf(node: ResultNode): ResultNode {
  let n = node;
  while (n.parent) n = n.parent;
  return n;
}

/** `chord._descend`: how many header completions a signature contributes to a chord. */
export function chordSizeOf(sig: Signature): number {
  if (sig instanceof Group) return sig.tasks.reduce((n, t) => n + chordSizeOf(t), 0);
  if (sig instanceof Chain) {
    for (let i = sig.tasks.length - 1; i >= 0; i--) {
      const size = chordSizeOf(sig.tasks[i] as Signature);
      if (size > 0) return size;
    }
    return 0;
  }
  if (sig instanceof Chord) return chordSizeOf(sig.body);
  return 1;
}

/** Flattens nested groups (`group._freeze_unroll`), cloning every member. */
export function unrollGroup(g: Group): Signature[] {
  const out: Signature[] = [];
  for (const t of g.tasks) {
    if (t instanceof Group) out.push(...unrollGroup(t));
    else if (t instanceof Chain && t.tasks.length === 0) continue;
    else out.push(t.clone());
  }
  return out;
}

/**
 * Freezes a signature of any kind (celery/canvas.py `*.freeze`), returning
 * its result node. Tasks: `Signature.freeze`. Groups: members get the group
 * id and their index. Chords: header frozen with `chord` = body, body frozen
 * with the given id. Chains: every step, last one carrying group/chord.
 */
export function freezeSignature(
  sig: Signature,
  opts: {
    id?: string;
    groupId?: string;
    chord?: Signature;
    rootId?: string;
    parentId?: string;
    groupIndex?: number;
  },
  oid: string,
): ResultNode {
  if (sig instanceof Chain) {
    const last = prepareChain(sig, [], {}, opts, oid, false).results[0] ?? taskNode(randomUUID());
    // `prepare_steps` ends with `self.id = results[0].id`: a frozen chain carries its last step's id.
    sig.options.task_id = last.id;
    return last;
  }
  if (sig instanceof Group) {
    const gid = typeof sig.options.task_id === "string" ? sig.options.task_id : randomUUID();
    sig.options.task_id = gid;
    if (opts.groupId) sig.options.group_id = opts.groupId;
    if (opts.chord) sig.options.chord = opts.chord;
    if (opts.groupIndex !== undefined) sig.options.group_index = opts.groupIndex;
    // `group._freeze_group_tasks`: root_id/parent_id are `setdefault` (a None already there
    // stays), and members get the group_id passed to the freeze, not the group's own id
    // (`apply_async` gives them that when it sends them).
    if (!("root_id" in sig.options)) sig.options.root_id = opts.rootId ?? null;
    if (!("parent_id" in sig.options)) sig.options.parent_id = opts.parentId ?? null;
    const rootId = stringOrUndefined(sig.options.root_id);
    const parentId = stringOrUndefined(sig.options.parent_id);
    const members = unrollGroup(sig);
    sig.kwargs.tasks = members;
    const results = members.map((m, i) =>
      freezeSignature(m, { groupId: opts.groupId, chord: opts.chord, rootId, parentId, groupIndex: i }, oid),
    );
    return { kind: "group", id: gid, results, parent: null };
  }
  if (sig instanceof Chord) {
    const headerRes = freezeSignature(
      sig.header,
      { rootId: opts.rootId, parentId: opts.parentId, chord: sig.body },
      oid,
    );
    sig.options.task_id = headerRes.id;
    const bodyRes = freezeSignature(sig.body, { ...opts, parentId: undefined }, oid);
    rootOf(bodyRes).parent = headerRes;
    return bodyRes;
  }
  return taskNode(sig.freeze({ ...opts, replyTo: oid }));
}

/** `_chain.prepare_steps`: frozen steps in REVERSE order (first task last) and their results. */
export function prepareChain(
  c: Chain,
  args: readonly unknown[],
  kwargs: Options,
  opts: {
    id?: string;
    groupId?: string;
    chord?: Signature;
    rootId?: string;
    groupIndex?: number;
    linkError?: unknown;
  },
  oid: string,
  clone: boolean,
): { tasks: Signature[]; results: ResultNode[] } {
  // Splice nested chains and drop empty ones (prepare_steps' head normalization + in-loop splice).
  const steps: Signature[] = [];
  const splice = (list: Signature[]) => {
    for (const t of list) {
      if (t instanceof Chain) splice(t.tasks);
      else steps.push(t);
    }
  };
  splice(c.tasks);
  const tasks: Signature[] = [];
  const results: ResultNode[] = [];
  let prevTask: Signature | null = null;
  let prevRes: ResultNode | null = null;
  for (let i = steps.length - 1; i >= 0; i--) {
    const isFirst = i === 0;
    const isLast = tasks.length === 0 && prevTask === null;
    let task = steps[i] as Signature;
    if (task instanceof Group && task.tasks.length === 0 && (i > 0 || prevTask)) continue;
    if (clone) task = isFirst ? task.clone(args, kwargs) : task.clone();
    else if (isFirst) task.args = [...args, ...task.args];
    if (task instanceof Group && prevTask) {
      // group(...) | s  ->  chord(group, s), the body keeping the id it was frozen with.
      tasks.pop();
      results.pop();
      const body = prevTask;
      task = new Chord(task, body, { task_id: body.id, ...(opts.rootId ? { root_id: opts.rootId } : {}) });
      prevTask = tasks[tasks.length - 1] ?? null;
      prevRes = results[results.length - 1] ?? null;
      // The later steps were linked to the body's result; relink them to the chord's below.
      let node: ResultNode | null = prevRes;
      while (node?.parent && node.parent.id !== body.id) node = node.parent;
      if (node?.parent) node.parent = null;
      if (node) prevRes = node;
    }
    const res: ResultNode = isLast
      ? freezeSignature(
          task,
          {
            id: opts.id,
            rootId: opts.rootId,
            groupId: opts.groupId,
            chord: opts.chord,
            groupIndex: opts.groupIndex,
          },
          oid,
        )
      : freezeSignature(task, { rootId: opts.rootId }, oid);
    if (prevRes && !prevRes.parent) prevRes.parent = res;
    if (opts.linkError !== undefined) {
      const list = Array.isArray(opts.linkError) ? opts.linkError : [opts.linkError];
      for (const eb of list) task.linkError(eb as Signature);
    }
    tasks.push(task);
    results.push(res);
    prevTask = task;
    prevRes = task instanceof Chord ? rootOf(res) : res;
  }
  return { tasks, results };
}
