/**
 * The Node service that takes over `shop.tasks.send_receipt` from the Django project's Python
 * worker (see ../README.md for the walk). Same task name, same arguments, same return shape;
 * results go to the same django-celery-results tables, so Django's admin keeps showing them.
 *
 *   DATABASE_URL=postgresql://... CELERY_BROKER_URL=redis://... RECEIPTS_QUEUE=receipts \
 *     npx tsx examples/django-migration/node/receipts.ts
 *
 * In a project using the published package, import from "celeriac" instead of the source tree.
 */
import { fileURLToPath } from "node:url";
import { Celery } from "../../../src/index.js";
import type { Worker } from "../../../src/worker/worker.js";

export interface ReceiptServiceEnv {
  DATABASE_URL: string;
  CELERY_BROKER_URL: string;
  RECEIPTS_QUEUE?: string;
  DEFAULT_QUEUE?: string;
}

export interface ReceiptService {
  readonly app: Celery;
  readonly worker: Worker;
  readonly queue: string;
  stop(): Promise<void>;
}

/** The Celery app, configured like djproj/settings.py's CELERY_* settings. */
export function receiptsApp(env: ReceiptServiceEnv): Celery {
  const queue = env.RECEIPTS_QUEUE ?? "receipts";
  const app = new Celery({
    broker: env.CELERY_BROKER_URL,
    backend: "django-db", // CELERY_RESULT_BACKEND
    databaseUrl: env.DATABASE_URL, // DATABASES["default"]
    resultExtended: true, // CELERY_RESULT_EXTENDED
    taskDefaultQueue: env.DEFAULT_QUEUE ?? "celery",
    taskRoutes: { "shop.tasks.send_receipt": { queue } }, // CELERY_TASK_ROUTES
  });
  app.task("shop.tasks.send_receipt", (_ctx, orderId: number, email: string) => ({
    order: orderId,
    sent_to: email,
    by: "node",
  }));
  return app;
}

/** Starts a worker consuming only the moved task's queue. */
export async function startReceiptService(
  env: ReceiptServiceEnv,
  options: { hostname?: string } = {},
): Promise<ReceiptService> {
  const app = receiptsApp(env);
  const queue = env.RECEIPTS_QUEUE ?? "receipts";
  const worker = app.worker({
    queues: [queue],
    concurrency: 8,
    ...(options.hostname ? { hostname: options.hostname } : {}),
  });
  await worker.start();
  return {
    app,
    worker,
    queue,
    stop: async () => {
      await worker.close({ timeoutMs: 10_000 });
      await app.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = process.env as unknown as ReceiptServiceEnv;
  if (!env.DATABASE_URL || !env.CELERY_BROKER_URL) {
    console.error("set DATABASE_URL and CELERY_BROKER_URL (the same values the Django project uses)");
    process.exit(2);
  }
  const service = await startReceiptService(env);
  console.log(`receipts service consuming ${service.queue}`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void service.stop());
}
