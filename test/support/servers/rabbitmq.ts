/**
 * Throwaway RabbitMQ nodes for tests:
 *
 * - The real scripts in /usr/lib/rabbitmq/bin, never the /usr/sbin wrappers (they `su rabbitmq`).
 * - Every node gets its own name, data dir, HOME (Erlang cookie), AMQP port, dist port
 *   (RABBITMQ_DIST_PORT is always set: the default NODE_PORT+20000 breaks above 45535) and a
 *   private epmd on ERL_EPMD_PORT.
 * - We start that epmd ourselves as a direct child (`epmd -port P`, foreground) and pass
 *   `-start_epmd false`, so Erlang never daemonizes an epmd that PID 1 would have to reap.
 * - The rabbitmq-server script, run with no input, forks `erl` and forwards SIGTERM to it, so
 *   beam is a grandchild that the script itself waits for: stopping the script stops beam cleanly.
 * - Ready = an AMQP handshake succeeds (the port opens right before readiness; the launcher exits
 *   with status 0 even when boot fails, so the exit code cannot be trusted).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as amqpConnect } from "amqplib";
import { freePort, makeTempDir } from "../ports.js";
import { ChildHandle, registerExitCleanup, tcpAccepts, waitUntil } from "../process.js";
import type { TestCerts } from "../tls.js";

export const RABBITMQ_BIN_DIR = process.env.CELERIAC_RABBITMQ_BIN_DIR ?? "/usr/lib/rabbitmq/bin";
const EPMD_BIN = process.env.CELERIAC_EPMD ?? "epmd";

export interface RabbitMqOptions {
  /** Also open an amqps listener on 127.0.0.1 signed by this CA (see makeTestCerts). */
  tls?: TestCerts;
  /** Boot timeout per start; default 60 s (a cold boot takes 3.5-6.5 s on 2 shared cores). */
  timeoutMs?: number;
  /**
   * A member of a cluster (servers/rabbitmq-cluster.ts): the cluster's epmd (started by the
   * cluster, so this node starts none), its Erlang cookie and a node name prefix.
   */
  cluster?: { epmdPort: number; cookie: string; namePrefix: string };
}

export interface CtlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RabbitMqServer {
  /** `amqp://guest:guest@127.0.0.1:P` (default vhost "/"; kombu and amqplib both accept it). */
  readonly url: string;
  readonly port: number;
  /** `amqps://guest:guest@localhost:T` when started with `tls`. */
  readonly tlsUrl: string | undefined;
  readonly tlsPort: number | undefined;
  readonly caPath: string | undefined;
  readonly nodeName: string;
  readonly dir: string;
  readonly running: boolean;
  /** Foreground output of the node plus its log file. */
  logs(): string;
  /** Runs `rabbitmqctl -n <node> ...args` with the node's HOME/epmd; rejects on non-zero exit. */
  ctl(args: readonly string[]): Promise<CtlResult>;
  /** Clean shutdown (SIGTERM), waits for exit. Data (durable queues, persistent messages) is kept. */
  stop(): Promise<void>;
  /** SIGKILL of the Erlang VM (a crash), waits for exit. Data on disk is kept. */
  kill(): Promise<void>;
  /** Starts the same node again (same name, ports, data dir) and waits until AMQP answers. */
  start(): Promise<void>;
  /** Stops the node and its epmd and removes the temp dir. */
  dispose(): Promise<void>;
}

/** Env for both the server and the CLI; inherited RABBITMQ_ and ERL_ settings are dropped. */
function nodeEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("RABBITMQ_") && !key.startsWith("ERL_")) env[key] = value;
  }
  return { ...env, ...vars };
}

