import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis, RedisOptions } from "ioredis";
import type { RetryPolicy, TlsSettings } from "../../config-values.js";
import { ConfigError, ConnectionLostError } from "../../errors.js";
import { loadDependency } from "../../optional-deps.js";
import { describeEndpoint, type RedisEndpoint } from "./url.js";

/**
 * The one place that opens ioredis connections, for the broker transport
 * (producer, consumer's blocking BRPOP connection, fanout subscriber) and the
 * result backend (commands + the shared pub/sub subscriber).
 *
 * Failure policy (mirrors kombu `Connection.ensure` / Celery's
 * `broker_connection_*` + `task_publish_retry_policy`): ioredis keeps
 * reconnecting in the background with a capped backoff, but a command issued
 * while the server is down fails after one reconnect attempt
 * (`maxRetriesPerRequest: 1`) instead of waiting in the offline queue forever;
 * callers then retry under their own bounded policy ({@link withRetry}) and
 * surface a {@link ConnectionLostError}. Nothing waits forever.
 */
export interface RedisConnectionOptions {
  /** Seconds for the TCP/TLS connect (Celery `broker_connection_timeout`, default 4). */
  connectTimeout?: number;
  /** Background reconnect attempts before giving up (Celery `broker_connection_max_retries`, default 100). */
  maxReconnects?: number;
  /** Turn background reconnection off (Celery `broker_connection_retry=False`). */
  reconnect?: boolean;
  /** Client name shown by `CLIENT LIST`. */
  connectionName?: string;
  /** ioredis auto-pipelining: commands issued in one tick go out in one write. */
  autoPipelining?: boolean;
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(
      option,
      `${option}: cannot read ${JSON.stringify(path)}: ${(cause as Error).message}`,
    );
  }
}

/** Node TLS options from Celery's `ssl_*` settings (redis-py `SSLConnection` semantics). */
export function tlsOptions(tls: TlsSettings, host: string): NonNullable<RedisOptions["tls"]> {
  const out: NonNullable<RedisOptions["tls"]> = {};
  const ca = tls.ca ?? (tls.sslCaCerts ? readPem("ssl_ca_certs", tls.sslCaCerts) : undefined);
  const cert = tls.cert ?? (tls.sslCertfile ? readPem("ssl_certfile", tls.sslCertfile) : undefined);
  const key = tls.key ?? (tls.sslKeyfile ? readPem("ssl_keyfile", tls.sslKeyfile) : undefined);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  // CERT_NONE: no verification. CERT_OPTIONAL verifies a certificate the server presents,
  // and a server always presents one, so it behaves as CERT_REQUIRED (as in Python's ssl).
  out.rejectUnauthorized = tls.sslCertReqs !== "none";
  const servername = tls.servername ?? (host && !/^[\d.:]+$/.test(host) ? host : undefined);
  if (servername !== undefined) out.servername = servername;
  return out;
}

/** ioredis options for an endpoint. */
export function redisOptions(endpoint: RedisEndpoint, options: RedisConnectionOptions = {}): RedisOptions {
  const maxReconnects = options.maxReconnects ?? 100;
  const reconnect = options.reconnect ?? true;
  const out: RedisOptions = {
    db: endpoint.db,
    lazyConnect: true,
    connectTimeout: Math.max(1, Math.round((options.connectTimeout ?? 4) * 1000)),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    // kombu backs off 0..1 s between connection attempts; cap at 1 s, give up after maxReconnects.
    retryStrategy: (times: number) =>
      !reconnect || times > maxReconnects ? null : Math.min(times * 100, 1000),
  };
  if (endpoint.kind === "unix") out.path = endpoint.path ?? undefined;
  else if (endpoint.sentinel) {
    // ioredis asks the Sentinels for the master on every (re)connect, as redis-py's
    // SentinelManagedConnection does for kombu; a demoted master drops its clients, so a
    // failover is a reconnect that lands on the promoted replica.
    const { sentinels, masterName, sentinelKwargs } = endpoint.sentinel;
    out.sentinels = sentinels.map(({ host, port }) => ({ host, port }));
    out.name = masterName;
    if (sentinelKwargs?.username) out.sentinelUsername = sentinelKwargs.username;
    if (sentinelKwargs?.password) out.sentinelPassword = sentinelKwargs.password;
    // One round over the Sentinels per connect attempt; the bounded retryStrategy above
    // paces the next round, so "no Sentinel answers" ends like "server down" does.
    out.sentinelRetryStrategy = () => null;
  } else {
    out.host = endpoint.host;
    out.port = endpoint.port;
  }
  if (endpoint.username) out.username = endpoint.username;
  if (endpoint.password) out.password = endpoint.password;
  if (endpoint.tls) out.tls = tlsOptions(endpoint.tls, endpoint.host);
  if (options.connectionName) out.connectionName = options.connectionName;
  return out;
}

/** Opens (lazily) one ioredis client. The caller owns it and must `quit()`/`disconnect()` it. */
export function createRedisClient(endpoint: RedisEndpoint, options: RedisConnectionOptions = {}): Redis {
  // ioredis loads with the first Redis client, so an AMQP + rpc:// app never loads it.
  const { Redis } = loadDependency<typeof import("ioredis")>("ioredis", "A Redis broker or result backend");
  const client = new Redis(redisOptions(endpoint, options));
  // Errors are reported to callers through rejected commands; without a listener
  // ioredis would print every reconnect failure as an unhandled 'error'. The listener
  // sees an AUTH/HELLO failure before the command it fails does, so it redacts it.
  client.on("error", redactCredentials);
  return client;
}

