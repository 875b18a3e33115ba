/**
 * A standalone TS worker process for tests that must SIGKILL or SIGTERM it
 * and for the benchmark: `node --import tsx test/support/ts-worker/worker-main.ts`.
 *
 * Configured by environment variables:
 *   TSW_BROKER, TSW_BACKEND   Redis URLs (required); an amqp:// broker runs the worker through the
 *                             `Celery` facade (AMQP transport) with the same tasks and options
 *   TSW_QUEUES                comma-separated queues (default "celery")
 *   TSW_CONCURRENCY           default 16
 *   TSW_PREFETCH              prefetch multiplier (default 4)
 *   TSW_HOSTNAME              node name (default tsw-<pid>@localhost)
 *   TSW_ACKS_LATE             "1" for task_acks_late
 *   TSW_VISIBILITY_TIMEOUT    seconds (default 3600); the restore sweep then runs every second
 *                             (and unacked_mutex expires after 5 s, so a killed sweeper does not
 *                             block the others for kombu's 300 s)
 *   TSW_SHUTDOWN_TIMEOUT_MS   warm-shutdown wait (default 30000)
 *   TSW_RESULT_EXTENDED       "1" for result_extended
 *   TSW_LOG_LEVEL             default "info"
 *   TSW_RECORD_DELAY_MS       sleep before `interop.record` records (default 0)
 *   TSW_API_SIGNALS           "1": leave SIGTERM/SIGINT to the worker's own default handling
 *                             (`handleSignals`), as a user's `await worker.start()` script does
 *   TSW_MAX_RETRIES           broker_connection_max_retries (default Celery's 100)
 *
 * Tasks: `interop.add(x, y)`, `interop.record(tag, key)` (RPUSH to the backend Redis, as the
 * Python interop app's task of the same name), `interop.sleep(seconds)`, `ts.sleep_record(ms, tag,
 * key)`, `ts.noop()`.
 * Prints `<hostname> ready.` on stderr once consuming; exits 0 after a warm shutdown. When the
 * worker stops by itself (broker gone for good) it closes its connections and does NOT call
 * process.exit: the worker's own exit status (1) must end the process with nothing left running.
 */
import { Redis } from "ioredis";
import { Celery } from "../../../src/app.js";
import type { LogLevel } from "../../../src/logging.js";
import { createTsStack } from "./stack.js";

const env = process.env;
const broker = env.TSW_BROKER;
const backend = env.TSW_BACKEND;
if (!broker || !backend) {
  process.stderr.write("TSW_BROKER and TSW_BACKEND are required\n");
  process.exit(2);
}
const visibility = env.TSW_VISIBILITY_TIMEOUT ? Number(env.TSW_VISIBILITY_TIMEOUT) : undefined;
const common = {
  broker,
  backend,
  taskAcksLate: env.TSW_ACKS_LATE === "1",
  resultExtended: env.TSW_RESULT_EXTENDED === "1",
  ...(env.TSW_MAX_RETRIES ? { brokerConnectionMaxRetries: Number(env.TSW_MAX_RETRIES) } : {}),
};
const logLevel = (env.TSW_LOG_LEVEL as LogLevel | undefined) ?? "info";
const amqp = /^amqps?:\/\//i.test(broker);
const apiSignals = env.TSW_API_SIGNALS === "1";
// The facade has no logger option: its worker's default logger reads CELERIAC_LOG_LEVEL.
if (amqp) process.env.CELERIAC_LOG_LEVEL = logLevel;
// The facade picks AmqpTransport for amqp:// brokers; Redis keeps the explicit test stack.
const stack = amqp
  ? new Celery(common)
  : createTsStack(
      {
        ...common,
        ...(visibility !== undefined
          ? {
              brokerTransportOptions: {
                visibilityTimeout: visibility,
                unackedRestoreInterval: 1,
                unackedRestoreThrottle: 1,
                // A SIGKILLed sweeper leaves kombu's unacked_mutex held until it expires (300 s).
                unackedMutexExpire: 5,
              },
            }
          : {}),
      },
      { level: logLevel },
    );

const recorder = new Redis(backend, { maxRetriesPerRequest: 3 });
stack.task("interop.add", (_ctx, x: number, y: number) => x + y);
stack.task("ts.noop", () => null);
const recordDelayMs = Number(env.TSW_RECORD_DELAY_MS ?? 0);
stack.task("interop.record", async (_ctx, tag: unknown, key = "interop:record") => {
  if (recordDelayMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, recordDelayMs));
  return recorder.rpush(String(key), String(tag));
});
stack.task("interop.sleep", async (_ctx, seconds: number) => {
  await new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));
  return seconds;
});
stack.task("ts.sleep_record", async (_ctx, ms: number, tag: string, key: string) => {
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
  return recorder.rpush(key, `${tag}`);
});

const worker = stack.worker({
  queues: (env.TSW_QUEUES ?? "celery").split(","),
  concurrency: Number(env.TSW_CONCURRENCY ?? 16),
  prefetchMultiplier: Number(env.TSW_PREFETCH ?? 4),
  hostname: env.TSW_HOSTNAME ?? `tsw-${process.pid}@localhost`,
  handleSignals: apiSignals,
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal} received: warm shutdown\n`);
  await worker.close({ timeoutMs: Number(env.TSW_SHUTDOWN_TIMEOUT_MS ?? 30_000) });
  await stack.close();
  recorder.disconnect();
  process.exit(0);
}
if (!apiSignals) {
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

void worker.closed.then(async () => {
  if (worker.failure === null) return; // a signal's warm shutdown exits by itself
  await stack.close();
  recorder.disconnect();
});
await worker.start();
process.stderr.write(`${worker.hostname} ready.\n`);
