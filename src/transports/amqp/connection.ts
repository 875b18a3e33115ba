import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Channel, ChannelModel, ConfirmChannel, Options } from "amqplib";
import { ConfigError, ConnectionLostError } from "../../errors.js";
import { loadDependency } from "../../optional-deps.js";
import { brokerReconnectPolicy, type ReconnectPolicy, RetrySchedule, sleepRef } from "../retry-policy.js";
import { guardHeaderFrames } from "./frame-guard.js";
import { type AmqpEndpoint, describeAmqpEndpoint, describeAmqpEndpoints } from "./url.js";
import { coalesceSocketWrites } from "./write-coalescing.js";

/**
 * One AMQP connection that heals itself (kombu `Connection.ensure_connection`
 * + Celery's consumer restart, done the Node way):
 *
 * - Every connection and every channel gets an `error` listener before any
 *   await: an unhandled `error` event on either kills the process
 *   (amqplib#649).
 * - Connect attempts are bounded (`connectTimeoutMs` covers TCP, TLS and the
 *   AMQP handshake).
 * - On connection loss it reconnects under the shared broker reconnect
 *   policy (`retry-policy.ts`: jittered exponential backoff,
 *   `broker_connection_retry` / `_retry_on_startup` / `_max_retries`), then
 *   runs the registered setup hooks in order (re-declare topology, re-create
 *   consumers) before anyone waiting on {@link AmqpConnection.model} gets
 *   the new connection. A `generation` number tells old channels from new.
 * - A connection that dies soon after it opened (within `stableMs`) counts
 *   as a failed attempt: it is reopened after the next backoff delay, with a
 *   log line, never at once in a tight loop.
 * - Every wait on the reconnect path keeps the event loop alive: a worker
 *   whose broker is down is reconnecting, not a process about to exit 0.
 * - When the policy gives up, the fatal listeners hear it once (the worker
 *   exits 1, as Celery's does).
 * - A failover list (`amqp://a;amqp://b`) is walked as kombu's `Connection`
 *   does (kombu/connection.py `ensure_connection` / `ensure`, 5.7.0): a failed
 *   attempt or a lost connection moves to the next node of
 *   `failoverStrategy` at once; the backoff delay is slept only when a whole
 *   round of nodes failed (`completes_cycle`). Every failed attempt counts
 *   toward `broker_connection_max_retries`, as in kombu.
 */
export type FailoverStrategy = "round-robin" | "shuffle";

export interface AmqpConnectionOptions {
  /** The first node to try. */
  endpoint: AmqpEndpoint;
  /** The whole failover list, `endpoint` first (default: `[endpoint]`). */
  endpoints?: readonly AmqpEndpoint[];
  /** kombu `failover_strategy` (Celery `broker_failover_strategy`), default "round-robin". */
  failoverStrategy?: FailoverStrategy;
  /** `broker_connection_*` (default: Celery's defaults). */
  policy?: ReconnectPolicy;
  /** A connection that lived less than this (ms) counts as a failed attempt (default 2000). */
  stableMs?: number;
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
    coalesceSocketWrites(model); // one socket write per turn, not one per frame
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

export class AmqpConnection {
  /** Every node of the failover list (one for a plain URL). */
  readonly endpoints: readonly AmqpEndpoint[];
  private at = 0;
  /** Failed attempts in the current outage, for kombu's `completes_cycle`. */
  private failedInOutage = 0;
  private readonly options: AmqpConnectionOptions;
  private state: State = "idle";
  private current: ChannelModel | null = null;
  private pending: Promise<ChannelModel> | null = null;
  private readonly hooks: SetupHook[] = [];
  private readonly fatalListeners = new Set<(err: ConnectionLostError) => void>();
  private readonly errorListeners = new Set<(err: Error) => void>();
  private gen = 0;
  private readonly schedule: RetrySchedule;
  private openedAt = 0;
  /** Wakes a backoff wait when the connection is closed meanwhile. */
  private readonly closing = new AbortController();

  constructor(options: AmqpConnectionOptions) {
    this.options = options;
    this.endpoints = options.endpoints?.length ? options.endpoints : [options.endpoint];
    this.schedule = new RetrySchedule(options.policy ?? brokerReconnectPolicy({}));
  }

  /** The node connected to now, or tried next. */
  get endpoint(): AmqpEndpoint {
    return this.endpoints[this.at] ?? this.options.endpoint;
  }

  /**
   * kombu `maybe_switch_next`: the next node of the failover strategy. Round-robin cycles
   * through the list; shuffle picks any node at random each time (kombu `shufflecycle`).
   */
  private switchNext(): void {
    const n = this.endpoints.length;
    if (n < 2) return;
    this.at = this.options.failoverStrategy === "shuffle" ? Math.floor(Math.random() * n) : (this.at + 1) % n;
  }

