import { ConfigError } from "../errors.js";
import { describeValue, setOwn, stringOrUndefined } from "../protocol/guards.js";
import type { SignatureDict } from "../protocol/task-message.js";
import type { CompressionName, SerializerName } from "../serialization/index.js";
import { SEND_OPTION_NAMES } from "./option-names.js";
import { plain, type Signature } from "./signature.js";

/** A signature wherever one is accepted: a canvas `Signature` (`s()`, `si()`, `signature()`) or its dict. */
export type SignatureLike = Signature | SignatureDict;

/**
 * Every option `sendTask` / `applyAsync` takes: Celery's `apply_async`
 * options in camelCase (celery/app/task.py `Task.apply_async`,
 * celery/app/base.py `Celery.send_task`, 5.7.0). Checked before anything is sent.
 */
export interface SendTaskOptions {
  /** Seconds from now before the worker may run it (sets the `eta` header). */
  countdown?: number;
  eta?: Date;
  /** Seconds from now, or a Date; the worker revokes (`expired`) a task received after it. */
  expires?: number | Date;
  /** 0-9 (0-255 accepted, clamped by the broker); on Redis lower numbers run first. */
  priority?: number;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  /** Custom headers, visible in Python's `request.headers` / as request attributes. */
  headers?: Record<string, unknown>;
  taskId?: string;
  /** Name shown in the worker's logs and events instead of the real one. */
  shadow?: string;
  /** Hard time limit, seconds. */
  timeLimit?: number;
  /** Soft time limit, seconds. */
  softTimeLimit?: number;
  ignoreResult?: boolean;
  serializer?: SerializerName;
  compression?: CompressionName;
  replyTo?: string;
  /** Success callback(s): canvas signatures (`s("ts.double")`) or Celery's dict shape. */
  link?: SignatureLike | SignatureLike[];
  /** Error callback(s), called with the failed task's id: canvas signatures or dicts. */
  linkError?: SignatureLike | SignatureLike[];
  /** Workflow ids (normally set by a worker sending a subtask). */
  parentId?: string;
  rootId?: string;
  groupId?: string;
  groupIndex?: number;
  /** `argsrepr`/`kwargsrepr` overrides (Celery accepts them too). */
  argsrepr?: string;
  kwargsrepr?: string;
}

export { SEND_OPTION_NAMES };

// Every listed name is a key of SendTaskOptions (a compile-time check).
void (SEND_OPTION_NAMES satisfies readonly (keyof SendTaskOptions)[]);

/** What a send can carry beyond the public options (retries, chain steps, chords, Python's ETA text). */
export interface PublishOptions extends SendTaskOptions {
  /** Internal: retries count (Task.retry), chain/chord continuation, ETA as sent by Python. */
  retries?: number;
  chain?: SignatureDict[] | null;
  chord?: SignatureDict | null;
  etaIso?: string;
  expiresIso?: string;
  /** With `expiresIso`: the seconds `expiration` carries (Celery's numeric `expires`). */
  expiresSeconds?: number;
  /** How `argsrepr` shows the args: a Python tuple (send_task's default) or a list (beat sends a list). */
  argsReprStyle?: "tuple" | "list";
  exchangeType?: "direct" | "topic" | "fanout";
  replacedTaskNesting?: number;
  stampedHeaders?: string[] | null;
  stamps?: Record<string, unknown>;
  /** Properties copied as Celery copies leftover options (e.g. `origin` on a retry). */
  extraProperties?: Record<string, unknown>;
  /**
   * The name routes are looked up by instead of the task's (Celery's `send_task(route_name=)`):
   * `celery.map`/`starmap` are routed as the task they map (celery/canvas.py `_basemap.apply_async`).
   */
  routeName?: string;
}

/**
 * A signature's `options` (Celery's `apply_async` keywords, snake_case, as
 * they travel inside embed/callback dicts) -> the producer's
 * {@link PublishOptions}. Keys Celery accepts but that do not change the
 * message (`retry`, `retry_policy`, `add_to_parent`, `producer`, ...) are
 * dropped, as is anything of the wrong type: a dict written by Python may
 * hold values we cannot reproduce (an `Exchange` object, say) and must not
 * break the send.
 */
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function sigList(v: unknown): SignatureDict[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = (Array.isArray(v) ? v : [v]).map(plain);
  return list.length > 0 ? (list as SignatureDict[]) : undefined;
}

