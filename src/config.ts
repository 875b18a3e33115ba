import type { CeleryMinor, CompatProfile } from "./compat.js";
import type {
  BeatScheduleSetting,
  BrokerTransportOptions,
  DatabaseTableSettings,
  QueueSetting,
  Resolved,
  ResultBackendTransportOptions,
  RetryPolicy,
  TaskRoutes,
  TlsSettings,
} from "./config-values.js";
import type { Logger } from "./logging.js";
import type { CompressionName, SerializerName } from "./serialization/index.js";

/**
 * Every Celeriac setting, named as Celery names it (celery/app/defaults.py, 5.7.0) in camelCase,
 * with Celery's defaults (config-defaults.ts). `resolveSettings` (config-checks.ts) validates the
 * user's object once, up front, so a typo or a bad value is a {@link ConfigError} naming the option
 * and the values it accepts, before any connection opens. The nested option objects are in
 * config-values.ts.
 */

/**
 * What `new Celery({...})` takes. Everything is optional except what you use.
 *
 * Time unit rule (the same everywhere in Celeriac): a duration is in **seconds**, as in Celery
 * (`countdown`, `expires`, `timeLimit`, `resultExpires`, `visibilityTimeout`, ...), and may be a
 * fraction; an option in milliseconds says so in its name (`timeoutMs`, `pollIntervalMs`). A
 * point in time is a `Date`.
 */
