/**
 * The per-run service provider. It lives in the vitest main process (started by
 * global-setup.ts) and hands out ONE shared Redis and ONE shared RabbitMQ per test run, started
 * lazily on the first request, so a unit-only run never boots a broker and a Redis-only file
 * never waits ~5 s for RabbitMQ. Likewise ONE PostgreSQL server, with a fresh database per
 * request to `/postgres-db` (one per test file).
 *
 * Test files run in worker processes and talk to it over a loopback HTTP endpoint (services.ts).
 * Source of each service, in order:
 *   1. CELERIAC_TEST_REDIS_URL / CELERIAC_TEST_AMQP_URL / CELERIAC_TEST_POSTGRES_URL, when set;
 *   2. a throwaway local server (redis-server / rabbitmq-server / postgres binaries);
 *   3. testcontainers, only when a Docker engine answers a ping (probed before importing it);
 *   otherwise the request fails with a message that says how to fix it. Tests never skip.
 */
import { existsSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { makeTempDir } from "./ports.js";
import { postgresBinDir, startPostgres } from "./servers/postgres.js";
import { RABBITMQ_BIN_DIR, startRabbitMq } from "./servers/rabbitmq.js";
import { REDIS_SERVER_BIN, startRedis } from "./servers/redis.js";
import type { ServiceAnswer, ServiceName } from "./service-types.js";
import { makeTestCerts } from "./tls.js";

/** Databases on the shared local Redis, so allocateRedisDb() rarely wraps around. */
const LOCAL_REDIS_DATABASES = 256;

type Disposer = () => Promise<void>;

/** Where a Docker engine might be listening, or undefined when none is configured. */
function dockerEndpoint(): { socketPath?: string; host?: string; port?: number } | undefined {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) {
    if (dockerHost.startsWith("unix://")) return { socketPath: dockerHost.slice("unix://".length) };
    const match = /^tcp:\/\/([^:/]+):(\d+)/.exec(dockerHost);
    return match ? { host: match[1], port: Number(match[2]) } : undefined;
  }
  const candidates = ["/var/run/docker.sock"];
  if (process.env.XDG_RUNTIME_DIR) candidates.push(join(process.env.XDG_RUNTIME_DIR, "docker.sock"));
  const socketPath = candidates.find((path) => existsSync(path));
  return socketPath ? { socketPath } : undefined;
}

