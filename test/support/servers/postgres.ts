/**
 * Throwaway PostgreSQL servers for tests (Debian's `postgresql` package, 15 on the reference box).
 *
 * - `initdb` into a fresh temp dir (trust auth, UTF8, no fsync), then `postgres -D dir` in the
 *   foreground as a direct child of the test process, listening on 127.0.0.1:P with its unix
 *   socket in the data dir (never /var/run/postgresql, which belongs to the packaged cluster).
 * - PostgreSQL refuses to run as root ("root" execution of the PostgreSQL server is not
 *   permitted). When we are root, both initdb and postgres are spawned with the uid/gid of the
 *   `postgres` account the Debian package creates (the data dir is chowned to it); no `su`, no
 *   `pg_ctl` daemon, so the server stays our child and dies with us.
 * - Ready = a `pg` client connects and `SELECT 1` answers. A port taken between `freePort()` and
 *   the bind makes postgres exit with "could not bind"; we retry on another port.
 * - Stop = SIGINT ("fast" shutdown: disconnect clients, checkpoint, exit).
 */
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { freePort, makeTempDir } from "../ports.js";
import { ChildHandle, waitUntil } from "../process.js";

/** Directory of initdb/postgres: CELERIAC_POSTGRES_BIN_DIR, else the newest /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string | undefined {
  if (process.env.CELERIAC_POSTGRES_BIN_DIR) return process.env.CELERIAC_POSTGRES_BIN_DIR;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], "bin");
}

export interface PostgresServer {
  /** `postgresql://postgres@127.0.0.1:P/postgres` (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  /** URL of one database on this server. */
  dbUrl(database: string): string;
  logs(): string;
  /** Fast shutdown (SIGINT), waits for exit; the data dir is kept. */
  stop(): Promise<void>;
  /** Starts again on the same port and data dir. */
  start(): Promise<void>;
  /** Stops and removes the data dir. */
  dispose(): Promise<void>;
}

/** uid/gid to run the server as: the `postgres` account when we are root, else ourselves. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const passwd = readFileSync("/etc/passwd", "utf8");
  const line = passwd.split("\n").find((l) => l.startsWith("postgres:"));
  const fields = line?.split(":");
  if (!fields || fields.length < 4) {
    throw new Error(
      "PostgreSQL will not run as root and there is no `postgres` user to run it as. " +
        "Install Debian's postgresql package (`npm run setup` does), or set CELERIAC_TEST_POSTGRES_URL.",
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

async function selectOne(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: "postgres",
    connectionTimeoutMillis: 1000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

class PostgresServerImpl implements PostgresServer {
  port = 0;
  private child: ChildHandle | undefined;
  private earlierOutput = "";

  constructor(
    readonly dir: string,
    private readonly bin: string,
    private readonly identity: { uid: number; gid: number } | undefined,
  ) {}

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get url(): string {
    return this.dbUrl("postgres");
  }

  dbUrl(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  logs(): string {
    return `${this.earlierOutput}${this.child?.output() ?? ""}`;
  }

  async initdb(): Promise<void> {
    if (this.identity) chownSync(this.dir, this.identity.uid, this.identity.gid);
    const init = new ChildHandle(
      join(this.bin, "initdb"),
      ["-D", this.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
      { cwd: this.dir, ...(this.identity ?? {}) },
    );
    const exit = await init.exited;
    if (exit.code !== 0) {
      throw new Error(`initdb ${init.describeExit()}:\n${init.output().slice(-4000)}`);
    }
  }

  /** One spawn attempt; false when the port was taken. */
  private async spawnOnce(): Promise<boolean> {
    if (this.child) this.earlierOutput += this.child.output();
    const child = new ChildHandle(
      join(this.bin, "postgres"),
      [
        "-D",
        this.dataDir,
        "-p",
        String(this.port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${this.dir}`,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=32MB",
      ],
      { cwd: this.dir, ...(this.identity ?? {}) },
    );
    this.child = child;
    try {
      await waitUntil(`postgres (port ${this.port})`, () => selectOne(this.port), {
        timeoutMs: 30_000,
        intervalMs: 50,
        child,
      });
      return true;
    } catch (err) {
      await child.terminate("SIGKILL");
      if (/could not bind|Address already in use/.test(child.output())) return false;
      throw err;
    }
  }

  async boot(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = await freePort();
      if (await this.spawnOnce()) return;
    }
    throw new Error(`postgres: no free port after 5 attempts\n${this.logs().slice(-4000)}`);
  }

  async start(): Promise<void> {
    if (this.running) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await this.spawnOnce()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`postgres: port ${this.port} stayed busy on restart\n${this.logs().slice(-4000)}`);
  }

  async stop(): Promise<void> {
    await this.child?.terminate("SIGINT", 10_000);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** initdb + postgres on a free port; resolves once `SELECT 1` answers (~1-2 s on the reference box). */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin || !existsSync(join(bin, "postgres"))) {
    throw new Error(
      "PostgreSQL server binaries not found under /usr/lib/postgresql/<major>/bin. Run `npm run setup` " +
        "(installs Debian's postgresql package), set CELERIAC_POSTGRES_BIN_DIR, or set CELERIAC_TEST_POSTGRES_URL.",
    );
  }
  const server = new PostgresServerImpl(makeTempDir("pg"), bin, serverIdentity());
  try {
    await server.initdb();
    await server.boot();
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return server;
}
