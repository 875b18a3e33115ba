import { randomUUID } from "node:crypto";
import { ConfigError } from "../errors.js";
import { Chunks, MapSignature } from "./maps.js";
import { type PublishOptions, toPublishOptions } from "./options.js";
import { Chain, Chord, Group, Signature } from "./signature.js";

/**
 * Sending signatures, the way celery/canvas.py does it (protocol v2):
 *
 * - task: `Signature.apply_async` (partial args prepended unless immutable);
 * - chain: `_chain.run` + `prepare_steps`: every step frozen (ids known up
 *   front), only the FIRST task is sent, carrying the remaining steps in
 *   `embed.chain` in reverse order (next step last); a group followed by a
 *   step is upgraded to `chord(group, step)`;
 * - group: `group.apply_async`: members frozen with `group_id` = the group
 *   id and `group_index` = position; nested groups flattened;
 * - chord: `_chord.apply_async` + `run`: the body frozen (its id is the
 *   chord's result id, `group_id` = header group id), header members carry
 *   `embed.chord` = body, and the chord size is stored (`set_chord_size`)
 *   before the LAST header message is published.
 *
 * The same code runs in a producer and in the TS worker (next chain step,
 * callbacks), which is exactly how Celery shares it too.
 */
export interface CanvasPublisher {
  /** Publishes one task message (no option validation: internal send). */
  publishTask(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: PublishOptions,
  ): Promise<unknown>;
  /** Default `reply_to` written by freeze (Celery's `app.thread_oid`). */
  readonly oid: string;
  /** `backend.set_chord_size(group_id, n)`; throws when the backend has no chords. */
  setChordSize(groupId: string, size: number): Promise<void>;
  /**
   * `backend.apply_chord(header_result_args, body)` before the header is sent: django-db's
   * ChordCounter, or `celery.chord_unlock` for SQLAlchemy; nothing for Redis.
   */
  applyChord?(groupId: string, headerTuples: unknown[], body: Signature): Promise<void>;
}

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

type Options = Record<string, unknown>;

const taskNode = (id: string, parent: ResultNode | null = null): TaskNode => ({ kind: "task", id, parent });

