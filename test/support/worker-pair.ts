/**
 * A stock Celery worker and a TS worker side by side on one Redis broker and backend, the shape
 * of the mixed-language suites (canvas-*, ...): each consumes its own unique queue, and a test
 * routes every step to the language it wants. Started once per file in `beforeAll`:
 *
 *   pair = await startWorkerPair({
 *     pyQ, tsQ,
 *     python: { pool: "threads", concurrency: 4, extraArgs: ["-I", "canvas_peer"] },
 *     ts: async ({ broker, backend }) => {
 *       app = new Celery({ broker, backend, taskDefaultQueue: tsQ });
 *       app.task("peer.add", (_ctx, x: number, y: number) => x + y);
 *       return tsWorkerSide(app.worker({ queues: [tsQ], concurrency: 4 }), app);
 *     },
 *   });
 *   afterAll(() => pair?.close());
 *
 * The TS side is built while the Python worker boots (a Celery worker takes seconds to be ready;
 * nothing on the TS side waits for it), and both are closed together. The backend is a fresh Redis
 * database of the file's own, and so is the broker unless `broker` names one (a suite run per
 * transport passes the shared RabbitMQ's `amqpUrl()`); the Python worker's default queue is `pyQ`
 * unless `python.defaultQueue` says otherwise.
 */
import { type CeleryWorker, type CeleryWorkerOptions, startCeleryWorker } from "./celery.js";
import { allocateRedisDb } from "./services.js";

export interface PairUrls {
  readonly broker: string;
  readonly backend: string;
}

export interface TsSide {
  close(): Promise<void>;
}

/** What a TS side starts and closes: a `Worker`, or anything that starts and drains like one. */
export interface StartableWorker {
  start(): Promise<void>;
  close(options: { timeoutMs: number }): Promise<void>;
}

export interface TsSideOptions {
  /** How long closing waits for the worker's running tasks (ms); default 5 000. */
  readonly drainMs?: number;
  /** Closed before the worker: what the test opened beside it (a spare client, an extra worker). */
  readonly closeFirst?: () => Promise<void>;
}

/**
 * Starts `worker` and returns the TS side that closes it: `closeFirst`, then the worker (draining
 * its running tasks), then `owner`, the app or stack holding the connections the worker used.
 * The order matters: an app closed under a draining worker fails the tasks still storing results.
 */
export async function tsWorkerSide(
  worker: StartableWorker,
  owner: { close(): Promise<void> },
  options: TsSideOptions = {},
): Promise<TsSide> {
  await worker.start();
  return {
    close: async () => {
      await options.closeFirst?.();
      await worker.close({ timeoutMs: options.drainMs ?? 5000 });
      await owner.close();
    },
  };
}

export interface WorkerPairOptions {
  readonly pyQ: string;
  readonly tsQ: string;
  /** The broker URL both workers use; default a fresh Redis database. */
  readonly broker?: string;
  /** The Python worker's options besides its broker, backend and queue (pool, concurrency, -I, version). */
  readonly python?: Omit<CeleryWorkerOptions, "brokerUrl" | "backendUrl" | "queues">;
  /** Builds and starts the TS side (its app or stack, tasks and worker); resolves once it consumes. */
  ts(urls: PairUrls): Promise<TsSide>;
}

export interface WorkerPair extends PairUrls {
  readonly py: CeleryWorker;
  /** Closes the TS side and stops the Python worker (warm shutdown), both at once. */
  close(): Promise<void>;
}

export async function startWorkerPair(options: WorkerPairOptions): Promise<WorkerPair> {
  const [broker, backendDb] = await Promise.all([
    options.broker ?? allocateRedisDb().then((db) => db.url),
    allocateRedisDb(),
  ]);
  const urls = { broker, backend: backendDb.url };
  const [py, ts] = await Promise.allSettled([
    startCeleryWorker({
      brokerUrl: urls.broker,
      backendUrl: urls.backend,
      queues: [options.pyQ],
      defaultQueue: options.pyQ,
      ...options.python,
    }),
    options.ts(urls),
  ]);
  if (py.status === "rejected" || ts.status === "rejected") {
    await Promise.allSettled([
      py.status === "fulfilled" ? py.value.kill() : undefined,
      ts.status === "fulfilled" ? ts.value.close() : undefined,
    ]);
    throw py.status === "rejected" ? py.reason : (ts as PromiseRejectedResult).reason;
  }
  return {
    ...urls,
    py: py.value,
    close: async () => {
      await Promise.all([ts.value.close(), py.value.stop()]);
    },
  };
}
