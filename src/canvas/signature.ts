import { randomUUID } from "node:crypto";
import { ConfigError } from "../errors.js";
import { rejectUnknownKeys } from "../option-checks.js";
import { isPlainObject, isRecord, setOwn } from "../protocol/guards.js";
import { saferepr } from "../protocol/saferepr.js";
import type { SignatureDict } from "../protocol/task-message.js";
import { SIGNATURE_OPTION_NAMES, snakeOption } from "./option-names.js";
import { type StampHeaders, type StampingVisitorOf, stampNode } from "./stamping.js";

/**
 * Celery signatures (celery/canvas.py `Signature`, `_chain`, `group`,
 * `_chord`) as plain TS objects that serialize to exactly Celery's dict
 * shape (celery/canvas.py `Signature.__init__`, 5.7.0):
 *
 * `{task, args, kwargs, options, subtask_type, immutable}`
 *
 * Like Celery's, a signature is mutable: `set()`, `link()`, `linkError()`
 * and `freeze()` change it in place and return it (or the callback / the
 * frozen id), `clone()` copies. Options keep Celery's snake_case names
 * (`task_id`, `link_error`, `group_id`, ...) because they travel on the
 * wire; `set()` also accepts the camelCase `sendTask` spellings.
 */
export type SubtaskType = "chain" | "group" | "chord" | "xmap" | "xstarmap" | "chunks";

/** Options Celery will not let a merge override (`Signature._IMMUTABLE_OPTIONS`). */
const IMMUTABLE_OPTIONS = new Set(["group_id", "stamped_headers"]);

/**
 * Deep copy of signature args, kwargs and options, as celery/canvas.py `Signature.clone` deep-copies
 * options: signatures inside are cloned, containers (plain objects, arrays) copied, and every other
 * value kept as the value it is. Bytes (a `Uint8Array`, a decoded `Buffer`) stay bytes (copied, since
 * JS bytes are mutable, Python's are not); a Python stand-in (`PyDecimal`, `PyUUID`, ...) is kept as
 * is. Walking them as records would turn bytes into `{"0": .., "1": ..}` on the wire.
 */
function copyValue(value: unknown): unknown {
  if (value instanceof Signature) return value.clone();
  if (Array.isArray(value)) return value.map(copyValue);
  if (value instanceof Date) return new Date(value.getTime());
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, copyValue(v));
    return out;
  }
  return value;
}

/**
 * Replaces every Signature instance inside a value by its dict (for the wire). Only containers are
 * walked: bytes and Python stand-ins are left for the serializer, which knows their wire form.
 */
export function plain(value: unknown): unknown {
  if (value instanceof Signature) return value.toDict();
  if (Array.isArray(value)) return value.map(plain);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) setOwn(out, k, plain(v));
    return out;
  }
  return value;
}

export interface FreezeOptions {
  id?: string | undefined;
  groupId?: string | undefined;
  chord?: Signature | undefined;
  rootId?: string | undefined;
  parentId?: string | undefined;
  groupIndex?: number | undefined;
  /** Default `reply_to` when the signature has none (Celery's `app.thread_oid`). */
  replyTo?: string | undefined;
}

/**
 * What a signature applies itself through (Celery's `Signature.app`): the `Celery` app that made
 * it (`app.signature(...)`, a task handle) or, for one built with `s()`/`chain()`, the app given in
 * the options or the current app. The client layer (src/client/signature-methods.ts) adds the
 * members it calls and the typed `applyAsync()` / `delay()` / `apply()` methods.
 */
export interface SignatureApp {
  /** This app's reply-to id (Celery's `app.thread_oid`). */
  readonly oid: string;
}

/**
 * A signature of a task whose result is an `R` (type-only: `R` is what a chain's next step
 * receives and what `applyAsync()`'s `AsyncResult<R>` resolves to; unknown for a task by name).
 */
export class Signature<R = unknown> {
  /** Type-only marker of the result type; never set at run time. */
  declare readonly resultType?: R;
  /** The app this signature is bound to (`Signature.app`); not part of the wire shape. */
  app: SignatureApp | undefined;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtaskType: SubtaskType | null;
  immutable: boolean;

