import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Channel, ChannelModel, ConfirmChannel, Options } from "amqplib";
import { ConfigError, ConnectionLostError } from "../../errors.js";
import { loadDependency } from "../../optional-deps.js";
import { guardHeaderFrames } from "./frame-guard.js";
import { type AmqpEndpoint, describeAmqpEndpoint } from "./url.js";

/**
 * One AMQP connection that heals itself (kombu `Connection.ensure_connection`
 * + Celery's consumer restart, done the Node way):
 *
 * - Every connection and every channel gets an `error` listener before any
 *   await: an unhandled `error` event on either kills the process
 *   (amqplib#649).
 * - Connect attempts are bounded (`connectTimeoutMs` covers TCP, TLS and the
 *   AMQP handshake).
 * - On connection loss it reconnects with exponential backoff
 *   (`broker_connection_max_retries` attempts; unlimited when null), then runs
 *   the registered setup hooks in order (re-declare topology, re-create
 *   consumers) before anyone waiting on {@link AmqpConnection.model} gets
 *   the new connection. A `generation` number tells old channels from new.
 */
export interface AmqpConnectionOptions {
  endpoint: AmqpEndpoint;
  /** `broker_connection_retry`: reconnect after a loss (default true). */
  reconnect?: boolean;
  /** Attempts per outage (`broker_connection_max_retries`, default 100); null = forever. */
  maxRetries?: number | null;
  /** Backoff in ms: first delay, cap and factor (kombu `interval_start/step/max` in spirit). */
  backoff?: { initialMs?: number; maxMs?: number; factor?: number };
  /** Shown in RabbitMQ's connection list (`connection_name`). */
  connectionName?: string;
  /** Errors recovered from (connection/channel losses); the caller logs them. */
  onError?: (err: Error) => void;
}

export type SetupHook = (model: ChannelModel, generation: number) => Promise<void>;

type State = "idle" | "connecting" | "open" | "closing" | "closed";

function tlsSocketOptions(endpoint: AmqpEndpoint): TlsConnectionOptions {
  const tls = endpoint.tls;
  if (tls === null) return {};
  const read = (option: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(option, `cannot read ${option} file ${path}: ${(err as Error).message}`);
    }
  };
  const out: TlsConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  const ca = tls.ca ?? (tls.caPath ? read("ssl_ca_certs", tls.caPath) : undefined);
  const cert = tls.cert ?? (tls.certPath ? read("ssl_certfile", tls.certPath) : undefined);
  const key = tls.key ?? (tls.keyPath ? read("ssl_keyfile", tls.keyPath) : undefined);
  if (ca !== undefined) out.ca = [ca];
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  const servername = tls.servername ?? (/^[\d.:]+$/.test(endpoint.hostname) ? undefined : endpoint.hostname);
  if (servername !== undefined) out.servername = servername;
  return out;
}

