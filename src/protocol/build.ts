/**
 * Builds a Celery task message exactly as Python would publish it.
 *
 * mirrors celery/app/amqp.py `AMQP.as_task_v2` (headers, body, properties),
 * plus the parts of `Celery.send_task` (celery/app/base.py: `expires` ->
 * `expiration`, clamped at 0; the `ignore_result` default) and
 * `AMQP._create_task_sender.send_task_message` (`headers2.update(headers)`,
 * leftover options -> properties) and kombu `Producer.publish` (`delivery_mode`,
 * `expiration = str(int(s * 1000))`, `priority=0`) that shape the message.
 *
 * Routing, the `reply_to` default (`app.thread_oid`), the `origin` default
 * (`anon_nodename()`) and parent/root inheritance belong to the caller; this
 * module is pure and takes them as inputs.
 */
import type { CompatProfile } from "../compat.js";
import { ProtocolError } from "../errors.js";
import {
  checkArgs,
  checkSignature,
  checkSignatureList,
  type IsoDatetimeText,
  optionalNumber,
  optionalString,
  resolveTimes,
  type Times,
} from "./build-input.js";
import { assignOwn, isPlainObject, setOwn } from "./guards.js";
import { PyTuple, saferepr } from "./saferepr.js";
import type {
  Embed,
  SignatureDict,
  TaskBodyV1,
  TaskHeaders,
  TaskMessage,
  TaskMessageV1,
  TaskProperties,
} from "./task-message.js";
import { uuid4 } from "./uuid4.js";

/** The times of a send with no countdown, eta or expires. */
const NO_TIMES: Times = Object.freeze({ eta: null, expires: null, expiration: undefined });
/** No custom headers (shared: only read). */
const NO_HEADERS: Record<string, unknown> = Object.freeze({});

/** AMQP.argsrepr_maxsize / kwargsrepr_maxsize. */
export const REPR_MAXSIZE = 1024;
/** Default of the 5.7 `task_repr_maxlevels` setting (and saferepr's default before). */
export const REPR_MAXLEVELS = 3;

/** Everything `apply_async`/`send_task` would pass to `as_task_v2`, already resolved by the caller. */
export interface BuildTaskInput {
  /** Task id; a new uuid4 when absent (`task_id or uuid()`). */
  id?: string;
  args?: readonly unknown[] | null;
  kwargs?: Record<string, unknown> | null;
  /** Seconds from `now`; wins over `eta` (as in as_task_v2). 0 means none (`if countdown:`). */
  countdown?: number | null;
  /** A Date (written as UTC), or an ISO-8601 string / IsoDatetimeText sent unchanged (validated first). */
  eta?: Date | string | IsoDatetimeText | null;
  /** Seconds from `now`, a Date, or an ISO string / IsoDatetimeText sent unchanged. Also sets `properties.expiration`. */
  expires?: number | Date | string | IsoDatetimeText | null;
  /** Message priority; absent -> 0 (kombu's default), null -> null (Celery's explicit None, see TaskProperties). */
  priority?: number | null;
  shadow?: string | null;
  /** Hard time limit in seconds (`timelimit[0]`). */
  timeLimit?: number | null;
  /** Soft time limit in seconds (`timelimit[1]`). */
  softTimeLimit?: number | null;
  groupId?: string | null;
  groupIndex?: number | null;
  /** Defaults to the task id when empty (`if not root_id: root_id = task_id`). */
  rootId?: string | null;
  parentId?: string | null;
  retries?: number;
  /** Override the computed `saferepr` texts (as `apply_async(argsrepr=...)` can). */
  argsrepr?: string;
  kwargsrepr?: string;
  /** `gen<pid>@<hostname>` of the sender (`anon_nodename()`); the caller supplies it. */
  origin: string;
  /**
   * The task's or caller's setting. When absent: `null` on 5.7 (`send_task()`
   * default), `false` before. `apply_async` of a known task passes its boolean.
   */
  ignoreResult?: boolean | null;
  /** 5.3+ header. */
  replacedTaskNesting?: number;
  /** 5.3+ canvas stamping: names of the stamps, each a key of `stamps`. */
  stampedHeaders?: readonly string[] | null;
  stamps?: Record<string, unknown>;
  /** Custom headers, merged last over Celery's (`headers2.update(headers)`). */
  headers?: Record<string, unknown>;
  callbacks?: SignatureDict[] | null;
  errbacks?: SignatureDict[] | null;
  chain?: SignatureDict[] | null;
  chord?: SignatureDict | null;
  /** RPC reply queue (`reply_to or app.thread_oid`); `""` when absent, as as_task_v2 writes. */
  replyTo?: string | null;
  /** Default 2 (persistent), `task_default_delivery_mode`. */
  deliveryMode?: number;
  /** Leftover options Celery copies into properties (`properties.update(kwargs)`), after reply_to. */
  extraProperties?: Record<string, unknown>;
  /**
   * The TTL `send_task` puts in `expiration` when `expires` came as seconds and the caller wrote
   * the header text itself (beat: `expires` in the app's zone): Celery passes those seconds on
   * unchanged instead of measuring the header against a later `now`.
   */
  expiresSeconds?: number;
  /** Python saw a tuple (apply_async) or a list (send_task with a list): only changes `argsrepr`. Default "tuple". */
  argsReprStyle?: "tuple" | "list";
  /** `task_repr_maxlevels` (5.7). */
  reprMaxLevels?: number;
  /** Clock for countdown/expires; injectable for tests. */
  now?: Date;
}

