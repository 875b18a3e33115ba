import { CELERY_MINORS, compatProfile } from "./compat.js";
import type { CeleryOptions, Settings } from "./config.js";
import {
  checkTls,
  RESULT_TRANSPORT_OPTION_CHECKS,
  RETRY_POLICY_CHECKS,
  TRANSPORT_OPTION_CHECKS,
} from "./config-connection-checks.js";
import {
  DEFAULT_BROKER_TRANSPORT_OPTIONS,
  DEFAULT_BROKER_URL,
  DEFAULT_PUBLISH_RETRY_POLICY,
  KNOWN_OPTIONS,
  SCALAR_DEFAULTS,
} from "./config-defaults.js";
import type { TaskRoutes } from "./config-values.js";
import { ConfigError } from "./errors.js";
import {
  type Check,
  checkObject,
  describe,
  isBool,
  listOf,
  number,
  oneOf,
  rejectUnknownKeys,
  text,
} from "./option-checks.js";
import { COMPRESSION_NAMES, SERIALIZER_NAMES } from "./serialization/index.js";

/**
 * The validators behind `resolveSettings`: one check per setting (built from option-checks.ts),
 * each throwing a {@link ConfigError} that names the option and the values it accepts. The
 * settings' types are in config.ts and config-values.ts, their defaults in config-defaults.ts;
 * the connection settings' objects (transport options, retry policy, TLS) are checked in
 * config-connection-checks.ts.
 */
const nullableCompression: Check = (option, value) => {
  if (value === null) return;
  oneOf(COMPRESSION_NAMES)(option, value);
};

const exchangeTypes = ["direct", "topic", "fanout"] as const;

const databaseTables: Check = (option, value) => {
  if (value === null) return;
  if (typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(
      option,
      `${option} must be null or { task?: string, group?: string } (got ${describe(value)})`,
    );
  for (const [key, name] of Object.entries(value as Record<string, unknown>)) {
    if (key !== "task" && key !== "group")
      throw new ConfigError(option, `${option} accepts the keys task and group (got ${JSON.stringify(key)})`);
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(name))
      throw new ConfigError(
        option,
        `${option}.${key} must be a plain SQL identifier (got ${describe(name)})`,
      );
  }
};

/**
 * A Celery setting Celeriac does not implement: its default (what Celeriac
 * does) is accepted, any other value is a ConfigError saying why, so a
 * setting is never validated and then silently ignored.
 */
function onlyDefault(fallback: unknown, why: string): Check {
  return (option, value) => {
    if (value === fallback) return;
    throw new ConfigError(option, `${option} ${describe(value)} is not supported: ${why}`);
  };
}

