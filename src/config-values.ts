/**
 * The value shapes of Celeriac's settings (src/config.ts `CeleryOptions`): the accepted serializer
 * and compression names, and the nested option objects (TLS, broker and backend transport options,
 * the publish retry policy, routes, queues, database tables, beat entries), named as Celery names
 * them (celery/app/defaults.py, 5.7.0) in camelCase.
 */

/** Celery's `ssl_cert_reqs` values (`ssl.CERT_*` names and the lower-case forms the URL takes). */
export type CertReqs = "required" | "optional" | "none";

/** TLS settings as Celery's `broker_use_ssl` / `redis_backend_use_ssl` dicts, plus in-memory PEM. */
export interface TlsSettings {
  sslCertReqs?: CertReqs;
  /** Paths, as Celery takes them. */
  sslCaCerts?: string;
  sslCertfile?: string;
  sslKeyfile?: string;
  /** PEM contents instead of paths. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** SNI / certificate host name override. */
  servername?: string;
}

/** kombu Redis transport options (kombu/transport/redis.py `Channel.from_transport_options`, 5.7.0). */
export interface BrokerTransportOptions {
  globalKeyprefix?: string;
  /** Seconds an unacked message stays with its consumer before it is redelivered (default 3600). */
  visibilityTimeout?: number;
  prioritySteps?: number[];
  sep?: string;
  fanoutPrefix?: boolean | string;
  fanoutPatterns?: boolean;
  bodyEncoding?: "base64" | "utf-8";
  unackedKey?: string;
  unackedIndexKey?: string;
  unackedMutexKey?: string;
  /** Seconds the restore mutex is held at most (default 300). */
  unackedMutexExpire?: number;
  /** Messages restored per sweep (a count), null = all. */
  unackedRestoreLimit?: number | null;
  /** Seconds between visibility sweeps (default 10). */
  unackedRestoreInterval?: number;
  /** A count: the full sweep runs every `unackedRestoreThrottle` intervals (default 10). */
  unackedRestoreThrottle?: number;
  queueOrderStrategy?: "round_robin" | "priority" | "sorted";
  /** Seconds one BRPOP blocks (default 1). */
  brpopTimeout?: number;
  /**
   * Celeriac only, not a kombu option: after each publish, Redis `WAIT`s (up to 1 s) until this
   * many replicas hold it, else the publish is retried (at-least-once: it may then be there
   * twice). With Sentinel, a failover then cannot lose a publish Redis acknowledged (replication
   * is asynchronous). Default 0: kombu's behaviour.
   */
  waitForReplicas?: number;
  /** With a `sentinel://` broker: the monitored master's name (kombu `master_name`; required there). */
  masterName?: string | null;
  /** With a `sentinel://` broker: how to log in to the Sentinels themselves (kombu `sentinel_kwargs`). */
  sentinelKwargs?: SentinelKwargs | null;
}

/**
 * Credentials for the Sentinel processes (redis-py `Sentinel(sentinel_kwargs=...)`). The URL's
 * password is the master's; Sentinels are reached without one unless given here.
 */
export interface SentinelKwargs {
  username?: string;
  password?: string;
}

/** Celery keeps the backend's options apart from the broker's (`result_backend_transport_options`). */
export interface ResultBackendTransportOptions {
  globalKeyprefix?: string;
  /** With a `sentinel://` backend: the master's name (Celery `SentinelBackend` `master_name`). */
  masterName?: string | null;
  /** With a `sentinel://` backend: Sentinel credentials (Celery `sentinel_kwargs`). */
  sentinelKwargs?: SentinelKwargs | null;
}

/** Celery's `task_publish_retry_policy` (kombu `Connection.ensure` arguments). */
export interface RetryPolicy {
  /** A count. */
  maxRetries?: number;
  /** Seconds before the first retry. */
  intervalStart?: number;
  /** Seconds added to the delay after each retry. */
  intervalStep?: number;
  /** Seconds: the longest delay. */
  intervalMax?: number;
}

/** A route as Celery's `task_routes` values: a queue name or an options object. */
export type RouteTarget =
  | string
  | {
      queue?: string;
      exchange?: string;
      exchangeType?: "direct" | "topic" | "fanout";
      routingKey?: string;
      /** Celery's spelling, accepted too. */
      routing_key?: string;
      priority?: number;
    };

/**
 * Celery's `task_routes`: a map of exact names and glob patterns (`fnmatch`),
 * a list of such maps or `[pattern, route]` pairs (RegExp allowed), or router
 * functions `(name, args, kwargs, options) => RouteTarget | undefined`.
 */
export type RouterFunction = (
  name: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
) => RouteTarget | null | undefined;
export type TaskRoutes =
  | Record<string, RouteTarget>
  | Array<Record<string, RouteTarget> | [string | RegExp, RouteTarget] | RouterFunction>;

/** A queue declared in `task_queues` (kombu `Queue`). */
export interface QueueSetting {
  name: string;
  exchange?: string;
  exchangeType?: "direct" | "topic" | "fanout";
  routingKey?: string;
  durable?: boolean;
  autoDelete?: boolean;
  exclusive?: boolean;
  queueArguments?: Record<string, unknown>;
}

/** `database_table_names` / `database_table_schemas`: one entry per SQLAlchemy model. */
export interface DatabaseTableSettings {
  task?: string;
  group?: string;
}

/**
 * One `beatSchedule` entry, Celery's `beat_schedule` shape. Checked in full
 * when beat starts (src/beat/entry.ts `BeatScheduleEntry` has the precise
 * types: `schedule` is seconds or a `crontab()`/`interval()`/`solar()`
 * object, `options` are `sendTask` options).
 */
export interface BeatScheduleSetting {
  task: string;
  schedule: number | object;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: object;
  relative?: boolean;
}

/** A settings object after defaults: every key present, none undefined, read-only. */
export type Resolved<T> = { readonly [K in keyof T]-?: Exclude<T[K], undefined> };