  constructor(
    task: string,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: Record<string, unknown> = {},
    subtaskType: SubtaskType | null = null,
    immutable = false,
  ) {
    if (typeof task !== "string" || task === "") {
      throw new ConfigError("task", `a signature needs a task name (got ${saferepr(task, { maxlen: 200 })})`);
    }
    this.task = task;
    this.args = [...args];
    this.kwargs = { ...kwargs };
    this.options = { ...options };
    this.subtaskType = subtaskType;
    this.immutable = immutable;
    this.app = undefined;
  }

  /** `options.task_id` once frozen (Celery's `Signature.id`). */
  get id(): string | undefined {
    const id = this.options.task_id;
    return typeof id === "string" ? id : undefined;
  }

  /**
   * celery/canvas.py `Signature._merge`: partial args are PREPENDED to the
   * stored args and kwargs merged, unless immutable; options merge except
   * `group_id`/`stamped_headers` and the stamps it names, already set.
   */
  merge(
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: Record<string, unknown> | null = null,
  ): { args: unknown[]; kwargs: Record<string, unknown>; options: Record<string, unknown> } {
    let merged = this.options;
    if (options !== null) {
      merged = { ...this.options };
      const stamped = this.options.stamped_headers;
      const stampNames = Array.isArray(stamped) ? stamped : [];
      for (const [k, v] of Object.entries(options)) {
        if (v === undefined) continue;
        if ((IMMUTABLE_OPTIONS.has(k) || stampNames.includes(k)) && k in this.options) continue;
        merged[k] = v;
      }
    }
    if (this.immutable) return { args: this.args, kwargs: this.kwargs, options: merged };
    return {
      args: args.length > 0 ? [...args, ...this.args] : this.args,
      kwargs: Object.keys(kwargs).length > 0 ? { ...this.kwargs, ...kwargs } : this.kwargs,
      options: merged,
    };
  }

  /** celery/canvas.py `Signature.clone` (alias `partial`): a copy with partial args prepended. */
  clone(
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options?: Record<string, unknown>,
  ): this {
    const m = this.merge(args, kwargs, options ?? null);
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    copy.task = this.task;
    copy.args = [...m.args];
    copy.kwargs = copyValue(m.kwargs) as Record<string, unknown>;
    copy.options = copyValue(m.options) as Record<string, unknown>;
    copy.subtaskType = this.subtaskType;
    copy.immutable = this.immutable;
    copy.app = this.app;
    return copy;
  }