export interface CeleryOptions {
  /**
   * Where this app's workers and beat log (a pino logger, or anything with pino's
   * `info(fields, message)` shape); default Celery-like text lines on stderr (`createLogger()`).
   * `app.worker({ logger })` overrides it for one worker.
   */
  logger?: Logger;
  /**
   * Broker URL. On RabbitMQ a failover list, as kombu takes it: `amqp://a;amqp://b` or
   * `["amqp://a", "amqp://b"]` (tried in `brokerFailoverStrategy` order); kept as the
   * `;`-joined string in the resolved settings.
   */
  broker?: string | string[];
  backend?: string;
  /** Which Celery minor the peers run; default "5.7". */
  compat?: CeleryMinor;
  // broker connection
  brokerTransportOptions?: BrokerTransportOptions;
  brokerUseSsl?: boolean | TlsSettings;
  brokerConnectionRetry?: boolean;
  brokerConnectionRetryOnStartup?: boolean;
  brokerConnectionMaxRetries?: number;
  /** Seconds (Celery's float seconds). */
  brokerConnectionTimeout?: number;
  /**
   * Order in which a RabbitMQ failover list is tried after a connection error (Celery
   * `broker_failover_strategy`, kombu `failover_strategy`): "round-robin" (default) or "shuffle".
   */
  brokerFailoverStrategy?: "round-robin" | "shuffle";
  /** Seconds between AMQP heartbeats (`broker_heartbeat`, default 120); 0 turns them off. */
  brokerHeartbeat?: number;
  brokerPoolLimit?: number;
  taskPublishRetry?: boolean;
  taskPublishRetryPolicy?: RetryPolicy;
  // task defaults and routing
  taskDefaultQueue?: string;
  taskDefaultExchange?: string;
  taskDefaultExchangeType?: "direct" | "topic" | "fanout";
  taskDefaultRoutingKey?: string;
  taskDefaultPriority?: number | null;
  taskDefaultDeliveryMode?: "persistent" | "transient" | 1 | 2;
  taskQueues?: QueueSetting[];
  taskRoutes?: TaskRoutes;
  taskCreateMissingQueues?: boolean;
  taskSerializer?: SerializerName;
  taskCompression?: CompressionName | null;
  acceptContent?: SerializerName[];
  taskIgnoreResult?: boolean;
  /** Seconds (`task_time_limit`); null = none. */
  taskTimeLimit?: number | null;
  /** Seconds (`task_soft_time_limit`); null = none. */
  taskSoftTimeLimit?: number | null;
  taskAcksLate?: boolean;
  taskAcksOnFailureOrTimeout?: boolean;
  taskRejectOnWorkerLost?: boolean;
  taskTrackStarted?: boolean;
  /**
   * `task_always_eager`: `handle.delay()` / `applyAsync()` and a workflow's `applyAsync()` run TS
   * tasks registered in this app in-process (`handle.apply()`, an `EagerResult`) instead of
   * sending them; for tests. `sendTask` by name still sends, as Celery's `send_task` does.
   */
  taskAlwaysEager?: boolean;
  /** `task_eager_propagates`: an eagerly run task's error is thrown by `apply()` instead of stored in its `EagerResult`. */
  taskEagerPropagates?: boolean;
  taskStoreErrorsEvenIfIgnored?: boolean;
  taskSendSentEvent?: boolean;
  taskInheritParentPriority?: boolean;
  /** `"10/s"`, `"100/m"`, `"1000/h"`, or a number (tasks per second), as Celery's rate limits. */
  taskDefaultRateLimit?: string | number | null;
  /** AMQP: `x-max-priority` on every queue without one (celery/app/amqp.py `Queues._set_max_priority`, 5.7.0). */
  taskQueueMaxPriority?: number | null;
  /** AMQP: `quorum` adds `x-queue-type: quorum` to the default queue (Celery 5.5+). */
  taskDefaultQueueType?: "classic" | "quorum";
  /**
   * AMQP: queue type of native delayed delivery's 28 `celery_delayed_N` queues
   * (`broker_native_delayed_delivery_queue_type`, Celery 5.5+, default "quorum").
   */
  brokerNativeDelayedDeliveryQueueType?: "classic" | "quorum";
  /** AMQP: a worker whose app has a quorum queue uses per-consumer QoS (`worker_detect_quorum_queues`, default true). */
  workerDetectQuorumQueues?: boolean;
  // results
  resultSerializer?: SerializerName;
  resultAcceptContent?: SerializerName[] | null;
  resultCompression?: CompressionName | null;
  /** Seconds; `null`/0 stores without expiry. */
  resultExpires?: number | null;
  /** Seconds a FAILURE result is kept, when it should differ from `resultExpires`. */
  resultFailureExpires?: number | null;
  /** Seconds a chord's join counter is kept. */
  resultChordExpires?: number | null;
  resultExtended?: boolean;
  /**
   * `result_backend_always_retry`: retry a database backend operation that failed because the
   * server was unreachable. null = the backend's own default (SQLAlchemy: yes; django-db: no).
   */
  resultBackendAlwaysRetry?: boolean | null;
  /** `result_backend_max_retries`; null = the backend's default (SQLAlchemy: 3; django-db: unlimited). */
  resultBackendMaxRetries?: number | null;
  /** `result_backend_base_sleep_between_retries_ms` (default 10): full-jitter exponential backoff. */
  resultBackendBaseSleepBetweenRetriesMs?: number;
  /** `result_backend_max_sleep_between_retries_ms` (default 10000). */
  resultBackendMaxSleepBetweenRetriesMs?: number;
  /** Seconds between `celery.chord_unlock` polls (`result_chord_retry_interval`, default 1). */
  resultChordRetryInterval?: number;
  /**
   * The PostgreSQL database of a database result backend: Celery's `database_url` for
   * `db+postgresql://` (wins over the URL in `backend`), and Django's `DATABASES['default']` as a
   * URL for `backend: "django-db"` (required there).
   */
  databaseUrl?: string | null;
  /** `database_table_names` (SQLAlchemy backend): `{ task, group }` table names. */
  databaseTableNames?: DatabaseTableSettings | null;
  /** `database_table_schemas` (SQLAlchemy backend): `{ task, group }` schemas. */
  databaseTableSchemas?: DatabaseTableSettings | null;
  resultBackendTransportOptions?: ResultBackendTransportOptions;
  redisBackendUseSsl?: boolean | TlsSettings;
  /** Seconds. */
  redisSocketConnectTimeout?: number | null;
  // worker
  workerConcurrency?: number | null;
  workerPrefetchMultiplier?: number;
  workerSendTaskEvents?: boolean;
  workerDisableRateLimits?: boolean;
  workerEnableRemoteControl?: boolean;
  workerMaxTasksPerChild?: number | null;
  /** KiB of peak RSS after which a pool child process is replaced (`worker_max_memory_per_child`). */
  workerMaxMemoryPerChild?: number | null;
  workerLostWaitSeconds?: number;
  workerCancelLongRunningTasksOnConnectionLoss?: boolean;
  // events
  eventSerializer?: SerializerName;
  /** Seconds an idle event queue lives (`event_queue_expires`, AMQP `x-expires`). */
  eventQueueExpires?: number;
  /** Seconds an event message lives in its queue (`event_queue_ttl`, AMQP `x-message-ttl`). */
  eventQueueTtl?: number;
  eventExchange?: string;
  eventQueuePrefix?: string;
  controlExchange?: string;
  // time
  /** IANA zone name; null (default) = UTC with `enableUtc`, else the system zone (celery/app/base.py `Celery.timezone`, 5.7.0). */
  timezone?: string | null;
  enableUtc?: boolean;
  // beat (src/beat)
  /** Celery's `beat_schedule`: entry name -> {task, schedule, args, kwargs, options, relative}. */
  beatSchedule?: Record<string, BeatScheduleSetting>;
  /** `beat_scheduler`: "celery.beat:PersistentScheduler" (default), "celery.beat:Scheduler", "redbeat.RedBeatScheduler", ... */
  beatScheduler?: string;
  /** `beat_schedule_filename`; the TS file is this name with `.json` appended. */
  beatScheduleFilename?: string;
  /** `beat_max_loop_interval`, seconds; 0 = the scheduler's default (300 s; RedBeat 300 s). */
  beatMaxLoopInterval?: number;
  /** `beat_sync_every`: sync the store after this many sent tasks (0 = every 3 minutes only). */
  beatSyncEvery?: number;
  /** `beat_cron_starting_deadline`, seconds: a missed crontab run older than this is skipped. */
  beatCronStartingDeadline?: number | null;
  /** celery-redbeat's `redbeat_redis_url` (default: the broker URL, as RedBeat 2.4 still falls back). */
  redbeatRedisUrl?: string | null;
  /** `redbeat_key_prefix`, default "redbeat:". */
  redbeatKeyPrefix?: string;
  /** `redbeat_lock_key`, default `<prefix>:lock`; null disables the lock (as RedBeat's None). */
  redbeatLockKey?: string | null;
  /** `redbeat_lock_timeout`, seconds; default 5 x the max loop interval. */
  redbeatLockTimeout?: number | null;