/** The root of a node's parent chain. */
function rootOf(node: ResultNode): ResultNode {
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
function unrollGroup(g: Group): Signature[] {
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
    const rootId = str(sig.options.root_id);
    const parentId = str(sig.options.parent_id);
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
function prepareChain(
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

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Applies any signature. `args`/`kwargs` are partial arguments (a parent's
 * return value, for continuations); `extra` are apply_async options in
 * Celery's snake_case (parent_id, root_id, chain, ...), merged over the
 * signature's own.
 */
export async function applySignature(
  pub: CanvasPublisher,
  sig: Signature,
  args: readonly unknown[] = [],
  kwargs: Options = {},
  extra: Options = {},
): Promise<ResultNode> {
  if (sig instanceof Chunks) {
    // chunks.apply_async: its group of starmaps, routed as the inner task; only the call's options.
    return applyGroup(pub, sig.group(), args, kwargs, { route_name: sig.routeName, ...extra });
  }
  if (sig instanceof MapSignature) return applyMap(pub, sig, extra);
  if (sig instanceof Chain) return applyChain(pub, sig, args, kwargs, extra);
  if (sig instanceof Group) return applyGroup(pub, sig, args, kwargs, extra);
  if (sig instanceof Chord) return applyChord(pub, sig, args, kwargs, extra);
  const m = sig.merge(args, kwargs, extra);
  const options = toPublishOptions(m.options);
  const id = options.taskId ?? randomUUID();
  options.taskId = id;
  if (options.replyTo === undefined) options.replyTo = pub.oid;
  await pub.publishTask(sig.task, m.args, m.kwargs, options);
  return taskNode(id);
}

/**
 * `_basemap.apply_async`: partial args are dropped, the signature's options merged with the call's,
 * and the message is routed by the inner task's name unless a `route_name` is given.
 */
async function applyMap(pub: CanvasPublisher, sig: MapSignature, extra: Options): Promise<TaskNode> {
  const m = sig.merge([], {}, extra);
  const options = toPublishOptions(m.options);
  options.routeName ??= sig.routeName;
  // Sent through the built-in's Task.apply_async, which passes its `ignore_result` (False).
  options.ignoreResult ??= false;
  const id = options.taskId ?? randomUUID();
  options.taskId = id;
  if (options.replyTo === undefined) options.replyTo = pub.oid;
  const it = Array.isArray(m.kwargs.it) ? m.kwargs.it : [];
  await pub.publishTask(sig.task, [], { task: m.kwargs.task, it: [...it] }, options);
  return taskNode(id);
}

/** `_chain.run`: send the first step with the rest in `embed.chain`; returns the last step's node. */
async function applyChain(
  pub: CanvasPublisher,
  c: Chain,
  args: readonly unknown[],
  kwargs: Options,
  extra: Options,
): Promise<ResultNode> {
  const options: Options = { ...c.options, ...extra };
  const partial = args.length > 0 && !c.immutable ? [...args, ...c.args] : c.args;
  const {
    task_id,
    group_id,
    chord,
    group_index,
    root_id,
    parent_id,
    link,
    link_error,
    chain: outerChain,
    ...rest
  } = options;
  const prepared = prepareChain(
    c,
    partial,
    kwargs,
    {
      id: str(task_id),
      groupId: str(group_id),
      chord: chord instanceof Signature ? chord : chord ? Signature.fromDict(chord as never) : undefined,
      rootId: str(root_id),
      groupIndex: typeof group_index === "number" ? group_index : undefined,
      linkError: link_error,
    },
    pub.oid,
    true,
  );
  const { tasks, results } = prepared;
  if (tasks.length === 0) throw new ConfigError("chain", "cannot apply an empty chain");
  if (link !== undefined) {
    for (const cb of Array.isArray(link) ? link : [link]) (tasks[0] as Signature).link(cb as Signature);
  }
  const first = tasks.pop() as Signature;
  // _prepare_chain_from_options: an inherited chain (e.g. chain inside a chain step) is extended, never mutated.
  const remaining = Array.isArray(outerChain) ? [...(outerChain as Signature[]), ...tasks] : tasks;
  const sendOptions: Options = { ...rest, chain: remaining };
  if (parent_id !== undefined) sendOptions.parent_id = parent_id;
  if (root_id !== undefined) sendOptions.root_id = root_id;
  const sent = await applySignature(pub, first, [], {}, sendOptions);
  return tasks.length === 0 ? sent : (results[0] as ResultNode);
}

/** `group.apply_async`: every member with `group_id`/`group_index`, chord size before the last. */
async function applyGroup(
  pub: CanvasPublisher,
  g: Group,
  args: readonly unknown[],
  kwargs: Options,
  extra: Options,
): Promise<GroupNode> {
  if (extra.link !== undefined) throw new ConfigError("link", "Cannot add link to group: use a chord");
  if (extra.link_error !== undefined)
    throw new ConfigError("linkError", "Cannot add link to group: do that on individual tasks");
  const options: Options = { ...g.options };
  for (const [k, v] of Object.entries(extra))
    if (v !== undefined && !(k === "group_id" && k in g.options)) options[k] = v;
  const gid = str(options.task_id) ?? randomUUID();
  delete options.task_id;
  options.group_id = gid;
  const rootId = str(options.root_id);
  const members = unrollGroup(g);
  const results: ResultNode[] = [];
  const frozen = members.map((m, index) => ({
    m,
    node: freezeSignature(m, { groupId: gid, rootId, groupIndex: index }, pub.oid),
  }));
  let chordSize = 0;
  for (let i = 0; i < frozen.length; i++) {
    const { m, node } = frozen[i] as { m: Signature; node: ResultNode };
    const chordObj = options.chord ?? m.options.chord;
    chordSize += chordSizeOf(m);
    if (chordObj !== undefined && chordObj !== null && i === frozen.length - 1)
      await pub.setChordSize(gid, chordSize);
    const memberOptions: Options = { ...options };
    if (chordObj !== undefined) memberOptions.chord = chordObj;
    delete memberOptions.group_index;
    await applySignature(pub, m, args, kwargs, memberOptions);
    results.push(node);
  }
  return { kind: "group", id: gid, results, parent: null };
}

/** `_chord.apply_async` + `_chord.run`: returns the body's node, its root's parent = the header group. */
async function applyChord(
  pub: CanvasPublisher,
  c: Chord,
  args: readonly unknown[],
  kwargs: Options,
  extra: Options,
): Promise<ResultNode> {
  const partial = args.length > 0 && !c.immutable ? [...args, ...c.args] : c.args;
  const headerKwargs = { ...((c.kwargs.kwargs as Options | undefined) ?? {}), ...kwargs };
  const options: Options = { ...c.options, ...extra };
  // 5.7: countdown/eta delay the header, not the body (0.1 item 16).
  const headerDelay: Options = {};
  for (const key of ["countdown", "eta"]) {
    if (options[key] !== undefined && options[key] !== null) headerDelay[key] = options[key];
    delete options[key];
  }
  const bodyTaskId = str(options.task_id);
  delete options.task_id;
  const body = c.body.clone();
  const header = c.header.clone();
  // `_chord.apply_async`: a header that is a plain list (no group options) becomes
  // `group(tasks, task_id=self.options.get('task_id') or uuid())`.
  const listHeader = Object.keys(header.options).length === 0;
  const gid =
    str(header.options.task_id) ?? (listHeader ? str(c.options.task_id) : undefined) ?? randomUUID();
  const rootId = str(body.options.root_id);
  // _add_body_callbacks: link/link_error of the chord go to the body.
  const { link, link_error, ...rest } = options;
  for (const cb of link === undefined ? [] : Array.isArray(link) ? link : [link]) body.link(cb as Signature);
  for (const eb of link_error === undefined ? [] : Array.isArray(link_error) ? link_error : [link_error])
    body.linkError(eb as Signature);
  // _chord.run: `body.options.update(options minus parent_id)` (a plain update, group_id included).
  for (const [k, v] of Object.entries(rest)) if (k !== "parent_id" && v !== undefined) body.options[k] = v;
  const bodyRes = freezeSignature(body, { id: bodyTaskId ?? randomUUID(), groupId: gid, rootId }, pub.oid);
  const headerOptions: Options = { ...rest, ...headerDelay };
  delete headerOptions.chain;
  delete headerOptions.chord;
  header.options.task_id = gid;
  const frozenHeader = freezeSignature(header, { groupId: gid, chord: body, rootId }, pub.oid);
  let headerRes: ResultNode;
  if (header.tasks.length > 0) {
    if (pub.applyChord && frozenHeader.kind === "group")
      await pub.applyChord(gid, frozenHeader.results.map(resultTuple), body);
    headerRes = await applyGroup(pub, header, partial, headerKwargs, { ...headerOptions, task_id: gid });
  } else {
    await applySignature(pub, body, [[]]);
    headerRes = { kind: "group", id: gid, results: [], parent: null };
  }
  rootOf(bodyRes).parent = headerRes;
  return bodyRes;
}