/** Opens one amqplib connection with an error listener attached and a bounded handshake. */
export async function openAmqpConnection(
  endpoint: AmqpEndpoint,
  connectionName?: string,
): Promise<ChannelModel> {
  const target: Options.Connect = {
    protocol: endpoint.tls ? "amqps" : "amqp",
    hostname: endpoint.hostname,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    vhost: endpoint.vhost,
    heartbeat: endpoint.heartbeat,
    frameMax: endpoint.frameMax,
  };
  const socketOptions = {
    ...tlsSocketOptions(endpoint),
    timeout: endpoint.connectTimeoutMs,
    noDelay: true,
    clientProperties: { connection_name: connectionName ?? "celeriac", product: "celeriac" },
  };
  let timer: NodeJS.Timeout | undefined;
  // amqplib loads with the first AMQP connection, so a Redis-only app never loads it.
  const { connect } = loadDependency<typeof import("amqplib")>("amqplib", "An amqp:// broker");
  const attempt = connect(target, socketOptions);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConnectionLostError(
            `AMQP connect to ${describeAmqpEndpoint(endpoint)} timed out after ${endpoint.connectTimeoutMs} ms`,
          ),
        ),
      endpoint.connectTimeoutMs + 500,
    );
  });
  try {
    const model = await Promise.race([attempt, timeout]);
    guardHeaderFrames(model); // an undecodable headers table costs one message, not the connection
    model.on("error", () => {}); // real handling is in AmqpConnection; never let it throw
    return model;
  } catch (err) {
    // A late success after our timeout must not leak a connection.
    attempt.then((m) => m.close().catch(() => {})).catch(() => {});
    if (err instanceof ConnectionLostError) throw err;
    throw new ConnectionLostError(
      `cannot connect to ${describeAmqpEndpoint(endpoint)}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class AmqpConnection {
  readonly endpoint: AmqpEndpoint;
  private readonly options: AmqpConnectionOptions;
  private state: State = "idle";
  private current: ChannelModel | null = null;
  private pending: Promise<ChannelModel> | null = null;
  private readonly hooks: SetupHook[] = [];
  private gen = 0;

  constructor(options: AmqpConnectionOptions) {
    this.options = options;
    this.endpoint = options.endpoint;
  }

  /** Increments on every successful (re)connect. */
  get generation(): number {
    return this.gen;
  }

  get isOpen(): boolean {
    return this.state === "open" && this.current !== null;
  }

  /** Runs after every (re)connect, in registration order, before {@link model} resolves. */
  addSetupHook(hook: SetupHook): void {
    this.hooks.push(hook);
  }

  removeSetupHook(hook: SetupHook): void {
    const i = this.hooks.indexOf(hook);
    if (i >= 0) this.hooks.splice(i, 1);
  }

  /** The open connection; connects (or waits for the reconnect) when needed. */
  model(): Promise<ChannelModel> {
    if (this.state === "closing" || this.state === "closed") {
      return Promise.reject(new ConnectionLostError("the AMQP connection is closed"));
    }
    if (this.current !== null && this.state === "open") return Promise.resolve(this.current);
    this.pending ??= this.establish(this.gen === 0 ? "connect" : "reconnect");
    return this.pending;
  }

  /** A channel on `model` with an error listener (for setup hooks, which must not call {@link channel}). */
  async openChannel(model: ChannelModel, confirm: false): Promise<Channel>;
  async openChannel(model: ChannelModel, confirm: true): Promise<ConfirmChannel>;
  async openChannel(model: ChannelModel, confirm: boolean): Promise<Channel | ConfirmChannel> {
    const channel = confirm ? await model.createConfirmChannel() : await model.createChannel();
    channel.on("error", (err: Error) => this.report(err));
    return channel;
  }

  /** A channel with an error listener; `confirm` for publisher confirms. */
  async channel(confirm: false): Promise<{ channel: Channel; generation: number }>;
  async channel(confirm: true): Promise<{ channel: ConfirmChannel; generation: number }>;
  async channel(confirm: boolean): Promise<{ channel: Channel | ConfirmChannel; generation: number }> {
    const model = await this.model();
    const generation = this.gen;
    const channel = confirm ? await this.openChannel(model, true) : await this.openChannel(model, false);
    return { channel, generation };
  }

  private report(err: Error): void {
    try {
      this.options.onError?.(err);
    } catch {
      // a throwing logger must not break recovery
    }
  }

  private async establish(reason: "connect" | "reconnect"): Promise<ChannelModel> {
    this.state = "connecting";
    const backoff = this.options.backoff ?? {};
    const initial = backoff.initialMs ?? 100;
    const max = backoff.maxMs ?? 5000;
    const factor = backoff.factor ?? 2;
    const maxRetries = this.options.maxRetries === undefined ? 100 : this.options.maxRetries;
    let attempt = 0;
    let delay = initial;
    for (;;) {
      if (this.state !== "connecting")
        throw new ConnectionLostError("the AMQP connection was closed while connecting");
      try {
        const model = await openAmqpConnection(this.endpoint, this.options.connectionName);
        if (this.state !== "connecting") {
          await model.close().catch(() => {});
          throw new ConnectionLostError("the AMQP connection was closed while connecting");
        }
        this.gen += 1;
        const generation = this.gen;
        model.on("error", (err: Error) => this.report(err));
        model.on("close", () => this.onClose(model, generation));
        this.current = model;
        for (const hook of [...this.hooks]) await hook(model, generation);
        if (this.current !== model) throw new ConnectionLostError("the AMQP connection closed during set-up");
        this.state = "open";
        this.pending = null;
        return model;
      } catch (err) {
        if (err instanceof ConfigError) {
          this.failPending();
          throw err;
        }
        attempt += 1;
        const exhausted = maxRetries !== null && attempt > maxRetries;
        if (
          this.state !== "connecting" ||
          exhausted ||
          (reason === "reconnect" && this.options.reconnect === false)
        ) {
          this.failPending();
          throw err instanceof ConnectionLostError
            ? err
            : new ConnectionLostError(`AMQP ${reason} failed: ${(err as Error).message}`, { cause: err });
        }
        this.report(err as Error);
        // A hook failed on a live connection: drop it and start over.
        const half = this.current;
        this.current = null;
        if (half) await half.close().catch(() => {});
        await sleep(delay);
        delay = Math.min(max, delay * factor);
      }
    }
  }

  private failPending(): void {
    this.pending = null;
    if (this.state === "connecting") this.state = "idle";
  }

  private onClose(model: ChannelModel, generation: number): void {
    if (this.current !== model || generation !== this.gen) return;
    this.current = null;
    // During set-up the establish loop sees the failure and retries by itself.
    if (this.state === "closing" || this.state === "closed" || this.state === "connecting") return;
    this.state = "idle";
    this.report(new ConnectionLostError(`AMQP connection to ${describeAmqpEndpoint(this.endpoint)} lost`));
    if (this.options.reconnect === false) return;
    // Reconnect in the background so consumers come back without anyone asking.
    this.model().catch((err: Error) => this.report(err));
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closing";
    const model = this.current;
    this.current = null;
    if (model) await model.close().catch(() => {});
    this.state = "closed";
  }
}