  // wire-input budget (Celeriac's own; docs/wire-budget.md gives the reason for each default)
  /**
   * Largest message accepted as received (Redis list entry with its base64 body, AMQP body,
   * result meta), bytes. Default 16 MiB: RabbitMQ 4 refuses larger messages by default, so a
   * larger one is no ordinary Celery message. Larger ones are refused (DecodeError) and settled.
   */
  wireMaxMessageSize?: number;
  /**
   * Largest body after decompression, bytes. Default 16 MiB: compression should not let a
   * message carry more than an uncompressed one may; a decompression bomb stops there.
   */
  wireMaxDecompressedSize?: number;
  /**
   * Deepest nesting of lists, maps and header tables. Default 512: Python's msgpack refuses to
   * pack deeper than 511 and its json/PyYAML fail near 1000, so no Celery peer goes deeper, and
   * every recursive walk stays far from V8's stack limit (an overflow there can abort the process).
   */
  wireMaxDepth?: number;
}

/** Settings after defaults and validation; what every collaborator reads. */
export interface Settings
  extends Resolved<
    Omit<
      CeleryOptions,
      | "broker"
      | "backend"
      | "compat"
      | "brokerTransportOptions"
      | "resultBackendTransportOptions"
      | "taskPublishRetryPolicy"
      | "taskRoutes"
      | "taskDefaultExchange"
      | "taskDefaultRoutingKey"
      | "brokerUseSsl"
      | "redisBackendUseSsl"
      | "taskDefaultDeliveryMode"
    >
  > {
  readonly broker: string;
  readonly backend: string | null;
  readonly compat: CompatProfile;
  readonly brokerTransportOptions: Resolved<BrokerTransportOptions>;
  readonly resultBackendTransportOptions: Resolved<ResultBackendTransportOptions>;
  readonly taskPublishRetryPolicy: Resolved<RetryPolicy>;
  readonly taskRoutes: TaskRoutes;
  readonly taskDefaultExchange: string;
  readonly taskDefaultRoutingKey: string;
  readonly brokerUseSsl: TlsSettings | null;
  readonly redisBackendUseSsl: TlsSettings | null;
  /** 2 = persistent, 1 = transient (kombu `DELIVERY_MODES`). */
  readonly taskDefaultDeliveryMode: 1 | 2;
  /** The option names given to `new Celery(...)`, in order (Celery's `conf.changes`). */
  readonly given: readonly string[];
}