export const SCALAR_CHECKS: Record<keyof typeof SCALAR_DEFAULTS, Check> = {
  brokerConnectionRetry: isBool,
  brokerConnectionRetryOnStartup: isBool,
  brokerConnectionMaxRetries: number({ min: 0, integer: true }),
  brokerConnectionTimeout: number({ min: 0 }),
  brokerFailoverStrategy: oneOf(["round-robin", "shuffle"]),
  brokerHeartbeat: number({ min: 0 }),
  brokerPoolLimit: onlyDefault(
    10,
    "Celeriac publishes over one connection per app (ioredis pipelining, one AMQP confirm channel), so there is no producer pool to size; leave it unset",
  ),
  taskPublishRetry: isBool,
  taskDefaultQueue: text({ nonEmpty: true }),
  taskDefaultExchangeType: oneOf(exchangeTypes),
  taskDefaultPriority: number({ min: 0, integer: true, nullable: true }),
  taskQueues: (option, value) => {
    if (!Array.isArray(value))
      throw new ConfigError(option, `${option} must be a list of {name, ...} queues`);
    for (const [i, q] of value.entries()) {
      const name = (q as { name?: unknown } | null)?.name;
      if (typeof name !== "string" || name === "") {
        throw new ConfigError(
          option,
          `${option}[${i}].name must be a non-empty string (got ${describe(name)})`,
        );
      }
      const type = (q as { exchangeType?: unknown }).exchangeType;
      if (type !== undefined) oneOf(exchangeTypes)(`${option}[${i}].exchangeType`, type);
    }
  },
  taskCreateMissingQueues: isBool,
  taskSerializer: oneOf(SERIALIZER_NAMES),
  taskCompression: nullableCompression,
  acceptContent: listOf(SERIALIZER_NAMES),
  taskIgnoreResult: isBool,
  taskTimeLimit: number({ min: 0, nullable: true }),
  taskSoftTimeLimit: number({ min: 0, nullable: true }),
  taskAcksLate: isBool,
  taskAcksOnFailureOrTimeout: isBool,
  taskRejectOnWorkerLost: isBool,
  taskTrackStarted: isBool,
  taskAlwaysEager: isBool,
  taskEagerPropagates: isBool,
  taskStoreErrorsEvenIfIgnored: isBool,
  taskSendSentEvent: isBool,
  taskInheritParentPriority: isBool,
  taskQueueMaxPriority: number({ min: 1, integer: true, nullable: true }),
  taskDefaultQueueType: oneOf(["classic", "quorum"]),
  brokerNativeDelayedDeliveryQueueType: oneOf(["classic", "quorum"]),
  workerDetectQuorumQueues: isBool,
  taskDefaultRateLimit: (option, value) => {
    if (value === null || (typeof value === "number" && value >= 0)) return;
    if (typeof value === "string" && /^\d+(\.\d+)?(\/[smh])?$/.test(value)) return;
    throw new ConfigError(
      option,
      `${option} must be null, a number, or "N/s", "N/m", "N/h" (got ${describe(value)})`,
    );
  },
  resultSerializer: oneOf(SERIALIZER_NAMES),
  resultAcceptContent: listOf(SERIALIZER_NAMES, true),
  resultCompression: nullableCompression,
  resultExpires: number({ min: 0, nullable: true }),
  resultFailureExpires: number({ min: 0, nullable: true }),
  resultChordExpires: number({ min: 0, nullable: true }),
  resultExtended: isBool,
  resultChordRetryInterval: number({ min: 0 }),
  resultBackendAlwaysRetry: (option, value) => {
    if (value !== null) isBool(option, value);
  },
  resultBackendMaxRetries: number({ min: 0, nullable: true }),
  resultBackendBaseSleepBetweenRetriesMs: number({ min: 0 }),
  resultBackendMaxSleepBetweenRetriesMs: number({ min: 0 }),
  databaseUrl: text({ nonEmpty: true, nullable: true }),
  databaseTableNames: databaseTables,
  databaseTableSchemas: databaseTables,
  redisSocketConnectTimeout: number({ min: 0, nullable: true }),
  workerConcurrency: number({ min: 1, integer: true, nullable: true }),
  workerPrefetchMultiplier: number({ min: 0, integer: true }),
  workerSendTaskEvents: isBool,
  workerDisableRateLimits: isBool,
  workerEnableRemoteControl: isBool,
  workerMaxTasksPerChild: number({ min: 1, integer: true, nullable: true }),
  workerMaxMemoryPerChild: number({ min: 1, integer: true, nullable: true }),
  workerLostWaitSeconds: onlyDefault(
    10,
    'a task whose child process dies fails at once with WorkerLostError (pool: "process"); there is no result pipe to wait on; leave it unset',
  ),
  workerCancelLongRunningTasksOnConnectionLoss: onlyDefault(
    false,
    "running tasks keep running through a broker reconnect (and an acksLate message they hold is redelivered by the broker), as Celery before 5.1 did",
  ),
  eventSerializer: onlyDefault(
    "json",
    'events are sent as JSON (Celery\'s default, which Flower and `celery events` read); use "json" or leave it unset',
  ),
  eventQueueExpires: number({ min: 0 }),
  eventQueueTtl: number({ min: 0 }),
  eventExchange: text({ nonEmpty: true }),
  eventQueuePrefix: text({ nonEmpty: true }),
  controlExchange: text({ nonEmpty: true }),
  timezone: ianaZone,
  enableUtc: isBool,
  beatSchedule: (option, value) => {
    // Each entry is checked in full when beat starts (src/beat/entry.ts entryFromSetting).
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new ConfigError(option, `${option} must be an object of entry name -> {task, schedule, ...}`);
  },
  beatScheduler: text({ nonEmpty: true }),
  beatScheduleFilename: text({ nonEmpty: true }),
  beatMaxLoopInterval: number({ min: 0 }),
  beatSyncEvery: number({ min: 0, integer: true }),
  beatCronStartingDeadline: number({ min: 0, nullable: true }),
  redbeatRedisUrl: text({ nonEmpty: true, nullable: true }),
  redbeatKeyPrefix: text(),
  redbeatLockKey: text({ nullable: true }),
  redbeatLockTimeout: number({ min: 0, nullable: true }),
  wireMaxMessageSize: number({ min: 1024, integer: true }),
  wireMaxDecompressedSize: number({ min: 1024, integer: true }),
  wireMaxDepth: number({ min: 8, integer: true }),
};

/** An IANA zone name Node's Intl knows (Python's `ZoneInfo(name)`), or null. */
function ianaZone(option: string, value: unknown): void {
  if (value === null) return;
  text({ nonEmpty: true })(option, value);
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value as string });
  } catch {
    throw new ConfigError(
      option,
      `${option} ${JSON.stringify(value)} is not a known IANA time zone (e.g. "Europe/London")`,
    );
  }
}

