/**
 * Test-side access to the run's shared services (see service-provider.ts). Call these from
 * `beforeAll` / tests; each resolves once its server is up and rejects with a message that says
 * how to get the service when it cannot be had (tests never skip).
 *
 *   const broker = await amqpUrl();            // amqp://guest:guest@127.0.0.1:P
 *   const { url } = await allocateRedisDb();   // redis://127.0.0.1:P/<fresh, flushed db>
 *   const queue = uniqueQueue("add");          // isolation between tests is by unique names
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { inject } from "vitest";
import type { ServiceAnswer } from "./service-types.js";

async function askProvider<T>(path: string): Promise<T> {
  const endpoint = inject("celeriacServiceEndpoint");
  if (!endpoint) {
    throw new Error(
      "The test services endpoint is missing: run tests through vitest with vitest.config.ts " +
        "(its globalSetup test/support/global-setup.ts starts the service provider).",
    );
  }
  const response = await fetch(`${endpoint}${path}`);
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `service provider answered ${response.status} for ${path}`);
  return body;
}

/** The shared Redis: `redis://host:port` (db 0), or `.../<db>` when `db` is given. */
export async function redisUrl(db?: number): Promise<string> {
  const { url } = await askProvider<ServiceAnswer>("/service/redis");
  return db === undefined ? url : `${url}/${db}`;
}

/** The shared RabbitMQ: `amqp://guest:guest@host:port` (vhost "/"). */
export async function amqpUrl(): Promise<string> {
  const { url } = await askProvider<ServiceAnswer>("/service/amqp");
  return url;
}

/** The shared RabbitMQ's TLS listener: `amqps://guest:guest@localhost:port` and its CA file. */
export async function amqpsService(): Promise<{ url: string; caPath: string }> {
  const answer = await askProvider<ServiceAnswer>("/service/amqps");
  if (!answer.caPath) throw new Error("service provider returned an amqps URL without a CA path");
  return { url: answer.url, caPath: answer.caPath };
}

/**
 * A PostgreSQL database of its own (created empty by the run's service provider, one per call)
 * on the shared server: `postgresql://postgres@127.0.0.1:P/<database>` for the local server.
 * Call it once per test file; the server is started on the first call of the run (~1 s).
 */
export async function allocatePostgresDb(): Promise<{ database: string; url: string }> {
  return askProvider<{ database: string; url: string }>("/postgres-db");
}

/** Where each service came from: "local" servers, "env" URLs or "testcontainers". */
export async function serviceSource(name: "redis" | "amqp" | "postgres"): Promise<ServiceAnswer["source"]> {
  return (await askProvider<ServiceAnswer>(`/service/${name}`)).source;
}

/**
 * A Redis database of its own on the shared server (never db 0), flushed before it is handed
 * out, for tests that inspect or count keys. The local server has 256 databases; numbers are
 * reused only after that many allocations in one run.
 */
export async function allocateRedisDb(): Promise<{ db: number; url: string }> {
  const { db } = await askProvider<{ db: number }>("/redis-db");
  const url = await redisUrl(db);
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    await client.flushdb();
  } finally {
    client.disconnect();
  }
  return { db, url };
}

/** Path of the python of the pinned Celery venv for `minor` (built on first use). */
export async function celeryVenvPython(minor = "5.7"): Promise<string> {
  const { python } = await askProvider<{ python: string }>(`/venv/${minor}`);
  return python;
}

/**
 * A name no other test (or earlier run against the same broker) uses: queues, exchanges,
 * routing keys, Redis keys. Unique names cost nothing and are the default isolation.
 */
export function uniqueName(prefix = "t"): string {
  return `${prefix}.${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
}

/** A unique queue name, `<prefix>.<unique suffix>`. */
export function uniqueQueue(prefix = "q"): string {
  return uniqueName(prefix);
}