/**
 * ioredis's ReplyError for a failed `HELLO 3 AUTH user pass` / `AUTH pass`
 * keeps the command, password included, in `err.command.args`, which any
 * logger or `util.inspect` prints. Blank the arguments in place (the same
 * object rejects the pending commands).
 */
export function redactCredentials(err: unknown): void {
  const command = (err as { command?: { name?: unknown; args?: unknown } } | null)?.command;
  if (!command || !/^(hello|auth|migrate)$/i.test(String(command.name)) || !Array.isArray(command.args))
    return;
  command.args = command.args.map(() => "**");
}

/** The server refused our credentials (WRONGPASS, NOAUTH, or an AUTH/HELLO reply error). */
export function isAuthError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const command = (err as { command?: { name?: unknown } }).command;
  return (
    /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message) ||
    /invalid password|without any password configured/i.test(err.message) ||
    (err.name === "ReplyError" && /^(hello|auth)$/i.test(String(command?.name ?? "")))
  );
}

/** A clear error naming the URL (password masked) for a refused login; the raw reply is redacted. */
export function authFailed(what: string, endpoint: RedisEndpoint, err: Error): ConnectionLostError {
  redactCredentials(err);
  return new ConnectionLostError(
    `${what}: Redis at ${describeEndpoint(endpoint)} refused the credentials: ${err.message}`,
    { cause: err },
  );
}

/** True for errors that mean "the server was not reachable" (retrying may help), not Redis reply errors. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ConnectionLostError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === "ReplyError") return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^(E[A-Z]+|ERR_SSL|ERR_TLS|CERT_|DEPTH_|UNABLE_TO|SELF_SIGNED)/.test(code))
    return true;
  return (
    err.name === "MaxRetriesPerRequestError" ||
    /Connection is closed|Stream isn't writeable|All sentinels are unreachable|connect ETIMEDOUT|Connection timeout|Socket closed|Command timed out/i.test(
      err.message,
    )
  );
}

/** Seconds to wait before retry number `attempt` (0-based), kombu `retry_over_time` intervals. */
export function retryInterval(policy: Required<RetryPolicy>, attempt: number): number {
  return Math.min(policy.intervalStart + attempt * policy.intervalStep, policy.intervalMax);
}

/**
 * Runs `operation`, retrying connection errors under `policy` (bounded), and
 * rejects with a {@link ConnectionLostError} naming `endpoint` when the
 * retries run out. Non-connection errors are rethrown at once.
 */
export async function withRetry<T>(
  what: string,
  endpoint: RedisEndpoint,
  policy: Required<RetryPolicy> | null,
  operation: (attempt: number) => Promise<T>,
): Promise<T> {
  const maxRetries = policy?.maxRetries ?? 0;
  let lastError: unknown;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      if (err instanceof ClientClosedError) throw err;
      if (isAuthError(err)) throw authFailed(what, endpoint, err as Error);
      if (!isConnectionError(err)) throw err;
      lastError = err;
      if (attempt < maxRetries && policy) {
        const wait = retryInterval(policy, attempt);
        if (wait > 0) await sleep(wait * 1000);
      }
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new ConnectionLostError(
    `${what}: cannot reach Redis at ${describeEndpoint(endpoint)} after ${maxRetries + 1} attempt(s): ${reason}`,
    { cause: lastError },
  );
}

/**
 * Clients closed on purpose (`close()` of the transport, backend, consumer...). ioredis ends
 * such a client in the same `end` status as one whose reconnects were given up, and
 * {@link ensureConnecting} reopens an `end` client; a command still retrying when its owner
 * closed would then open a connection nobody owns and keep the process alive.
 */
const closedClients = new WeakSet<Redis>();

/**
 * A command reached a client its owner already closed (a read or publish racing `close()`).
 * Never retried by {@link withRetry}, never a reason to reconnect.
 */
export class ClientClosedError extends ConnectionLostError {}

/** Closes `client` for good: QUIT when connected (pending replies arrive first), else disconnect. */
export async function closeClient(client: Redis): Promise<void> {
  closedClients.add(client);
  if (client.status === "ready") await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

/** Drops `client` for good at once (no QUIT round trip), as `disconnect()` plus the closed mark. */
export function disconnectClient(client: Redis): void {
  closedClients.add(client);
  client.disconnect();
}

/**
 * Makes sure a lazily-created or given-up client is connecting again before a command; throws
 * {@link ClientClosedError} for a client closed through `closeClient`/`disconnectClient`.
 */
export function ensureConnecting(client: Redis): void {
  if (closedClients.has(client)) {
    const name = client.options.connectionName ?? "redis";
    throw new ClientClosedError(`the ${name} connection is closed (close() was called); command not sent`);
  }
  if (client.status === "wait" || client.status === "end") {
    client.connect().catch(() => {
      // Surfaced through the command that follows.
    });
  }
}