  /** `Signature.set`: updates options in place (camelCase names accepted) and returns this. */
  set(options: Record<string, unknown>, immutable?: boolean): this {
    // Only the send options (camelCase or Celery's snake_case): a typo is an error, not a no-op.
    rejectUnknownKeys("signature option", options, SIGNATURE_OPTION_NAMES);
    if (immutable !== undefined) this.immutable = immutable;
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      this.options[snakeOption(k)] = v;
    }
    return this;
  }

  private appendOption(key: "link" | "link_error", sig: Signature | SignatureDict): void {
    const value = sig instanceof Signature ? sig : Signature.fromDict(sig);
    const current = this.options[key];
    const list = Array.isArray(current)
      ? current
      : current === undefined || current === null
        ? []
        : [current];
    if (!list.some((item) => JSON.stringify(plain(item)) === JSON.stringify(value.toDict())))
      list.push(value);
    this.options[key] = list;
  }

  /** `Signature.link`: run `callback` with this task's result prepended (unless immutable). */
  link(callback: Signature | SignatureDict): Signature {
    this.appendOption("link", callback);
    return callback instanceof Signature ? callback : Signature.fromDict(callback);
  }

  /** `Signature.link_error`: run `errback(failed_task_id)` when this task fails. */
  linkError(errback: Signature | SignatureDict): Signature {
    this.appendOption("link_error", errback);
    return errback instanceof Signature ? errback : Signature.fromDict(errback);
  }

  /**
   * celery/canvas.py `Signature.freeze`: keeps an existing `task_id` or sets
   * one, and records root/parent/group ids, chord body and `reply_to` in the
   * options, so the id is known before anything is sent. Returns the id.
   */
  freeze(opts: FreezeOptions = {}): string {
    const o = this.options;
    let id = o.task_id;
    if (typeof id !== "string") {
      id = opts.id ?? randomUUID();
      o.task_id = id;
    }
    if (opts.rootId) o.root_id = opts.rootId;
    if (opts.parentId) o.parent_id = opts.parentId;
    if (!("reply_to" in o) && opts.replyTo !== undefined) o.reply_to = opts.replyTo;
    if (opts.groupId && !("group_id" in o)) o.group_id = opts.groupId;
    if (opts.chord) o.chord = opts.chord;
    if (opts.groupIndex !== undefined) o.group_index = opts.groupIndex;
    return id as string;
  }

  /** Celery's dict shape, ready for JSON (nested signatures become dicts). */
  toDict(): SignatureDict {
    return {
      task: this.task,
      args: plain(this.args) as unknown[],
      kwargs: plain(this.kwargs) as Record<string, unknown>,
      options: plain(this.options) as Record<string, unknown>,
      subtask_type: this.subtaskType,
      immutable: this.immutable,
    };
  }

  toJSON(): SignatureDict {
    return this.toDict();
  }

  /**
   * celery/canvas.py `Signature.stamp(visitor, append_stamps, **headers)` (5.7.0; `_chain`,
   * `group` and `_chord` stamp their members, links and chord body the same way): writes stamps
   * into the options of every task of this workflow, which then travel as the `stamped_headers` /
   * `stamps` message headers, show in the workers' requests (`ctx.stamps`) and can be revoked
   * with `app.control.revokeByStampedHeaders`. In place; returns this.
   *
   * ```ts
   * wf.stamp({ monitoring_id: "m-1" });                       // sig.stamp(monitoring_id="m-1")
   * wf.stamp({ onSignature: (sig) => ({ tag: sig.task }) });  // sig.stamp(visitor=...)
   * ```
   * `appendStamps`: a stamp already present becomes a list of both values instead of being kept.
   */
  stamp(visitor: StampingVisitor | null, headers?: StampHeaders, options?: { appendStamps?: boolean }): this;
  stamp(headers: StampHeaders): this;
  stamp(
    first: StampingVisitor | StampHeaders | null,
    headers: StampHeaders = {},
    options: { appendStamps?: boolean } = {},
  ): this {
    const visitor = isVisitor(first) ? first : null;
    const inherited = first === null || visitor !== null ? headers : first;
    if (!isRecord(inherited))
      throw new ConfigError("stamp", "stamp headers must be an object of stamp values");
    stampNode(this, visitor, options.appendStamps ?? false, { ...inherited }, (value) =>
      Signature.fromDict(value as SignatureDict),
    );
    return this;
  }

  /**
   * celery/canvas.py `Signature.from_dict`: builds the class named by
   * `subtask_type` (`chain`, `group`, `chord`); other compound types
   * (`xmap`, `xstarmap`, `chunks`) stay plain signatures that the canvas
   * refuses to apply.
   */
  static fromDict(d: SignatureDict | Signature): Signature {
    if (d instanceof Signature) return d;
    if (!isRecord(d) || typeof d.task !== "string") {
      // Shown with celery/utils/saferepr.py `saferepr` (5.7), which never throws: a dict from the
      // wire may hold a BigInt or a cycle, which JSON.stringify cannot print.
      throw new ConfigError("signature", `not a Celery signature dict: ${saferepr(d, { maxlen: 512 })}`);
    }
    const args = Array.isArray(d.args) ? d.args : [];
    const kwargs = isRecord(d.kwargs) ? d.kwargs : {};
    const options = isRecord(d.options) ? d.options : {};
    const immutable = d.immutable === true;
    const type = typeof d.subtask_type === "string" ? (d.subtask_type as SubtaskType) : null;
    if (type === "chain") {
      const tasks = Array.isArray(kwargs.tasks) ? kwargs.tasks : [];
      return new Chain(
        tasks.map((t) => Signature.fromDict(t as SignatureDict)),
        options,
        args,
        immutable,
      );
    }
    if (type === "group") {
      const tasks = Array.isArray(kwargs.tasks) ? kwargs.tasks : [];
      return new Group(
        tasks.map((t) => Signature.fromDict(t as SignatureDict)),
        options,
        args,
        immutable,
      );
    }
    if (type === "chord") {
      const rawHeader = kwargs.header;
      const header = Array.isArray(rawHeader)
        ? new Group(rawHeader.map((t) => Signature.fromDict(t as SignatureDict)))
        : Signature.fromDict(rawHeader as SignatureDict);
      const body = Signature.fromDict(kwargs.body as SignatureDict);
      const extra = isRecord(kwargs.kwargs) ? kwargs.kwargs : {};
      const c = new Chord(
        header instanceof Group ? header : new Group([header]),
        body,
        options,
        args,
        immutable,
      );
      c.kwargs.kwargs = { ...extra };
      return c;
    }
    return new Signature(d.task, args, kwargs, options, type, immutable);
  }
}

