/**
 * Throwaway redis-server instances for tests: plain TCP, TLS (`--tls-port`) or a unix socket.
 *
 * A direct child, not daemonized, no persistence,
 * first PONG after ~30 ms. A port picked by binding port 0 can be taken before redis binds it;
 * redis then exits with status 1 ("Address already in use") and we retry on a new port.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freePort, makeTempDir } from "../ports.js";
import { ChildHandle, waitUntil } from "../process.js";
import { makeTestCerts, type TestCerts } from "../tls.js";
import { type RedisTarget, redisPing } from "./redis-ping.js";

export const REDIS_SERVER_BIN = process.env.CELERIAC_REDIS_SERVER ?? "/usr/bin/redis-server";

export interface RedisServerOptions {
  /** Serve TLS on a `--tls-port` (plain TCP off). `true` makes a fresh test CA; or pass certs. */
  tls?: boolean | TestCerts;
  /** With `tls`: require client certificates (mutual TLS). Default false. */
  tlsAuthClients?: boolean;
  /** Listen on a unix socket only (plain TCP off). */
  unixSocket?: boolean;
  /** `--databases`; default 16 like stock Redis. */
  databases?: number;
  /** Extra `--flag value` arguments appended to the command line. */
  extraArgs?: readonly string[];
  /** Boot timeout; default 10 s. */
  timeoutMs?: number;
}

export interface RedisServer {
  /** `redis://127.0.0.1:P`, `rediss://localhost:P` (TLS) or `redis+socket:///path` (unix socket). */
  readonly url: string;
  readonly host: string;
  /** TCP port (the TLS port for TLS servers); undefined for unix-socket servers. */
  readonly port: number | undefined;
  readonly socketPath: string | undefined;
  /** The CA file that signed the server certificate (TLS servers only). */
  readonly caPath: string | undefined;
  readonly certs: TestCerts | undefined;
  readonly dir: string;
  /** URL of one numbered database, in the URL form that kombu/Celery and ioredis accept. */
  dbUrl(db: number): string;
  /** The server's own log file plus anything it printed. */
  logs(): string;
  /** Whether the server process is currently running. */
  readonly running: boolean;
  /** Graceful stop (SIGTERM; no save), waits for the process to exit. Keeps the temp dir. */
  stop(): Promise<void>;
  /** Abrupt stop (SIGKILL), waits for exit. */
  kill(): Promise<void>;
  /** Starts again on the same port/socket (after stop/kill; stops first if running). */
  restart(): Promise<void>;
  /** Stops and removes the temp dir. */
  dispose(): Promise<void>;
}

class RedisServerImpl implements RedisServer {
  readonly host: string;
  port: number | undefined;
  readonly socketPath: string | undefined;
  readonly certs: TestCerts | undefined;
  private child: ChildHandle | undefined;
  private earlierOutput = "";

  constructor(
    readonly dir: string,
    private readonly options: RedisServerOptions,
    certs: TestCerts | undefined,
  ) {
    this.certs = certs;
    this.host = certs ? "localhost" : "127.0.0.1";
    this.socketPath = options.unixSocket ? join(dir, "redis.sock") : undefined;
  }

  get caPath(): string | undefined {
    return this.certs?.caPath;
  }

  get url(): string {
    if (this.socketPath) return `redis+socket://${this.socketPath}`;
    return `${this.certs ? "rediss" : "redis"}://${this.host}:${this.port}`;
  }

  dbUrl(db: number): string {
    if (this.socketPath) return `${this.url}?virtual_host=${db}`;
    return `${this.url}/${db}`;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  logs(): string {
    const logFile = join(this.dir, "redis.log");
    const fileText = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    return `${fileText}${this.earlierOutput}${this.child?.output() ?? ""}`;
  }

  private args(port: number | undefined): string[] {
    const o = this.options;
    const args = ["--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "no"];
    args.push("--logfile", join(this.dir, "redis.log"), "--daemonize", "no");
    if (o.databases !== undefined) args.push("--databases", String(o.databases));
    if (this.socketPath) {
      args.push("--port", "0", "--unixsocket", this.socketPath, "--unixsocketperm", "700");
    } else if (this.certs) {
      // --tls-ca-cert-file is required even when client certs are not checked (redis-server refuses to start without it).
      args.push("--port", "0", "--tls-port", String(port));
      args.push("--tls-cert-file", this.certs.certPath, "--tls-key-file", this.certs.keyPath);
      args.push("--tls-ca-cert-file", this.certs.caPath);
      args.push("--tls-auth-clients", o.tlsAuthClients ? "yes" : "no");
    } else {
      args.push("--port", String(port));
    }
    args.push(...(o.extraArgs ?? []));
    return args;
  }

  private target(): RedisTarget {
    if (this.socketPath) return { kind: "unix", path: this.socketPath };
    if (this.certs) {
      return { kind: "tls", host: "localhost", port: this.port ?? 0, ca: readFileSync(this.certs.caPath) };
    }
    return { kind: "tcp", host: "127.0.0.1", port: this.port ?? 0 };
  }

  /** One spawn attempt; resolves false when the port was taken (exit 1 before PONG). */
  private async spawnOnce(): Promise<boolean> {
    if (this.child) this.earlierOutput += this.child.output();
    const child = new ChildHandle(REDIS_SERVER_BIN, this.args(this.port));
    this.child = child;
    const target = this.target();
    try {
      await waitUntil(`redis-server (${this.url})`, () => redisPing(target, 500), {
        timeoutMs: this.options.timeoutMs ?? 10_000,
        child,
      });
      return true;
    } catch (err) {
      await child.terminate("SIGKILL");
      if (child.exit?.code === 1 && /Address already in use/.test(this.logs())) return false;
      throw new Error(`${(err as Error).message}\n--- redis log ---\n${this.logs().slice(-4000)}`);
    }
  }

  async boot(): Promise<void> {
    if (!existsSync(REDIS_SERVER_BIN)) {
      throw new Error(
        `${REDIS_SERVER_BIN} not found. Run \`npm run setup\` (installs redis-server on Debian/Ubuntu), ` +
          "install redis-server 7+ yourself, or set CELERIAC_TEST_REDIS_URL.",
      );
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!this.socketPath) this.port = await freePort();
      if (await this.spawnOnce()) return;
    }
    throw new Error(`redis-server: no free port after 5 attempts\n${this.logs().slice(-4000)}`);
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    // Same port: redis sets SO_REUSEADDR, so TIME_WAIT does not block the rebind. Another
    // process could still grab the port meanwhile; retry briefly rather than move the port,
    // since the test's clients are pointed at it.
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await this.spawnOnce()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`redis-server: port ${this.port} stayed busy on restart\n${this.logs().slice(-4000)}`);
  }

  async stop(): Promise<void> {
    await this.child?.terminate("SIGTERM");
  }

  async kill(): Promise<void> {
    await this.child?.terminate("SIGKILL");
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a throwaway redis-server and resolves once it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options.tls && options.unixSocket) throw new Error("startRedis: choose tls or unixSocket, not both");
  const dir = makeTempDir("redis");
  const certs = options.tls === true ? makeTestCerts(join(dir)) : options.tls || undefined;
  const server = new RedisServerImpl(dir, options, certs);
  await server.boot();
  return server;
}