/** GET /_ping against the engine with a short timeout (the cheap check before trying to start a container). */
function dockerAnswers(): Promise<boolean> {
  const endpoint = dockerEndpoint();
  if (!endpoint) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ ...endpoint, path: "/_ping", method: "GET", timeout: 1500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

const POSTGRES_FIX =
  "Fix: run `npm run setup` (installs Debian's postgresql package), install PostgreSQL 13+ server binaries " +
  "(/usr/lib/postgresql/<major>/bin, or CELERIAC_POSTGRES_BIN_DIR), set " +
  "CELERIAC_TEST_POSTGRES_URL=postgresql://user:pass@host:port/postgres (a role that may CREATE DATABASE), " +
  "or start a Docker engine.";

function howToFix(service: "redis" | "amqp"): string {
  return service === "redis"
    ? `Fix: run \`npm run setup\` (installs redis-server on Debian/Ubuntu), install redis-server 7+ so that ${REDIS_SERVER_BIN} exists, set CELERIAC_TEST_REDIS_URL=redis://host:port, or start a Docker engine.`
    : `Fix: run \`npm run setup\` (installs rabbitmq-server on Debian/Ubuntu), install rabbitmq-server 3.10+ so that ${RABBITMQ_BIN_DIR}/rabbitmq-server exists, set CELERIAC_TEST_AMQP_URL=amqp://guest:guest@host:port, or start a Docker engine.`;
}

export class ServiceProvider {
  private readonly pending = new Map<ServiceName, Promise<ServiceAnswer>>();
  private readonly disposers: Disposer[] = [];
  private nextDb = 0;
  private redisDatabases = 16;
  private http: Server | undefined;
  readonly runDir = makeTempDir("run");

  /** Memoized: concurrent and later requests share the first start attempt (and its failure). */
  get(name: ServiceName): Promise<ServiceAnswer> {
    let answer = this.pending.get(name);
    if (!answer) {
      answer = this.provide(name);
      this.pending.set(name, answer);
    }
    return answer;
  }

  private readonly venvs = new Map<string, Promise<string>>();

  /**
   * Builds (or finds, in ~1 ms when its stamp is fresh) the pinned Celery venv for one minor via
   * scripts/venv.mjs, so a test run started with plain `npx vitest` still gets its Python peers.
   * Memoized per minor; venv.mjs also locks across processes.
   */
  ensureVenv(minor: string): Promise<string> {
    let python = this.venvs.get(minor);
    if (!python) {
      python = (async () => {
        // Imported by URL at run time: venv.mjs is plain JS (it must run before npm ci).
        const venvModule = (await import(new URL("../../scripts/venv.mjs", import.meta.url).href)) as {
          ensureVenv(minor: string, options: { log?: (message: string) => void }): Promise<string>;
        };
        return venvModule.ensureVenv(minor, { log: (message) => console.error(`[venv] ${message}`) });
      })();
      this.venvs.set(minor, python);
    }
    return python;
  }

  /** Next database number on the shared Redis, never 0 (db 0 is what a bare URL points at). */
  async allocateRedisDb(): Promise<number> {
    await this.get("redis");
    this.nextDb += 1;
    return 1 + ((this.nextDb - 1) % (this.redisDatabases - 1));
  }

  private async provide(name: ServiceName): Promise<ServiceAnswer> {
    if (name === "redis") return this.provideRedis();
    if (name === "amqp") return this.provideAmqp(false);
    if (name === "postgres") return this.providePostgres();
    return this.provideAmqp(true);
  }

  private nextPostgresDb = 0;

  /**
   * A fresh, empty database on the shared PostgreSQL server (`CREATE DATABASE`), named
   * `cx_<pid>_<n>` so runs sharing one CELERIAC_TEST_POSTGRES_URL server do not collide.
   */
  async allocatePostgresDb(): Promise<{ database: string; url: string }> {
    const { url } = await this.get("postgres");
    this.nextPostgresDb += 1;
    const database = `cx_${process.pid}_${Date.now().toString(36)}_${this.nextPostgresDb}`;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query(`CREATE DATABASE "${database}"`);
    } finally {
      await client.end().catch(() => {});
    }
    const dbUrl = new URL(url);
    dbUrl.pathname = `/${database}`;
    return { database, url: dbUrl.toString() };
  }

  private async providePostgres(): Promise<ServiceAnswer> {
    const fromEnv = process.env.CELERIAC_TEST_POSTGRES_URL;
    if (fromEnv) return { url: fromEnv, source: "env" };
    if (postgresBinDir() !== undefined) {
      const server = await startPostgres();
      this.disposers.push(() => server.dispose());
      return { url: server.url, source: "local" };
    }
    if (await dockerAnswers()) {
      const { GenericContainer, Wait } = await import("testcontainers");
      const container = await new GenericContainer("postgres:15-alpine")
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage("database system is ready to accept connections", 2))
        .start();
      this.disposers.push(async () => void (await container.stop()));
      return {
        url: `postgresql://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
        source: "testcontainers",
      };
    }
    throw new Error(
      `No PostgreSQL for the test run: no server binaries under /usr/lib/postgresql, CELERIAC_TEST_POSTGRES_URL is unset and no Docker engine answered.\n${POSTGRES_FIX}`,
    );
  }

  private async provideRedis(): Promise<ServiceAnswer> {
    const fromEnv = process.env.CELERIAC_TEST_REDIS_URL;
    if (fromEnv) return { url: fromEnv.replace(/\/+$/, ""), source: "env" };
    if (existsSync(REDIS_SERVER_BIN)) {
      const server = await startRedis({ databases: LOCAL_REDIS_DATABASES });
      this.disposers.push(() => server.dispose());
      this.redisDatabases = LOCAL_REDIS_DATABASES;
      return { url: server.url, source: "local" };
    }
    if (await dockerAnswers()) {
      const { GenericContainer, Wait } = await import("testcontainers");
      const container = await new GenericContainer("redis:7-alpine")
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
        .start();
      this.disposers.push(async () => void (await container.stop()));
      return {
        url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
        source: "testcontainers",
      };
    }
    throw new Error(
      `No Redis for the test run: ${REDIS_SERVER_BIN} is missing, CELERIAC_TEST_REDIS_URL is unset and no Docker engine answered.\n${howToFix("redis")}`,
    );
  }

  private async provideAmqp(tls: boolean): Promise<ServiceAnswer> {
    const fromEnv = process.env.CELERIAC_TEST_AMQP_URL;
    if (fromEnv && !tls) return { url: fromEnv, source: "env" };
    if (existsSync(join(RABBITMQ_BIN_DIR, "rabbitmq-server"))) {
      // One node serves both: the amqps listener costs nothing at boot.
      const node = await this.localRabbit();
      if (tls) return { url: node.tlsUrl ?? "", source: "local", caPath: node.caPath };
      return { url: node.url, source: "local" };
    }
    if (tls) {
      throw new Error(
        `No amqps listener for the test run: it comes from a local RabbitMQ node and ${RABBITMQ_BIN_DIR}/rabbitmq-server is missing.\n${howToFix("amqp")}`,
      );
    }
    if (await dockerAnswers()) {
      const { GenericContainer, Wait } = await import("testcontainers");
      // The official image allows guest from outside loopback (loopback_users.guest = false).
      const container = await new GenericContainer("rabbitmq:3.13-alpine")
        .withExposedPorts(5672)
        .withWaitStrategy(Wait.forLogMessage("Server startup complete"))
        .withStartupTimeout(120_000)
        .start();
      this.disposers.push(async () => void (await container.stop()));
      return {
        url: `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`,
        source: "testcontainers",
      };
    }
    throw new Error(
      `No RabbitMQ for the test run: ${RABBITMQ_BIN_DIR}/rabbitmq-server is missing, CELERIAC_TEST_AMQP_URL is unset and no Docker engine answered.\n${howToFix("amqp")}`,
    );
  }

  private rabbit: ReturnType<typeof startRabbitMq> | undefined;

  private localRabbit(): ReturnType<typeof startRabbitMq> {
    if (!this.rabbit) {
      this.rabbit = startRabbitMq({ tls: makeTestCerts(join(this.runDir)) }).then((node) => {
        this.disposers.push(() => node.dispose());
        return node;
      });
    }
    return this.rabbit;
  }

  /** Starts the loopback endpoint test workers call; resolves with its base URL. */
  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const name = url.pathname.slice("/service/".length);
      let work: Promise<unknown>;
      if (url.pathname === "/redis-db") work = this.allocateRedisDb().then((db) => ({ db }));
      else if (url.pathname === "/postgres-db") work = this.allocatePostgresDb();
      else if (url.pathname.startsWith("/venv/"))
        work = this.ensureVenv(url.pathname.slice("/venv/".length)).then((python) => ({ python }));
      else if (
        url.pathname.startsWith("/service/") &&
        (name === "redis" || name === "amqp" || name === "amqps" || name === "postgres")
      )
        work = this.get(name);
      else work = Promise.reject(new Error(`unknown path ${url.pathname}`));
      work.then(
        (body) => reply(200, body),
        (err: unknown) => reply(500, { error: err instanceof Error ? err.message : String(err) }),
      );
    });
    this.http = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("service provider: no address");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Stops every server and container that was started, in reverse order. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    // Let a boot still in flight finish first, so its process is not left behind.
    await Promise.allSettled([...this.pending.values()]);
    const results = await Promise.allSettled(this.disposers.reverse().map((dispose) => dispose()));
    for (const result of results) {
      if (result.status === "rejected") console.error("service teardown failed:", result.reason);
    }
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