/** 5.7 saferepr keeps brackets balanced; 5.2–5.6 cut with `, ...`. */
export function usesBalancedRepr(compat: CompatProfile): boolean {
  return compat.balancedRepr;
}

const SIGNATURE_KEYS = ["task", "args", "kwargs", "options", "subtask_type", "immutable"];

/**
 * A signature dict as Python reprs it: Celery builds every `Signature` with
 * `args=tuple(args)` (celery/canvas.py `Signature.__init__`, 5.7.0), so inside
 * argsrepr/kwargsrepr (an `xmap`'s `task`, a callback passed as an argument)
 * its args show as a tuple. Other values are returned as they are.
 */
function pySignatureView(value: unknown, depth = 0): unknown {
  if (depth > 8 || !isPlainObject(value)) return value;
  const sig = value as Record<string, unknown>;
  const keys = Object.keys(sig);
  if (keys.length !== SIGNATURE_KEYS.length || !SIGNATURE_KEYS.every((k) => k in sig)) return value;
  if (!Array.isArray(sig.args) || !isPlainObject(sig.kwargs)) return value;
  const kwargs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sig.kwargs as Record<string, unknown>))
    setOwn(kwargs, k, pySignatureView(v, depth + 1));
  return { ...sig, args: new PyTuple(sig.args.map((a) => pySignatureView(a, depth + 1))), kwargs };
}

function reprs(
  input: BuildTaskInput,
  args: unknown[],
  kwargs: Record<string, unknown>,
  compat: CompatProfile,
) {
  const options = {
    maxlen: REPR_MAXSIZE,
    maxlevels: input.reprMaxLevels ?? REPR_MAXLEVELS,
    balanced: usesBalancedRepr(compat),
  };
  // `args or ()`: empty args are always the tuple `()`.
  // Copies only when a signature is there to show (most calls carry none).
  const isSignature = (v: unknown) => pySignatureView(v) !== v;
  const argsView = args.some(isSignature) ? args.map((a) => pySignatureView(a)) : args;
  const argsValue = input.argsReprStyle === "list" && args.length > 0 ? argsView : new PyTuple(argsView);
  let kwargsView = kwargs;
  if (Object.values(kwargs).some(isSignature)) {
    kwargsView = {};
    for (const [k, v] of Object.entries(kwargs)) setOwn(kwargsView, k, pySignatureView(v));
  }
  return {
    argsrepr: input.argsrepr ?? saferepr(argsValue, options),
    kwargsrepr: input.kwargsrepr ?? saferepr(kwargsView, options),
  };
}

function buildProperties(input: BuildTaskInput, id: string, expiration: string | undefined): TaskProperties {
  const priority = optionalNumber(input.priority, "priority", { integer: true, min: 0 });
  if (priority !== null && priority > 255)
    throw new ProtocolError(`priority must be <= 255, got ${priority}`);
  const deliveryMode = optionalNumber(input.deliveryMode, "deliveryMode", { integer: true, min: 1 }) ?? 2;
  const extra = input.extraProperties;
  if (extra !== undefined && !isPlainObject(extra))
    throw new ProtocolError("extraProperties must be a plain object");
  // Key order of kombu: correlation_id, reply_to, leftovers, delivery_mode, expiration, priority.
  const replyTo = optionalString(input.replyTo, "replyTo") ?? "";
  const properties: Record<string, unknown> =
    extra === undefined
      ? { correlation_id: id, reply_to: replyTo }
      : { correlation_id: id, reply_to: replyTo, ...extra };
  properties.delivery_mode = deliveryMode;
  if (expiration !== undefined) properties.expiration = expiration;
  properties.priority = input.priority === null ? null : (priority ?? 0);
  return properties as TaskProperties;
}