/** celery/canvas.py `StampingVisitor`: hooks that return the stamps for each part of a workflow. */
export type StampingVisitor = StampingVisitorOf<Signature, Chain, Group, Chord>;

function isVisitor(value: unknown): value is StampingVisitor {
  return isRecord(value) && typeof value.onSignature === "function";
}

/** `chain(a, b, c)` / `a | b | c`: `{"task":"celery.chain","kwargs":{"tasks":[...]},"subtask_type":"chain"}`. */
/** `R` is the last step's result; `Last` its signature type (type-only: a chain ending in a group gives a GroupResult). */
export class Chain<R = unknown, Last = unknown> extends Signature<R> {
  declare subtaskType: "chain";
  /** Type-only marker of the last step's type; never set at run time. */
  declare readonly lastStep?: Last;

  constructor(
    tasks: Signature[],
    options: Record<string, unknown> = {},
    args: unknown[] = [],
    immutable = false,
  ) {
    super("celery.chain", args, { tasks: [...tasks] }, options, "chain", immutable);
  }

  get tasks(): Signature[] {
    return this.kwargs.tasks as Signature[];
  }
}

/** `group(a, b)`: members run in parallel; `{"task":"celery.group","kwargs":{"tasks":[...]}}`. */
/** `R` is one member's result: the group's result is an `R[]` (a `GroupResult<R>` once applied). */
export class Group<R = unknown> extends Signature<R[]> {
  declare subtaskType: "group";

  constructor(
    tasks: Signature[],
    options: Record<string, unknown> = {},
    args: unknown[] = [],
    immutable = false,
  ) {
    super("celery.group", args, { tasks: [...tasks] }, options, "group", immutable);
  }

  get tasks(): Signature[] {
    return this.kwargs.tasks as Signature[];
  }

  /**
   * celery/canvas.py `group.link`: links an immutable copy to the FIRST
   * member only (Celery's documented caveat: use a chord to wait for all).
   */
  override link(callback: Signature | SignatureDict): Signature {
    const sig = Signature.fromDict(callback).clone().set({}, true);
    const first = this.tasks[0];
    if (!first) throw new ConfigError("link", "cannot link a callback to an empty group");
    return first.link(sig);
  }

  /** 5.7 `group.link_error`: every member gets the errback (no longer made immutable, 0.1 item 16). */
  override linkError(errback: Signature | SignatureDict): Signature {
    const sig = Signature.fromDict(errback);
    for (const task of this.tasks) task.linkError(sig.clone());
    return sig;
  }
}

/** `chord(header, body)`: `{"task":"celery.chord","kwargs":{"header":group,"body":sig,"kwargs":{}}}`. */
export class Chord<R = unknown> extends Signature<R> {
  declare subtaskType: "chord";

  constructor(
    header: Group,
    body: Signature,
    options: Record<string, unknown> = {},
    args: unknown[] = [],
    immutable = false,
  ) {
    super("celery.chord", args, { kwargs: {}, header, body }, options, "chord", immutable);
  }

  get header(): Group {
    return this.kwargs.header as Group;
  }

  /**
   * Celery's `_maybe_group` keeps an unfrozen header as a plain list of
   * signatures; once frozen (the header group has a task_id) it is a group dict.
   */
  override toDict(): SignatureDict {
    const d = super.toDict();
    if (Object.keys(this.header.options).length === 0) {
      (d.kwargs as Record<string, unknown>).header = this.header.tasks.map((t) => t.toDict());
    }
    return d;
  }

  get body(): Signature {
    return this.kwargs.body as Signature;
  }

  set body(sig: Signature) {
    this.kwargs.body = sig;
  }

  /** `_chord.link`: callbacks go to the body only. */
  override link(callback: Signature | SignatureDict): Signature {
    return this.body.link(callback);
  }

  /** `_chord.link_error` (default `task_allow_error_cb_on_chord_header=False`): the body only. */
  override linkError(errback: Signature | SignatureDict): Signature {
    return this.body.linkError(errback);
  }
}
