import { ConfigError } from "./errors.js";

/**
 * The `compat` setting: which Celery minor the peers run. Each minor differs
 * on the wire in a few places (each flag below names them; docs/wire.md);
 * this profile turns those differences into plain flags that the pure
 * protocol and serialization code reads. Default: the latest release, 5.7.
 */
export const CELERY_MINORS = ["5.2", "5.3", "5.4", "5.5", "5.6", "5.7"] as const;
export type CeleryMinor = (typeof CELERY_MINORS)[number];

export interface CompatProfile {
  readonly minor: CeleryMinor;
  /** kombu >= 5.3 wraps datetime/Decimal/UUID/bytes in `{"__type__", "__value__"}` (kombu/utils/json.py). */
  readonly jsonTypeMarkers: boolean;
  /** 5.3+ headers `stamped_headers` and `stamps` (celery/app/amqp.py as_task_v2). */
  readonly stampHeaders: boolean;
  /** 5.3.5+ header `replaced_task_nesting`. */
  readonly replacedTaskNesting: boolean;
  /** 5.4+ writes `date_done` aware (`+00:00`); 5.2/5.3 write naive `utcnow().isoformat()`. */
  readonly dateDoneAware: boolean;
  /** 5.3.4+ sets `group_index` on plain group members; 5.2 leaves it null. */
  readonly groupIndex: boolean;
  /** 5.7 `send_task()` writes `ignore_result: null` when the caller gave none; earlier minors write `false`. */
  readonly ignoreResultNullDefault: boolean;
  /** 5.7 event `utcoffset` is a float (true division); earlier minors send an int. */
  readonly floatUtcoffset: boolean;
  /** 5.7 mingle `hello` carries revoked ids as a list; earlier minors as an `{id: timestamp}` map. */
  readonly helloRevokedAsList: boolean;
  /** 5.7 Redis chord join uses the `.d` dedup set and the `.c` claim key (celery/backends/redis.py). */
  readonly chordClaimKeys: boolean;
  /** 5.7 kombu pairs `_kombu.binding.<ex>` with `_kombu.binding_permanent.<ex>` for durable queues. */
  readonly permanentBindings: boolean;
  /** 5.7 RPC replies carry the full result meta (`date_done`, extended fields). */
  readonly rpcFullMeta: boolean;
  /** 5.7 `saferepr` truncation keeps brackets balanced (`...',)`); earlier minors end with `', ...`. */
  readonly balancedRepr: boolean;
  /**
   * 5.7 declares the pidbox and `celeryev` queues exclusive (celery/app/control.py `Control.__init__`
   * `queue_exclusive=control_queue_exclusive`, celery/events/receiver.py `EventReceiver`, 5.7.0).
   */
  readonly exclusiveOpsQueues: boolean;
}

const ORDER: Record<CeleryMinor, number> = { "5.2": 2, "5.3": 3, "5.4": 4, "5.5": 5, "5.6": 6, "5.7": 7 };

/** Builds the profile for one Celery minor; throws a ConfigError naming the accepted values otherwise. */
export function compatProfile(minor: string = "5.7"): CompatProfile {
  if (!(CELERY_MINORS as readonly string[]).includes(minor)) {
    throw new ConfigError(
      "compat",
      `compat must be one of ${CELERY_MINORS.map((m) => JSON.stringify(m)).join(", ")} (got ${JSON.stringify(minor)})`,
    );
  }
  const m = minor as CeleryMinor;
  const at = (min: CeleryMinor) => ORDER[m] >= ORDER[min];
  return {
    minor: m,
    jsonTypeMarkers: at("5.3"),
    stampHeaders: at("5.3"),
    replacedTaskNesting: at("5.3"),
    dateDoneAware: at("5.4"),
    groupIndex: at("5.3"),
    ignoreResultNullDefault: at("5.7"),
    floatUtcoffset: at("5.7"),
    helloRevokedAsList: at("5.7"),
    chordClaimKeys: at("5.7"),
    permanentBindings: at("5.7"),
    rpcFullMeta: at("5.7"),
    balancedRepr: at("5.7"),
    exclusiveOpsQueues: at("5.7"),
  };
}

export const LATEST_COMPAT: CompatProfile = compatProfile("5.7");