/** Builds one protocol v2 task message. Throws ProtocolError naming the bad field before anything is sent. */
export function buildTaskMessage(name: string, input: BuildTaskInput, compat: CompatProfile): TaskMessage {
  if (typeof name !== "string" || name === "")
    throw new ProtocolError("task name must be a non-empty string");
  const id = input.id ?? uuid4();
  if (typeof id !== "string" || id === "") throw new ProtocolError("id must be a non-empty string");
  if (typeof input.origin !== "string")
    throw new ProtocolError("origin must be a string (gen<pid>@<hostname>)");
  const { args, kwargs } = checkArgs(input);
  // Most sends carry no countdown, eta or expires: no clock read, no Date.
  const times =
    input.countdown === undefined &&
    (input.eta === undefined || input.eta === null) &&
    (input.expires === undefined || input.expires === null)
      ? NO_TIMES
      : resolveTimes(input, input.now ?? new Date());
  const { argsrepr, kwargsrepr } = reprs(input, args, kwargs, compat);
  const custom = input.headers ?? NO_HEADERS;
  if (!isPlainObject(custom)) throw new ProtocolError("headers must be a plain object");

  const headers: TaskHeaders = {
    lang: "py",
    task: name,
    id,
    shadow: optionalString(input.shadow, "shadow"),
    eta: times.eta,
    expires: times.expires,
    group: optionalString(input.groupId, "groupId"),
    group_index: optionalNumber(input.groupIndex, "groupIndex", { integer: true, min: 0 }),
    retries: optionalNumber(input.retries, "retries", { integer: true, min: 0 }) ?? 0,
    timelimit: [
      optionalNumber(input.timeLimit, "timeLimit", { min: 0 }),
      optionalNumber(input.softTimeLimit, "softTimeLimit", { min: 0 }),
    ],
    root_id: optionalString(input.rootId, "rootId") || id,
    parent_id: optionalString(input.parentId, "parentId"),
    argsrepr,
    kwargsrepr,
    origin: input.origin,
    ignore_result:
      input.ignoreResult === undefined ? (compat.ignoreResultNullDefault ? null : false) : input.ignoreResult,
  };
  if (compat.replacedTaskNesting) {
    headers.replaced_task_nesting =
      optionalNumber(input.replacedTaskNesting, "replacedTaskNesting", { integer: true, min: 0 }) ?? 0;
  }
  if (compat.stampHeaders) {
    const names = input.stampedHeaders ?? null;
    if (names !== null && (!Array.isArray(names) || names.some((n) => typeof n !== "string"))) {
      throw new ProtocolError("stampedHeaders must be an array of strings or null");
    }
    const stamps: Record<string, unknown> = {};
    for (const stampName of names ?? []) {
      if (!input.stamps || !Object.hasOwn(input.stamps, stampName)) {
        throw new ProtocolError(`stamps has no value for stamped header ${JSON.stringify(stampName)}`);
      }
      setOwn(stamps, stampName, input.stamps[stampName]);
    }
    headers.stamped_headers = names === null ? null : [...names];
    headers.stamps = stamps;
  }
  assignOwn(headers, custom);

  const embed: Embed = {
    callbacks: checkSignatureList(input.callbacks, "callbacks"),
    errbacks: checkSignatureList(input.errbacks, "errbacks"),
    chain: checkSignatureList(input.chain, "chain"),
    chord: checkSignature(input.chord, "chord"),
  };
  return { headers, properties: buildProperties(input, id, times.expiration), body: [args, kwargs, embed] };
}

/**
 * A protocol v1 message (mirrors celery/app/amqp.py `AMQP.as_task_v1`), for
 * old peers and for testing the parser. Python only sends these with
 * `task_protocol = 1`.
 */
export function buildTaskMessageV1(name: string, input: BuildTaskInput): TaskMessageV1 {
  if (typeof name !== "string" || name === "")
    throw new ProtocolError("task name must be a non-empty string");
  const id = input.id ?? uuid4();
  const { args, kwargs } = checkArgs(input);
  const times = resolveTimes(input, input.now ?? new Date());
  const group = optionalString(input.groupId, "groupId");
  const body: TaskBodyV1 = {
    task: name,
    id,
    args,
    kwargs,
    group,
    group_index: optionalNumber(input.groupIndex, "groupIndex", { integer: true, min: 0 }),
    retries: optionalNumber(input.retries, "retries", { integer: true, min: 0 }) ?? 0,
    eta: times.eta,
    expires: times.expires,
    utc: true,
    callbacks: checkSignatureList(input.callbacks, "callbacks"),
    errbacks: checkSignatureList(input.errbacks, "errbacks"),
    timelimit: [
      optionalNumber(input.timeLimit, "timeLimit", { min: 0 }),
      optionalNumber(input.softTimeLimit, "softTimeLimit", { min: 0 }),
    ],
    taskset: group,
    chord: checkSignature(input.chord, "chord"),
  };
  return { headers: {}, properties: buildProperties(input, id, times.expiration), body };
}

/** The `task-sent` event fields as_task_v2 prepares (`sent_event`), in Celery's order. */
export function taskSentEventFields(message: TaskMessage): Record<string, unknown> {
  const h = message.headers;
  return {
    uuid: h.id,
    root_id: h.root_id,
    parent_id: h.parent_id,
    name: h.task,
    args: h.argsrepr,
    kwargs: h.kwargsrepr,
    retries: h.retries,
    eta: h.eta,
    expires: h.expires,
  };
}
