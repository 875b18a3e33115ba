import { DEFAULT_BROKER_TRANSPORT_OPTIONS } from "../../config-defaults.js";
/**
 * Every Redis key name, separator and channel name Celery and kombu use, in
 * one place (docs/wire.md, "Redis broker"). Nothing else in the code base spells a key; the
 * defaults of the transport options that shape them are config-defaults.ts's.
 *
 * Broker keys: kombu/transport/redis.py (`Channel._q_for_pri`, `_queue_bind`,
 * `keyprefix_queue`, `keyprefix_fanout`, `QoS`, `GlobalKeyPrefixMixin`).
 * Result keys: celery/backends/base.py `BaseKeyValueStoreBackend` and
 * celery/backends/redis.py `RedisBackend.__init__` (the `_` prefix rule).
 */

/** kombu `Channel.sep`: between routing key, pattern and queue in a binding, and before a priority bucket. */
export const DEFAULT_SEP = DEFAULT_BROKER_TRANSPORT_OPTIONS.sep;
/** kombu `PRIORITY_STEPS`. */
export const DEFAULT_PRIORITY_STEPS: readonly number[] = DEFAULT_BROKER_TRANSPORT_OPTIONS.prioritySteps;
/** kombu `Channel.keyprefix_queue`: `_kombu.binding.%s`. */
export const BINDING_PREFIX = "_kombu.binding.";
/** kombu 5.7 `Channel.keyprefix_queue_permanent`. */
export const BINDING_PERMANENT_PREFIX = "_kombu.binding_permanent.";
/** kombu 5.7 ZSET of expiring binding tables. */
export const BINDING_DEADLINES_KEY = "_kombu.binding_deadlines";

/** celery/backends/base.py `BaseKeyValueStoreBackend.task_keyprefix` etc. */
export const TASK_META_PREFIX = "celery-task-meta-";
export const GROUP_META_PREFIX = "celery-taskset-meta-";
export const CHORD_UNLOCK_PREFIX = "chord-unlock-";

/** The transport options that shape key names. */
export interface KeyOptions {
  globalKeyprefix: string;
  sep: string;
  prioritySteps: readonly number[];
  fanoutPrefix: boolean | string;
  fanoutPatterns: boolean;
  unackedKey: string;
  unackedIndexKey: string;
  unackedMutexKey: string;
}

export const DEFAULT_KEY_OPTIONS: KeyOptions = {
  globalKeyprefix: DEFAULT_BROKER_TRANSPORT_OPTIONS.globalKeyprefix,
  sep: DEFAULT_SEP,
  prioritySteps: DEFAULT_PRIORITY_STEPS,
  fanoutPrefix: DEFAULT_BROKER_TRANSPORT_OPTIONS.fanoutPrefix,
  fanoutPatterns: DEFAULT_BROKER_TRANSPORT_OPTIONS.fanoutPatterns,
  unackedKey: DEFAULT_BROKER_TRANSPORT_OPTIONS.unackedKey,
  unackedIndexKey: DEFAULT_BROKER_TRANSPORT_OPTIONS.unackedIndexKey,
  unackedMutexKey: DEFAULT_BROKER_TRANSPORT_OPTIONS.unackedMutexKey,
};

/**
 * Key names for one broker connection (one db, one set of transport
 * options). `globalKeyprefix` is prepended verbatim to every key and channel,
 * as kombu's `GlobalKeyPrefixMixin` does: no separator is added.
 */
export class RedisKeys {
  readonly options: KeyOptions;
  readonly db: number;

  constructor(db: number, options: Partial<KeyOptions> = {}) {
    this.db = db;
    this.options = { ...DEFAULT_KEY_OPTIONS, ...options };
  }

  /** Applies the global prefix; for keys this class does not name itself. */
  prefixed(key: string): string {
    return this.options.globalKeyprefix + key;
  }

  /**
   * The priority bucket for a message priority: clamp to 0..9 then
   * `steps[bisect(steps, p) - 1]` (kombu `Channel.priority`).
   */
  bucket(priority: number | null | undefined): number {
    const steps = this.options.prioritySteps;
    const p = Math.min(9, Math.max(0, Math.trunc(Number(priority) || 0)));
    let chosen = steps[0] ?? 0;
    for (const step of steps) {
      if (step <= p) chosen = step;
      else break;
    }
    return chosen;
  }

  /** kombu `_q_for_pri`: bucket 0 is the bare queue name, others `queue + sep + bucket`. Prefixed. */
  queueKey(queue: string, priority: number | null | undefined = 0): string {
    const bucket = this.bucket(priority);
    const name = bucket === 0 ? queue : `${queue}${this.options.sep}${bucket}`;
    return this.prefixed(name);
  }

