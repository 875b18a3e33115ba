import { isPlainObject, setOwn } from "../protocol/guards.js";

/**
 * Canvas stamping (celery/canvas.py `StampingVisitor`, `Signature.stamp`, `stamp_links`,
 * `_stamp_headers`, `_merge_dictionaries`, and the `stamp` of `_chain`, `group` and `_chord`,
 * 5.7.0), step for step, so a workflow stamped in TS carries the same stamps as the same workflow
 * stamped in Python. A stamp lands in the signature's options (`options[name] = value`, its name
 * in `options.stamped_headers`); the producer sends them as the `stamped_headers` / `stamps`
 * headers (canvas/options.ts `stampsOfOptions`).
 *
 * Python's lists are mutated in place where Celery mutates them (a list stamp merged with another
 * is extended), and dicts copied where Celery copies them, so duplicates come out the same. One
 * difference: Celery dedupes `stamped_headers` through a `set`, whose order depends on the
 * process's hash seed; here they keep first-seen order. Compare them as sets.
 *
 * The algorithm works on any node with Celery's shape (this file cannot import signature.ts,
 * which imports it); signature.ts instantiates the visitor type with its classes.
 */
export type StampHeaders = Record<string, unknown>;

/** What a visitor method returns: stamps to add (`{}` or nothing for none). */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook written `() => {}` (returning void) adds no stamps, as in Celery.
export type VisitorStamps = StampHeaders | undefined | null | void;

/**
 * celery/canvas.py `StampingVisitor`: `onSignature` is required (Celery's abstract method); the
 * others default to no stamps. A chord's header defaults to the group hooks, as in Celery.
 */
export interface StampingVisitorOf<S, C extends S = S, G extends S = S, D extends S = S> {
  onSignature(sig: S, headers: StampHeaders): VisitorStamps;
  onGroupStart?(group: G, headers: StampHeaders): VisitorStamps;
  onGroupEnd?(group: G, headers: StampHeaders): void;
  onChainStart?(chain: C, headers: StampHeaders): VisitorStamps;
  onChainEnd?(chain: C, headers: StampHeaders): void;
  onChordHeaderStart?(chord: D, headers: StampHeaders): VisitorStamps;
  onChordHeaderEnd?(chord: D, headers: StampHeaders): void;
  onChordBody?(chord: D, headers: StampHeaders): VisitorStamps;
  onCallback?(callback: S, headers: StampHeaders): VisitorStamps;
  onErrback?(errback: S, headers: StampHeaders): VisitorStamps;
}

/** The shape stamping needs (a canvas `Signature` has it). */
export interface StampNode {
  options: Record<string, unknown>;
  kwargs: Record<string, unknown>;
  subtaskType: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: the visitor is typed by signature.ts; here any node.
type AnyVisitor = StampingVisitorOf<any>;

/** Turns a link value (a signature, or its dict from the wire) into a node: `maybe_signature`. */
export type ToNode = (value: unknown) => StampNode;

const copy = (headers: StampHeaders): StampHeaders => {
  const out: StampHeaders = {};
  for (const key of Object.keys(headers)) setOwn(out, key, headers[key]);
  return out;
};

/** `copy.deepcopy` of stamp headers (containers copied, leaves kept). */
function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (isPlainObject(value)) {
    const out: StampHeaders = {};
    for (const key of Object.keys(value)) setOwn(out, key, deepCopy(value[key]));
    return out;
  }
  return value;
}

const isScalar = (v: unknown): boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" || typeof v === "bigint";

const unique = (names: unknown): unknown[] => [...new Set(Array.isArray(names) ? names : [])];

/**
 * `_merge_dictionaries(d1, d2, aggregate_duplicates)`: d2 into d1 in place. On a shared key a
 * nested dict is merged; two lists are concatenated (d1's list extended); otherwise d1's value is
 * kept, or with `aggregate` both values end up in a list. Keys only in d2 are added.
 */
export function mergeDictionaries(d1: StampHeaders, d2: StampHeaders, aggregate: boolean): void {
  if (Object.keys(d2).length === 0) return;
  for (const key of Object.keys(d1)) {
    if (!Object.hasOwn(d2, key)) continue;
    const value = d1[key];
    const other = d2[key];
    if (isPlainObject(value)) {
      if (isPlainObject(other)) mergeDictionaries(value, other, aggregate);
      continue;
    }
    if (isScalar(value)) setOwn(d1, key, aggregate ? [value] : value);
    const current = d1[key];
    if (Array.isArray(other) && Array.isArray(current)) {
      current.push(...other);
    } else if (aggregate) {
      const list =
        current === null || current === undefined ? [] : Array.isArray(current) ? [...current] : [current];
      list.push(other);
      setOwn(d1, key, list);
    }
  }
  for (const key of Object.keys(d2)) if (!Object.hasOwn(d1, key)) setOwn(d1, key, d2[key]);
}

/** `Signature._stamp_headers`: the stamps from the visitor, the inherited headers and (optionally) the node's own. */
export function stampHeaders(
  node: StampNode,
  visitorHeaders: StampHeaders | null,
  appendStamps: boolean,
  selfHeaders: boolean,
  inherited: StampHeaders,
): StampHeaders {
  const headers = copy(inherited);
  if (!Object.hasOwn(headers, "stamped_headers")) headers.stamped_headers = Object.keys(headers);
  if (visitorHeaders !== null) {
    if (!Object.hasOwn(visitorHeaders, "stamped_headers"))
      visitorHeaders.stamped_headers = Object.keys(visitorHeaders);
    mergeDictionaries(headers, visitorHeaders, appendStamps);
    headers.stamped_headers = unique(headers.stamped_headers);
  }
  if (selfHeaders) {
    const own = node.options.stamped_headers;
    const names = unique([...unique(headers.stamped_headers), ...(Array.isArray(own) ? own : [])]);
    headers.stamped_headers = names;
    const redacted: StampHeaders = {};
    for (const key of Object.keys(node.options))
      if (names.includes(key)) setOwn(redacted, key, node.options[key]);
    mergeDictionaries(headers, redacted, appendStamps);
    headers.stamped_headers = unique(headers.stamped_headers);
  }
  return headers;
}