async function amqpHandshake(url: string): Promise<boolean> {
  try {
    const connection = await amqpConnect(url, { timeout: 2000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

class RabbitMqServerImpl implements RabbitMqServer {
  readonly nodeName: string;
  private env: NodeJS.ProcessEnv = {};
  private server: ChildHandle | undefined;
  private epmd: ChildHandle | undefined;
  private earlierOutput = "";
  port = 0;
  tlsPort: number | undefined;

  constructor(
    readonly dir: string,
    private readonly options: RabbitMqOptions,
  ) {
    this.nodeName = `${options.cluster?.namePrefix ?? "cx"}${process.pid}x${Math.random().toString(36).slice(2, 8)}@localhost`;
    // Registered before the script's own handle, so beam dies first and is not orphaned.
    registerExitCleanup(() => {
      if (this.running) this.killBeamNow();
    });
  }

  /** SIGKILL of the Erlang VM, by the pid it wrote; the script then reaps it. */
  private killBeamNow(): void {
    const pidFile = join(this.dir, "pid");
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : Number.NaN;
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string | undefined {
    return this.tlsPort === undefined ? undefined : `amqps://guest:guest@localhost:${this.tlsPort}`;
  }

  get caPath(): string | undefined {
    return this.options.tls?.caPath;
  }

  get running(): boolean {
    return this.server?.running ?? false;
  }

  logs(): string {
    const logFile = join(this.dir, "log", `${this.nodeName}.log`);
    const fileText = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    return `${this.earlierOutput}${this.server?.output() ?? ""}\n--- ${logFile} ---\n${fileText}`;
  }

  /** Picks ports and writes config; called again only if the first boot lost a port race. */
  private async configure(): Promise<void> {
    const d = this.dir;
    for (const sub of ["home", "log", "mnesia"]) mkdirSync(join(d, sub), { recursive: true });
    this.port = await freePort();
    const distPort = await freePort();
    const epmdPort = this.options.cluster?.epmdPort ?? (await freePort());
    const tls = this.options.tls;
    this.tlsPort = tls ? await freePort() : undefined;
    writeFileSync(join(d, "enabled_plugins"), "[].\n");
    if (this.options.cluster) {
      // Every member needs the same cookie; Erlang insists the file is private to its owner.
      writeFileSync(join(d, "home", ".erlang.cookie"), this.options.cluster.cookie, { mode: 0o400 });
    }
    writeFileSync(join(d, "rabbitmq-env.conf"), "");
    const conf = ["log.file.level = info", "log.console = true", "log.console.level = info"];
    if (tls) {
      // A bare port would bind [::]; keep every listener on loopback.
      conf.push(
        `listeners.ssl.default = 127.0.0.1:${this.tlsPort}`,
        `ssl_options.cacertfile = ${tls.caPath}`,
        `ssl_options.certfile = ${tls.certPath}`,
        `ssl_options.keyfile = ${tls.keyPath}`,
        "ssl_options.verify = verify_none",
        "ssl_options.fail_if_no_peer_cert = false",
      );
    }
    writeFileSync(join(d, "rabbitmq.conf"), `${conf.join("\n")}\n`);
    this.env = nodeEnv({
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(d, "mnesia"),
      RABBITMQ_LOG_BASE: join(d, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: join(d, "rabbitmq.conf"),
      RABBITMQ_CONF_ENV_FILE: join(d, "rabbitmq-env.conf"),
      RABBITMQ_PID_FILE: join(d, "pid"),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
      HOME: join(d, "home"),
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: "127.0.0.1",
      ERL_CRASH_DUMP: join(d, "erl_crash.dump"),
    });
  }

  private async startEpmd(): Promise<void> {
    const port = Number(this.env.ERL_EPMD_PORT);
    this.epmd = new ChildHandle(EPMD_BIN, ["-port", String(port)], { env: this.env });
    await waitUntil(`epmd on port ${port}`, () => tcpAccepts(port), { timeoutMs: 10_000, child: this.epmd });
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.server) this.earlierOutput += this.server.output();
    if (!this.options.cluster && !this.epmd?.running) await this.startEpmd();
    const server = new ChildHandle(join(RABBITMQ_BIN_DIR, "rabbitmq-server"), [], {
      env: this.env,
      cwd: this.dir,
    });
    this.server = server;
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    await waitUntil(
      `rabbitmq-server ${this.nodeName} (AMQP port ${this.port})`,
      async () => (await tcpAccepts(this.port)) && (await amqpHandshake(this.url)),
      { timeoutMs, intervalMs: 100, child: server },
    );
  }

  async boot(): Promise<void> {
    const script = join(RABBITMQ_BIN_DIR, "rabbitmq-server");
    if (!existsSync(script)) {
      throw new Error(
        `${script} not found. Run \`npm run setup\` (installs rabbitmq-server on Debian/Ubuntu), ` +
          "install rabbitmq-server 3.10+ yourself, or set CELERIAC_TEST_AMQP_URL.",
      );
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.configure();
      try {
        await this.start();
        return;
      } catch (err) {
        lastError = err;
        await this.shutdownProcesses("SIGKILL");
        // A lost port race shows up as a boot failure; a missing binary or bad config will not
        // go away on retry, so only retry when the log names an address problem.
        if (!/eaddrinuse|already.in.use|dist_port_already_used/i.test(`${String(err)}${this.logs()}`)) break;
      }
    }
    throw lastError;
  }

  async ctl(args: readonly string[]): Promise<CtlResult> {
    let stdout = "";
    let stderr = "";
    const cli = new ChildHandle(join(RABBITMQ_BIN_DIR, "rabbitmqctl"), ["-n", this.nodeName, ...args], {
      env: this.env,
      cwd: this.dir,
      onOutput: (text, stream) => {
        if (stream === "stdout") stdout += text;
        else stderr += text;
      },
    });
    const exit = await cli.exited;
    const result = { code: exit.code, stdout, stderr };
    if (exit.code !== 0) {
      throw new Error(`rabbitmqctl ${args.join(" ")} ${cli.describeExit()}\n${stdout}\n${stderr}`);
    }
    return result;
  }

  async stop(): Promise<void> {
    // The script's TERM trap stops beam and waits for it; escalate only if that hangs.
    await this.server?.terminate("SIGTERM", 30_000);
  }

  async kill(): Promise<void> {
    if (!this.server?.running) return;
    // Kill beam itself, not the script: the script then reaps it and exits. Killing the script
    // would orphan beam.
    this.killBeamNow();
    await this.server.terminate("SIGKILL", 10_000);
  }

  private async shutdownProcesses(signal: NodeJS.Signals): Promise<void> {
    if (signal === "SIGKILL") await this.kill();
    else await this.stop();
    await this.epmd?.terminate("SIGTERM", 5_000);
  }

  async dispose(): Promise<void> {
    await this.shutdownProcesses("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Boots a fresh RabbitMQ node (about 3.5-6.5 s) and resolves once an AMQP handshake works. */
export async function startRabbitMq(options: RabbitMqOptions = {}): Promise<RabbitMqServer> {
  const server = new RabbitMqServerImpl(makeTempDir("rmq"), options);
  try {
    await server.boot();
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return server;
}