  /** All bucket keys of a queue, highest priority (bucket 0) first, as BRPOP lists them. Prefixed. */
  queueKeys(queue: string): string[] {
    return this.options.prioritySteps.map((step) =>
      this.prefixed(step === 0 ? queue : `${queue}${this.options.sep}${step}`),
    );
  }

  /** `_kombu.binding.<exchange>`, prefixed. */
  bindingKey(exchange: string): string {
    return this.prefixed(BINDING_PREFIX + exchange);
  }

  /** kombu 5.7 `_kombu.binding_permanent.<exchange>`, prefixed. */
  bindingPermanentKey(exchange: string): string {
    return this.prefixed(BINDING_PERMANENT_PREFIX + exchange);
  }

  bindingDeadlinesKey(): string {
    return this.prefixed(BINDING_DEADLINES_KEY);
  }

  /** The member of a binding table: `routing_key + sep + pattern + sep + queue`. */
  bindingMember(routingKey: string, pattern: string, queue: string): string {
    const sep = this.options.sep;
    return `${routingKey}${sep}${pattern}${sep}${queue}`;
  }

  /** Splits a binding member back into its parts; `null` for a malformed member. */
  parseBindingMember(member: string): { routingKey: string; pattern: string; queue: string } | null {
    const parts = member.split(this.options.sep);
    if (parts.length !== 3) return null;
    const [routingKey, pattern, queue] = parts as [string, string, string];
    return { routingKey, pattern, queue };
  }

  /** kombu `keyprefix_fanout`: `/{db}.` by default, `""` when disabled, or the given string. */
  fanoutKeyprefix(): string {
    const opt = this.options.fanoutPrefix;
    if (opt === false) return "";
    if (opt === true) return `/${this.db}.`;
    return opt;
  }

  /** kombu `_get_publish_topic`: the PUBLISH channel of a fanout exchange. Prefixed. */
  fanoutPublishChannel(exchange: string, routingKey: string): string {
    const suffix = routingKey && this.options.fanoutPatterns ? `/${routingKey}` : "";
    return this.prefixed(`${this.fanoutKeyprefix()}${exchange}${suffix}`);
  }

  /** kombu `_get_subscribe_topic`: the PSUBSCRIBE pattern of a fanout binding (`#` becomes `*`). Prefixed. */
  fanoutSubscribePattern(exchange: string, bindingKey: string): string {
    const suffix = bindingKey && this.options.fanoutPatterns ? `/${bindingKey.replaceAll("#", "*")}` : "";
    return this.prefixed(`${this.fanoutKeyprefix()}${exchange}${suffix}`);
  }

  unackedKey(): string {
    return this.prefixed(this.options.unackedKey);
  }

  unackedIndexKey(): string {
    return this.prefixed(this.options.unackedIndexKey);
  }

  unackedMutexKey(): string {
    return this.prefixed(this.options.unackedMutexKey);
  }
}

/**
 * Result-backend key prefix rule (celery/backends/redis.py `RedisBackend.__init__`):
 * `result_backend_transport_options['global_keyprefix']` gets `_` appended
 * unless it already ends in one of `:_-.`.
 */
export function resultKeyprefix(globalKeyprefix: string): string {
  if (globalKeyprefix === "") return "";
  return /[:_\-.]$/.test(globalKeyprefix) ? globalKeyprefix : `${globalKeyprefix}_`;
}

/** Key names of the Redis result backend; the key doubles as the PUBLISH channel. */
export class ResultKeys {
  readonly prefix: string;

  constructor(globalKeyprefix = "") {
    this.prefix = resultKeyprefix(globalKeyprefix);
  }

  taskMeta(taskId: string): string {
    return `${this.prefix}${TASK_META_PREFIX}${taskId}`;
  }

  groupMeta(groupId: string): string {
    return `${this.prefix}${GROUP_META_PREFIX}${groupId}`;
  }

  /** Chord join keys (`.j` list, `.t` total, `.s` size; 5.7 adds `.d` dedup set and `.c` claim key). */
  chordKey(groupId: string, suffix: "j" | "t" | "s" | "d" | "c"): string {
    return `${this.groupMeta(groupId)}.${suffix}`;
  }

  chordUnlock(groupId: string): string {
    return `${this.prefix}${CHORD_UNLOCK_PREFIX}${groupId}`;
  }

  /** The task id a `celery-task-meta-<id>` key or channel names, or null for another key. */
  taskIdOf(key: string): string | null {
    const head = this.prefix + TASK_META_PREFIX;
    return key.startsWith(head) ? key.slice(head.length) : null;
  }
}
