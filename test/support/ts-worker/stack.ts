/**
 * Builds a TS worker stack (settings, RedisTransport, RedisBackend) from plain
 * URLs, for interop tests, the standalone worker script and the benchmark.
 * It uses the same collaborators the `Celery` facade wires.
 */
import { createMetaCodec } from "../../../src/backends/meta-codec.js";
import { RedisBackend } from "../../../src/backends/redis.js";
import type { CeleryOptions } from "../../../src/config.js";
import { resolveSettings } from "../../../src/config-checks.js";
import { createLogger, type Logger, type LogLevel } from "../../../src/logging.js";
import {
  AcceptPolicy,
  CONTENT_TYPES,
  decompress,
  deserialize,
  serialize,
} from "../../../src/serialization/index.js";
import { RedisTransport } from "../../../src/transports/redis/index.js";
import { parseRedisUrl } from "../../../src/transports/redis/url.js";
import { brokerReconnectPolicy } from "../../../src/transports/retry-policy.js";
import { createTaskRegistry, createWorker, type WorkerHost } from "../../../src/worker/app-hooks.js";
import type { ModuleHandler, TaskHandler, TaskOptions } from "../../../src/worker/task-registry.js";
import type { Worker, WorkerOptions } from "../../../src/worker/worker.js";

export interface TsStack extends WorkerHost {
  readonly transport: RedisTransport;
  readonly backend: RedisBackend;
  readonly logger: Logger;
  task<A extends unknown[], R>(
    name: string,
    handler: TaskHandler<A, R> | ModuleHandler,
    options?: TaskOptions,
  ): void;
  worker(options?: WorkerOptions): Worker;
  close(): Promise<void>;
}

export function createTsStack(
  options: CeleryOptions & { broker: string; backend: string },
  log: { level?: LogLevel; lines?: string[] } = {},
): TsStack {
  const settings = resolveSettings(options);
  const transport = new RedisTransport({
    endpoint: parseRedisUrl("broker", settings.broker),
    transportOptions: settings.brokerTransportOptions,
    permanentBindings: settings.compat.permanentBindings,
    publishRetryPolicy: settings.taskPublishRetryPolicy,
    connection: {
      connectTimeout: settings.brokerConnectionTimeout,
      maxReconnects: settings.brokerConnectionMaxRetries,
      reconnect: settings.brokerConnectionRetry,
    },
    reconnect: brokerReconnectPolicy(settings),
  });
  const accept = AcceptPolicy.from(["json", "msgpack", "yaml"]);
  const codec = createMetaCodec({
    serialize: (v) => serialize(v, settings.resultSerializer, { compat: settings.compat }).body,
    deserialize: (d) =>
      deserialize(d, CONTENT_TYPES[settings.resultSerializer], "utf-8", accept, { compat: settings.compat }),
    decompress: (d, mime) => decompress(d, mime),
  });
  const backend = new RedisBackend({
    endpoint: parseRedisUrl("backend", options.backend),
    codec,
    resultExpires: settings.resultExpires,
    chordClaimKeys: settings.compat.chordClaimKeys,
    chordExpires: settings.resultChordExpires,
  });
  const lines = log.lines;
  const logger = createLogger({
    level: log.level ?? "info",
    ...(lines ? { destination: { write: (line: string) => lines.push(line) } } : {}),
  });
  const host: TsStack = {
    settings,
    registry: createTaskRegistry(settings),
    transport,
    backend,
    logger,
    task: (name, handler, taskOptions) => {
      host.registry.register(name, handler, taskOptions);
    },
    worker: (workerOptions) => createWorker(host, workerOptions),
    close: async () => {
      await transport.close();
      await backend.close();
    },
  };
  return host;
}