export function checkRoutes(value: unknown): TaskRoutes {
  const option = "taskRoutes";
  if (value === undefined) return {};
  const entries = Array.isArray(value) ? value : [value];
  for (const [i, entry] of entries.entries()) {
    if (typeof entry === "function") continue;
    if (Array.isArray(entry)) {
      const [pattern] = entry;
      if (entry.length !== 2 || !(typeof pattern === "string" || pattern instanceof RegExp)) {
        throw new ConfigError(option, `${option}[${i}] must be [pattern (string or RegExp), route]`);
      }
      continue;
    }
    if (entry === null || typeof entry !== "object") {
      throw new ConfigError(
        option,
        `${option} entries must be {name or glob: route} maps, [pattern, route] pairs or router functions (got ${describe(entry)})`,
      );
    }
    for (const [name, target] of Object.entries(entry)) {
      if (typeof target === "string") continue;
      if (target === null || typeof target !== "object") {
        throw new ConfigError(
          option,
          `${option}[${JSON.stringify(name)}] must be a queue name or {queue, exchange, routingKey, priority}`,
        );
      }
    }
  }
  return value as TaskRoutes;
}

/** Validates and fills in defaults; throws {@link ConfigError} naming the bad option. */
export function resolveSettings(options: CeleryOptions = {}): Settings {
  if (options === null || typeof options !== "object")
    throw new ConfigError("options", "Celery options must be an object");
  // Settings are Celery's names in camelCase (task_default_queue -> taskDefaultQueue).
  rejectUnknownKeys("setting", options, KNOWN_OPTIONS);
  const input = options as Record<string, unknown>;
  const scalars: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(SCALAR_DEFAULTS)) {
    const value = input[key];
    if (value === undefined) {
      scalars[key] = Array.isArray(fallback) ? [...fallback] : fallback;
    } else {
      SCALAR_CHECKS[key as keyof typeof SCALAR_DEFAULTS](key, value);
      scalars[key] = value;
    }
  }
  let broker = DEFAULT_BROKER_URL;
  if (Array.isArray(options.broker)) {
    // Celery's broker_url may be a list (kombu `Connection(alternates)`): one `;` list here.
    if (options.broker.length === 0) throw new ConfigError("broker", "broker: the list of URLs is empty");
    for (const [i, url] of options.broker.entries()) text({ nonEmpty: true })(`broker[${i}]`, url);
    broker = options.broker.join(";");
  } else if (options.broker !== undefined) {
    text({ nonEmpty: true })("broker", options.broker);
    broker = options.broker;
  }
  if (options.backend !== undefined && options.backend !== null)
    text({ nonEmpty: true })("backend", options.backend);
  if (options.compat !== undefined && !(CELERY_MINORS as readonly string[]).includes(options.compat)) {
    compatProfile(options.compat); // throws the ConfigError naming the accepted minors
  }
  const queue = scalars.taskDefaultQueue as string;
  if (options.taskDefaultExchange !== undefined)
    text({ nonEmpty: true })("taskDefaultExchange", options.taskDefaultExchange);
  if (options.taskDefaultRoutingKey !== undefined)
    text()("taskDefaultRoutingKey", options.taskDefaultRoutingKey);
  let deliveryMode: 1 | 2 = 2;
  if (options.taskDefaultDeliveryMode !== undefined) {
    oneOf(["persistent", "transient", 1, 2])("taskDefaultDeliveryMode", options.taskDefaultDeliveryMode);
    const mode = options.taskDefaultDeliveryMode;
    deliveryMode = mode === "transient" || mode === 1 ? 1 : 2;
  }
  const settings = {
    ...scalars,
    broker,
    backend: options.backend ?? null,
    compat: compatProfile(options.compat ?? "5.7"),
    brokerTransportOptions: checkObject(
      "brokerTransportOptions",
      options.brokerTransportOptions,
      TRANSPORT_OPTION_CHECKS,
      DEFAULT_BROKER_TRANSPORT_OPTIONS,
    ),
    resultBackendTransportOptions: checkObject(
      "resultBackendTransportOptions",
      options.resultBackendTransportOptions,
      RESULT_TRANSPORT_OPTION_CHECKS,
      { globalKeyprefix: "", masterName: null, sentinelKwargs: null },
    ),
    taskPublishRetryPolicy: checkObject(
      "taskPublishRetryPolicy",
      options.taskPublishRetryPolicy,
      RETRY_POLICY_CHECKS,
      DEFAULT_PUBLISH_RETRY_POLICY,
    ),
    taskRoutes: checkRoutes(options.taskRoutes),
    // celery/app/utils.py Settings.task_default_exchange / task_default_routing_key (5.7.0): both
    // fall back to the default queue's name.
    taskDefaultExchange: options.taskDefaultExchange ?? queue,
    taskDefaultRoutingKey: options.taskDefaultRoutingKey ?? queue,
    brokerUseSsl: checkTls("brokerUseSsl", options.brokerUseSsl),
    redisBackendUseSsl: checkTls("redisBackendUseSsl", options.redisBackendUseSsl),
    taskDefaultDeliveryMode: deliveryMode,
    // Celery's `conf.changes` (the `conf` / `report` replies list what the user set, in order).
    given: Object.freeze(Object.keys(options).filter((k) => input[k] !== undefined)),
  };
  return Object.freeze(settings) as unknown as Settings;
}
