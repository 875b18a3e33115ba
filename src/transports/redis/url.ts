import type { CertReqs, SentinelKwargs, TlsSettings } from "../../config-values.js";
import { ConfigError } from "../../errors.js";
import { quoteUrl } from "../../redact.js";

/**
 * Redis URLs as Celery and kombu take them (kombu/utils/url.py `url_to_parts`,
 * kombu/transport/redis.py `Channel._connparams`, celery/backends/redis.py
 * `RedisBackend._params_from_url`):
 *
 * - `redis://[[user]:password@]host[:port][/db]`
 * - `rediss://...?ssl_cert_reqs=required&ssl_ca_certs=/path&ssl_certfile=..&ssl_keyfile=..`
 * - `redis+socket:///path/to/redis.sock?virtual_host=<db>` (kombu) and `socket:///path?virtual_host=<db>` (Celery backend)
 * - `sentinel://[:password@]h1:26379[/db];sentinel://h2:26379` (kombu `SentinelChannel`, Celery
 *   `SentinelBackend`): the Sentinels to ask; the master's name comes from the transport options
 *
 * Pure: no I/O. The connection factory reads certificate files.
 */
export interface RedisEndpoint {
  /** `tcp` for host/port, `unix` for a socket path, `sentinel` for a master found through Sentinels. */
  kind: "tcp" | "unix" | "sentinel";
  host: string;
  port: number;
  path: string | null;
  db: number;
  username: string | null;
  password: string | null;
  /** Non-null when the URL is `rediss://` (or TLS was forced by `brokerUseSsl`/`redisBackendUseSsl`). */
  tls: TlsSettings | null;
  /** Kind `sentinel` only (host/port are then the first Sentinel's; username/password/db the master's). */
  sentinel?: SentinelTarget;
}

/** Where a `sentinel://` URL finds its master. */
export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  masterName: string;
  /** Credentials for the Sentinels themselves (kombu/Celery `sentinel_kwargs`). */
  sentinelKwargs: SentinelKwargs | null;
}

/**
 * What a `sentinel://` URL needs besides itself: the transport options it is read with
 * (`brokerTransportOptions` for the broker, `resultBackendTransportOptions` for the backend, as
 * Celery keeps them apart) and the port of a Sentinel given without one.
 */
export interface SentinelOptions {
  /** The options' setting name, for errors: `brokerTransportOptions`. */
  optionsName: string;
  masterName: string | null;
  sentinelKwargs: SentinelKwargs | null;
  /**
   * kombu `SentinelTransport.default_port` is 26379; Celery's `SentinelBackend` parses each part
   * with `RedisBackend._params_from_url`, whose default is `redis_port` (6379). 5.7.0.
   */
  defaultPort: number;
}

export const REDIS_SCHEMES = ["redis", "rediss", "redis+socket", "socket", "unix", "sentinel"] as const;

const CERT_REQS: Record<string, CertReqs> = {
  required: "required",
  cert_required: "required",
  optional: "optional",
  cert_optional: "optional",
  none: "none",
  cert_none: "none",
};

/** Celery accepts `CERT_REQUIRED` / `required` (any case) for `ssl_cert_reqs`. */
export function parseCertReqs(option: string, value: string): CertReqs {
  const found = CERT_REQS[value.toLowerCase()];
  if (!found) {
    throw new ConfigError(
      option,
      `${option} must be one of CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE (or required, optional, none) (got ${JSON.stringify(value)})`,
    );
  }
  return found;
}

function parseDb(option: string, raw: string | null | undefined): number {
  const text = (raw ?? "").replace(/^\/+|\/+$/g, "");
  if (text === "") return 0;
  if (!/^\d+$/.test(text)) {
    throw new ConfigError(
      option,
      `${option}: the database must be a non-negative integer (got ${JSON.stringify(text)})`,
    );
  }
  return Number(text);
}

/** Percent-decodes a user name or password; a bad escape is a ConfigError that never quotes a password. */
function decodeUserinfo(option: string, text: string, what: "user name" | "password"): string {
  try {
    return decodeURIComponent(text);
  } catch {
    const shown = what === "password" ? "" : ` (${JSON.stringify(text)})`;
    throw new ConfigError(option, `${option}: the ${what} is not valid URL encoding${shown}`);
  }
}