/** A visitor hook's result as Celery takes it (`visitor.on_x(...) or {}`), or null without a visitor. */
function visit(visitor: AnyVisitor | null, hook: (v: AnyVisitor) => VisitorStamps): StampHeaders | null {
  if (visitor === null) return null;
  const got = hook(visitor);
  return isPlainObject(got) && Object.keys(got).length > 0 ? got : {};
}

/** `Signature.stamp_links`: callbacks with `on_callback`, errbacks with `on_errback`, not the node's own stamps. */
function stampLinks(
  node: StampNode,
  visitor: AnyVisitor | null,
  appendStamps: boolean,
  inherited: StampHeaders,
  toNode: ToNode,
): void {
  for (const [key, hook] of [
    ["link", (v: AnyVisitor, link: StampNode, h: StampHeaders) => v.onCallback?.(link, h)],
    ["link_error", (v: AnyVisitor, link: StampNode, h: StampHeaders) => v.onErrback?.(link, h)],
  ] as const) {
    let headers = deepCopy(inherited) as StampHeaders;
    for (const link of linksOf(node, key, toNode)) {
      const current = headers;
      const visitorHeaders = visit(visitor, (v) => hook(v, link, copy(current)));
      headers = stampHeaders(link, visitorHeaders, appendStamps, false, headers);
      stampNode(link, visitor, appendStamps, headers, toNode);
    }
  }
}

/** `maybe_list(options[key])` as nodes; dicts from the wire are replaced by their node, so the stamps stay in the options. */
function linksOf(node: StampNode, key: "link" | "link_error", toNode: ToNode): StampNode[] {
  const value = node.options[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    const single = toNode(value);
    node.options[key] = single;
    return [single];
  }
  for (let i = 0; i < value.length; i++) value[i] = toNode(value[i]);
  return value as StampNode[];
}

const tasksOf = (node: StampNode, toNode: ToNode): StampNode[] => {
  const tasks = node.kwargs.tasks;
  if (!Array.isArray(tasks)) return [];
  for (let i = 0; i < tasks.length; i++) tasks[i] = toNode(tasks[i]);
  return tasks as StampNode[];
};

/**
 * `sig.stamp(visitor, append_stamps, **headers)` for any node: `_chain.stamp`, `group.stamp`,
 * `_chord.stamp`, else `Signature.stamp` (the only one that writes stamps into its own options).
 */
export function stampNode(
  node: StampNode,
  visitor: AnyVisitor | null,
  appendStamps: boolean,
  inherited: StampHeaders,
  toNode: ToNode,
): void {
  if (node.subtaskType === "chain") {
    const start = visit(visitor, (v) => v.onChainStart?.(node, copy(inherited)));
    const headers = stampHeaders(node, start, appendStamps, true, inherited);
    // _chain.stamp calls stamp_links without append_stamps (Celery's default, False).
    stampLinks(node, visitor, false, headers, toNode);
    for (const task of tasksOf(node, toNode)) stampNode(task, visitor, appendStamps, headers, toNode);
    visitor?.onChainEnd?.(node, copy(headers));
    return;
  }
  if (node.subtaskType === "group") {
    const start = visit(visitor, (v) => v.onGroupStart?.(node, copy(inherited)));
    const headers = stampHeaders(node, start, appendStamps, true, inherited);
    stampLinks(node, visitor, appendStamps, headers, toNode);
    for (const task of tasksOf(node, toNode)) stampNode(task, visitor, appendStamps, headers, toNode);
    visitor?.onGroupEnd?.(node, copy(headers));
    return;
  }
  if (node.subtaskType === "chord") {
    const header = toNode(node.kwargs.header);
    node.kwargs.header = header;
    // StampingVisitor.on_chord_header_start/_end default to the group hooks on the header.
    const start = visit(visitor, (v) =>
      v.onChordHeaderStart
        ? v.onChordHeaderStart(node, copy(inherited))
        : v.onGroupStart?.(header, copy(inherited)),
    );
    let headers = stampHeaders(node, start, appendStamps, true, inherited);
    stampLinks(node, visitor, appendStamps, headers, toNode);
    const stamps = copy(headers);
    for (const task of tasksOf(header, toNode)) stampNode(task, visitor, appendStamps, stamps, toNode);
    if (visitor?.onChordHeaderEnd) visitor.onChordHeaderEnd(node, copy(headers));
    else visitor?.onGroupEnd?.(header, copy(headers));
    const body = node.kwargs.body;
    if (visitor !== null && body !== undefined && body !== null) {
      const bodyNode = toNode(body);
      node.kwargs.body = bodyNode;
      const current = headers;
      headers = stampHeaders(
        node,
        visit(visitor, (v) => v.onChordBody?.(node, copy(current))),
        appendStamps,
        true,
        headers,
      );
      stampNode(bodyNode, visitor, appendStamps, headers, toNode);
    }
    return;
  }
  stampLinks(node, visitor, appendStamps, inherited, toNode);
  const headers = copy(inherited);
  const own = visit(visitor, (v) => v.onSignature(node, copy(headers)));
  const stamped = stampHeaders(node, own, appendStamps, true, headers);
  // `self.set(**headers)`: the stamps and their names become options.
  for (const key of Object.keys(stamped)) setOwn(node.options, key, stamped[key]);
}