  /** Called once when reconnecting is over for good (the policy gave up). */
  onFatal(listener: (err: ConnectionLostError) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
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
    if (this.pending === null) {
      // A new caller after an outage that ended in failure gets a fresh set of retries (a
      // producer's next publish, as kombu's `ensure` per call); a worker has exited by then.
      if (this.state === "idle") this.schedule.resetAttempts();
      this.pending = this.establish();
    }
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
    for (const listener of [this.options.onError, ...this.errorListeners]) {
      try {
        listener?.(err);
      } catch {
        // a throwing logger must not break recovery
      }
    }
  }

  /** Also hear the errors recovered from (a worker's consumer logs its connection's retries). */
  onReport(listener: (err: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private async establish(): Promise<ChannelModel> {
    this.state = "connecting";
    for (;;) {
      const where = describeAmqpEndpoint(this.endpoint);
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
        this.openedAt = Date.now();
        this.failedInOutage = 0;
        return model;
      } catch (err) {
        if (err instanceof ConfigError) {
          this.failPending();
          throw err;
        }
        // openAmqpConnection already says "cannot connect to <url>": keep only the cause.
        const reason =
          err instanceof ConnectionLostError && err.cause instanceof Error
            ? err.cause.message
            : (err as Error).message;
        const closedMeanwhile = this.isClosing();
        const backoff = closedMeanwhile ? null : this.schedule.next();
        if (backoff === null) {
          this.failPending();
          const all =
            this.endpoints.length > 1 ? ` (failover list ${describeAmqpEndpoints(this.endpoints)})` : "";
          const lost = new ConnectionLostError(
            `Cannot connect to ${where}${all}: ${reason}; ${closedMeanwhile ? "the connection was closed" : this.schedule.describeStop()}`,
            { cause: err },
          );
          if (!closedMeanwhile) this.fatal(lost);
          throw lost;
        }
        // kombu on_error: sleep only once every node of the list failed in turn, then switch.
        this.failedInOutage += 1;
        const delay = this.failedInOutage % this.endpoints.length === 0 ? backoff : 0;
        this.switchNext();
        const max = this.schedule.maxRetries ?? "Inf";
        const next = this.endpoints.length > 1 ? ` at ${describeAmqpEndpoint(this.endpoint)}` : "";
        this.report(
          new ConnectionLostError(
            `Cannot connect to ${where}: ${reason}. Trying again${next} in ${(delay / 1000).toFixed(2)}s (${this.schedule.attempts}/${max})`,
            { cause: err },
          ),
        );
        // A hook failed on a live connection: drop it and start over.
        const half = this.current;
        this.current = null;
        if (half) await half.close().catch(() => {});
        await sleepRef(delay, this.closing.signal);
      }
    }
  }

  private isClosing(): boolean {
    return this.state === "closing" || this.state === "closed";
  }

  private fatal(err: ConnectionLostError): void {
    for (const listener of [...this.fatalListeners]) {
      try {
        listener(err);
      } catch {
        // a listener must not break the others
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
    const lived = Date.now() - this.openedAt;
    const stable = lived >= (this.options.stableMs ?? 2000);
    // A connection that held: this loss starts a new outage. One that died at once (a broker
    // closing it on purpose, a flapping network) counts as a failed attempt of the same outage.
    if (stable) this.schedule.succeeded();
    const delay = stable ? 0 : this.schedule.next();
    const where = describeAmqpEndpoint(this.endpoint);
    // kombu `ensure`: a connection error selects the next node before reconnecting.
    this.switchNext();
    if (delay === null) {
      const lost = new ConnectionLostError(
        `AMQP connection to ${where} lost ${lived} ms after it opened; ${this.schedule.describeStop()}`,
      );
      this.report(lost);
      this.fatal(lost);
      return;
    }
    this.report(
      new ConnectionLostError(
        delay === 0
          ? `AMQP connection to ${where} lost; reconnecting${this.endpoints.length > 1 ? ` to ${describeAmqpEndpoint(this.endpoint)}` : ""}`
          : `AMQP connection to ${where} lost ${lived} ms after it opened; reconnecting in ${(delay / 1000).toFixed(2)}s (${this.schedule.attempts}/${this.schedule.maxRetries ?? "Inf"})`,
      ),
    );
    // Reconnect in the background so consumers come back without anyone asking.
    this.pending ??= sleepRef(delay, this.closing.signal).then(() => this.establish());
    this.pending.catch((err: Error) => this.report(err));
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closing";
    this.closing.abort();
    const model = this.current;
    this.current = null;
    if (model) await model.close().catch(() => {});
    this.state = "closed";
  }
}