export function toPublishOptions(options: Record<string, unknown>): PublishOptions {
  const o: PublishOptions = {};
  const set = <K extends keyof PublishOptions>(key: K, value: PublishOptions[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set("taskId", stringOrUndefined(options.task_id));
  set("countdown", num(options.countdown));
  const eta = options.eta;
  if (eta instanceof Date) o.eta = eta;
  else set("etaIso", stringOrUndefined(eta));
  const expires = options.expires;
  if (expires instanceof Date || typeof expires === "number") o.expires = expires;
  else set("expiresIso", stringOrUndefined(expires));
  set("priority", num(options.priority));
  set("queue", stringOrUndefined(options.queue));
  set("exchange", stringOrUndefined(options.exchange));
  set("routingKey", stringOrUndefined(options.routing_key));
  const headers = options.headers;
  if (headers !== null && typeof headers === "object" && !Array.isArray(headers)) {
    o.headers = headers as Record<string, unknown>;
  }
  set("shadow", stringOrUndefined(options.shadow));
  set("timeLimit", num(options.time_limit));
  set("softTimeLimit", num(options.soft_time_limit));
  if (typeof options.ignore_result === "boolean") o.ignoreResult = options.ignore_result;
  const serializer = stringOrUndefined(options.serializer);
  if (serializer === "json" || serializer === "msgpack" || serializer === "yaml") o.serializer = serializer;
  set("replyTo", stringOrUndefined(options.reply_to));
  set("link", sigList(options.link));
  set("linkError", sigList(options.link_error));
  set("parentId", stringOrUndefined(options.parent_id));
  set("rootId", stringOrUndefined(options.root_id));
  set("groupId", stringOrUndefined(options.group_id));
  set("groupIndex", num(options.group_index));
  set("argsrepr", stringOrUndefined(options.argsrepr));
  set("kwargsrepr", stringOrUndefined(options.kwargsrepr));
  if (Array.isArray(options.chain)) o.chain = options.chain.map(plain) as SignatureDict[];
  if (options.chord !== undefined && options.chord !== null) o.chord = plain(options.chord) as SignatureDict;
  const stamping = stampsOfOptions(options);
  if (stamping !== null) {
    o.stampedHeaders = stamping.stampedHeaders;
    o.stamps = stamping.stamps;
  }
  set("replacedTaskNesting", num(options.replaced_task_nesting));
  set("routeName", stringOrUndefined(options.route_name));
  return o;
}

/**
 * The stamps a signature's options carry, as celery/app/amqp.py `AMQP.as_task_v2` (5.7.0) reads
 * them: `stamped_headers` names option keys, and each named key's value is that stamp
 * (`stamps = {header: options[header] for header in stamped_headers}`); Celery's
 * `Signature.stamp` writes them there (celery/canvas.py `Signature._stamp_headers`). A named
 * header with no value is an error, as Python's KeyError there is. Null when no stamps are named.
 */
export function stampsOfOptions(
  options: Record<string, unknown>,
): { stampedHeaders: string[]; stamps: Record<string, unknown> } | null {
  const named = options.stamped_headers;
  const list = typeof named === "string" ? [named] : named;
  if (!Array.isArray(list)) return null;
  const stampedHeaders: string[] = [];
  const stamps: Record<string, unknown> = {};
  for (const header of list) {
    if (typeof header !== "string") {
      throw new ConfigError("stamped_headers", `stamp names must be strings (got ${describeValue(header)})`);
    }
    if (!Object.hasOwn(options, header)) {
      throw new ConfigError(
        "stamped_headers",
        `the signature names the stamp ${JSON.stringify(header)} but its options hold no value for it`,
      );
    }
    stampedHeaders.push(header);
    setOwn(stamps, header, options[header]);
  }
  return { stampedHeaders, stamps };
}
