import { randomUUID } from "node:crypto";
import { ConfigError } from "../errors.js";
import { stringOrUndefined } from "../protocol/guards.js";
import {
  chordSizeOf,
  freezeSignature,
  type GroupNode,
  type Options,
  prepareChain,
  type ResultNode,
  resultTuple,
  rootOf,
  type TaskNode,
  taskNode,
  unrollGroup,
} from "./freeze.js";
import { Chunks, MapSignature } from "./maps.js";
import { type PublishOptions, toPublishOptions } from "./options.js";
import { Chain, Chord, Group, Signature } from "./signature.js";

/**
 * Sending signatures, the way celery/canvas.py does it (5.7.0, protocol v2; freezing is freeze.ts):
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
      id: stringOrUndefined(task_id),
      groupId: stringOrUndefined(group_id),
      chord: chord instanceof Signature ? chord : chord ? Signature.fromDict(chord as never) : undefined,
      rootId: stringOrUndefined(root_id),
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
  const gid = stringOrUndefined(options.task_id) ?? randomUUID();
  delete options.task_id;
  options.group_id = gid;
  const rootId = stringOrUndefined(options.root_id);
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
  const bodyTaskId = stringOrUndefined(options.task_id);
  delete options.task_id;
  const body = c.body.clone();
  const header = c.header.clone();
  // `_chord.apply_async`: a header that is a plain list (no group options) becomes
  // `group(tasks, task_id=self.options.get('task_id') or uuid())`.
  const listHeader = Object.keys(header.options).length === 0;
  const gid =
    stringOrUndefined(header.options.task_id) ??
    (listHeader ? stringOrUndefined(c.options.task_id) : undefined) ??
    randomUUID();
  const rootId = stringOrUndefined(body.options.root_id);
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