const SSL_QUERY_KEYS = ["ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile"] as const;

/**
 * Parses one Redis URL. `option` names the setting (`broker`, `backend`) in
 * errors. `forcedTls` is `brokerUseSsl`/`redisBackendUseSsl`: it turns TLS on
 * for a `redis://` URL as kombu's `Connection(ssl=...)` does.
 */
export function parseRedisUrl(
  option: string,
  url: string,
  forcedTls: TlsSettings | null = null,
  sentinel: SentinelOptions | null = null,
): RedisEndpoint {
  if (/^sentinel:\/\//i.test(url.trim())) return parseSentinelUrl(option, url.trim(), forcedTls, sentinel);
  const schemeEnd = url.indexOf("://");
  const scheme = schemeEnd > 0 ? url.slice(0, schemeEnd).toLowerCase() : "";
  if (!(REDIS_SCHEMES as readonly string[]).includes(scheme)) {
    throw new ConfigError(
      option,
      `${option} URL scheme must be one of ${REDIS_SCHEMES.map((s) => `${s}://`).join(", ")} (got ${quoteUrl(url)})`,
    );
  }
  const rest = url.slice(schemeEnd + 3);
  const isSocket = scheme === "redis+socket" || scheme === "socket" || scheme === "unix";
  let parsed: URL;
  try {
    // Parse with HTTP semantics, as kombu's url_to_parts does. A socket URL has an
    // empty host (`redis+socket:///path`), which WHATWG URL would not keep, so its
    // path is parsed under a placeholder host.
    const slash = rest.indexOf("/");
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    parsed = isSocket
      ? new URL(
          `http://${authority.endsWith("@") || authority === "" ? `${authority}socket.invalid` : authority}${slash < 0 ? "" : rest.slice(slash)}`,
        )
      : new URL(`http://${rest}`);
  } catch (cause) {
    throw new ConfigError(
      option,
      `${option} is not a valid URL (${(cause as Error).message}): ${quoteUrl(url)}`,
    );
  }
  const query = parsed.searchParams;
  const username = parsed.username ? decodeUserinfo(option, parsed.username, "user name") : null;
  const password = parsed.password ? decodeUserinfo(option, parsed.password, "password") : null;
  const sslInQuery = SSL_QUERY_KEYS.filter((k) => query.has(k));
  if (scheme === "redis" && sslInQuery.length > 0) {
    // celery/backends/redis.py E_REDIS_SSL_PARAMS_AND_SCHEME_MISMATCH
    throw new ConfigError(
      option,
      `${option}: SSL parameters (${sslInQuery.join(", ")}) need the rediss:// scheme`,
    );
  }

  let tls: TlsSettings | null = forcedTls ? { ...forcedTls } : null;
  if (scheme === "rediss") {
    tls = { ...(forcedTls ?? {}) };
    const reqs = query.get("ssl_cert_reqs");
    if (reqs) tls.sslCertReqs = parseCertReqs(`${option} ssl_cert_reqs`, reqs);
    const ca = query.get("ssl_ca_certs");
    if (ca) tls.sslCaCerts = ca;
    const cert = query.get("ssl_certfile");
    if (cert) tls.sslCertfile = cert;
    const key = query.get("ssl_keyfile");
    if (key) tls.sslKeyfile = key;
  }

  if (isSocket) {
    const path = decodeURIComponent(parsed.pathname);
    if (parsed.hostname !== "socket.invalid" || path === "" || path === "/") {
      throw new ConfigError(
        option,
        `${option}: a ${scheme}:// URL takes an absolute socket path, e.g. ${scheme}:///var/run/redis.sock?virtual_host=0 (got ${quoteUrl(url)})`,
      );
    }
    return {
      kind: "unix",
      host: "",
      port: 0,
      path,
      db: parseDb(option, query.get("virtual_host") ?? query.get("db")),
      username,
      password,
      tls,
    };
  }

  let port = 6379;
  if (parsed.port !== "") port = Number(parsed.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ConfigError(option, `${option}: port must be 1-65535 (got ${JSON.stringify(parsed.port)})`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  return {
    kind: "tcp",
    host: decodeURIComponent(host),
    port,
    path: null,
    db: parseDb(option, query.get("virtual_host") ?? parsed.pathname),
    username,
    password,
    tls,
  };
}

/** `redis://:**@host:6379/0`: the URL with the password masked, for logs and error messages (kombu `maybe_sanitize_url`). */
export function describeEndpoint(endpoint: RedisEndpoint): string {
  const auth =
    endpoint.username || endpoint.password
      ? `${endpoint.username ?? ""}${endpoint.password ? ":**" : ""}@`
      : "";
  if (endpoint.kind === "unix") return `redis+socket://${auth}${endpoint.path}?virtual_host=${endpoint.db}`;
  if (endpoint.sentinel) {
    const parts = endpoint.sentinel.sentinels.map(
      ({ host, port }, i) =>
        `sentinel://${i === 0 ? auth : ""}${host.includes(":") ? `[${host}]` : host}:${port}`,
    );
    return `${parts.join(";")}/${endpoint.db} (master ${JSON.stringify(endpoint.sentinel.masterName)})`;
  }
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.tls ? "rediss" : "redis"}://${auth}${host}:${endpoint.port}/${endpoint.db}`;
}

/** Each `;`-separated part masked on its own (Celery `SentinelBackend.as_uri`, 5.7.0). */
function quoteSentinelUrl(url: string): string {
  return JSON.stringify(
    url
      .split(";")
      .map((part) => JSON.parse(quoteUrl(part)) as string)
      .join(";"),
  );
}

/**
 * `sentinel://[:pw@]h1:26379[/db];sentinel://h2:26379`: every part names a Sentinel; the first
 * part's user name, password and db are the master's (kombu `SentinelChannel._sentinel_managed_pool`,
 * Celery `SentinelBackend._params_from_url`, 5.7.0). A missing master name is refused here, where
 * kombu would raise "'master_name' transport option must be specified" on first connect.
 */
function parseSentinelUrl(
  option: string,
  url: string,
  forcedTls: TlsSettings | null,
  sentinel: SentinelOptions | null,
): RedisEndpoint {
  if (!sentinel) {
    throw new ConfigError(
      option,
      `${option}: sentinel:// URLs are not accepted here (got ${quoteSentinelUrl(url)})`,
    );
  }
  if (forcedTls) {
    throw new ConfigError(
      option,
      `${option}: TLS with sentinel:// is not supported yet (got ${quoteSentinelUrl(url)})`,
    );
  }
  const masterOption = `${sentinel.optionsName}.masterName`;
  if (!sentinel.masterName) {
    throw new ConfigError(
      masterOption,
      `${option} ${quoteSentinelUrl(url)} needs ${masterOption} (Python master_name), the name the Sentinels monitor the master under`,
    );
  }
  const parts = url
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  const endpoints = parts.map((part) => {
    if (!/^sentinel:\/\//i.test(part)) {
      throw new ConfigError(
        option,
        `${option}: every ;-separated part of a Sentinel URL must be sentinel://host:port (got ${quoteSentinelUrl(url)})`,
      );
    }
    const rest = part.slice("sentinel://".length);
    const withPort = /^(?:[^@]*@)?(?:\[[^\]]*\]|[^/:?]*):\d/.test(rest)
      ? rest
      : rest.replace(/^((?:[^@]*@)?(?:\[[^\]]*\]|[^/:?]*))/, `$1:${sentinel.defaultPort}`);
    try {
      return parseRedisUrl(option, `redis://${withPort}`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(
        option,
        `${option}: cannot parse Sentinel URL ${quoteSentinelUrl(url)}: ${err.message}`,
      );
    }
  });
  const first = endpoints[0];
  if (!first)
    throw new ConfigError(option, `${option}: a Sentinel URL needs at least one sentinel://host:port`);
  return {
    kind: "sentinel",
    host: first.host,
    port: first.port,
    path: null,
    db: first.db,
    username: first.username,
    password: first.password,
    tls: null,
    sentinel: {
      sentinels: endpoints.map(({ host, port }) => ({ host, port })),
      masterName: sentinel.masterName,
      sentinelKwargs: sentinel.sentinelKwargs,
    },
  };
}
