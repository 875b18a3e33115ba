import type { CertReqs, TlsSettings } from "../../config-values.js";
import { ConfigError } from "../../errors.js";
import { quoteUrl } from "../../redact.js";
import { parseCertReqs } from "../redis/url.js";

/**
 * AMQP broker URLs as kombu takes them (kombu/utils/url.py `url_to_parts`,
 * kombu/connection.py `Connection.__init__`, kombu/transport/pyamqp.py
 * `Transport.establish_connection`):
 *
 * - `amqp://[user[:password]@]host[:port][/vhost]` (defaults guest/guest, 5672, vhost `/`);
 *   the vhost is the path without its first `/`, URL-decoded: `amqp://h//` and `amqp://h/`
 *   and `amqp://h` all mean `/`, `amqp://h/%2Fprod` means `/prod`, `amqp://h/prod` means `prod`.
 * - `amqps://...` (port 5671) with TLS; `pyamqp://` / `pyamqps://` are kombu's aliases.
 * - Query options: `heartbeat` (s), `connect_timeout` (s), `frame_max`, and for TLS
 *   `ssl_cert_reqs`, `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_server_hostname`.
 *
 * Pure: no I/O. The connection factory (`connection.ts`) reads certificate files.
 */
export interface AmqpEndpoint {
  tls: AmqpTls | null;
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** Seconds; 0 disables heartbeats (Celery `broker_heartbeat`, default 120). */
  heartbeat: number;
  /** Milliseconds for TCP + TLS + AMQP handshake (Celery `broker_connection_timeout`, default 4 s). */
  connectTimeoutMs: number;
  /** 0 lets the server choose. */
  frameMax: number;
}

/** TLS as Node wants it: paths or PEM, plus whether the server certificate is checked. */
export interface AmqpTls {
  caPath?: string;
  certPath?: string;
  keyPath?: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** `cert_reqs`: CERT_REQUIRED (default) and CERT_OPTIONAL verify, CERT_NONE does not. */
  rejectUnauthorized: boolean;
  servername?: string;
}

export const AMQP_SCHEMES = ["amqp", "amqps", "pyamqp", "pyamqps"] as const;

// Written without a `scheme://user:password@` sample, which ConfigError would mask as a credential.
const ACCEPTED_FORMS =
  "amqp://host:port/vhost or amqps://host:port/vhost (TLS), with user:password@ before the host, or their pyamqp:// / pyamqps:// aliases";

/** Celery `broker_use_ssl` as py-amqp takes it (`ca_certs`, `certfile`, `keyfile`, `cert_reqs`, `server_hostname`). */
export interface PyAmqpSslDict {
  ca_certs?: string;
  certfile?: string;
  keyfile?: string;
  cert_reqs?: string | number;
  server_hostname?: string;
}

export interface AmqpUrlOptions {
  /** `broker_use_ssl`: true, Celeriac's TlsSettings, or py-amqp's dict; turns TLS on for `amqp://`. */
  ssl?: boolean | TlsSettings | PyAmqpSslDict | null;
  /** Seconds (`broker_heartbeat`); the URL's `?heartbeat=` wins. */
  heartbeat?: number;
  /** Seconds (`broker_connection_timeout`); the URL's `?connect_timeout=` wins. */
  connectTimeout?: number;
}

/** Python's `ssl.CERT_NONE/OPTIONAL/REQUIRED` are 0/1/2. */
function certReqsFrom(option: string, value: string | number): CertReqs {
  if (typeof value === "number") {
    const byNumber: CertReqs[] = ["none", "optional", "required"];
    const found = byNumber[value];
    if (found === undefined) throw new ConfigError(option, `${option} must be 0, 1 or 2 (got ${value})`);
    return found;
  }
  return parseCertReqs(option, value);
}

/** Maps `broker_use_ssl` (either naming) onto {@link AmqpTls}. */
export function tlsFromSslOption(option: string, ssl: AmqpUrlOptions["ssl"]): AmqpTls | null {
  if (ssl === undefined || ssl === null || ssl === false) return null;
  if (ssl === true) return { rejectUnauthorized: true };
  if (typeof ssl !== "object") {
    throw new ConfigError(option, `${option} must be true, false or an object of TLS options`);
  }
  const py = ssl as PyAmqpSslDict;
  const ts = ssl as TlsSettings;
  const reqsRaw = ts.sslCertReqs ?? py.cert_reqs;
  const reqs: CertReqs = reqsRaw === undefined ? "required" : certReqsFrom(`${option}.cert_reqs`, reqsRaw);
  const tls: AmqpTls = { rejectUnauthorized: reqs !== "none" };
  const caPath = ts.sslCaCerts ?? py.ca_certs;
  const certPath = ts.sslCertfile ?? py.certfile;
  const keyPath = ts.sslKeyfile ?? py.keyfile;
  const servername = ts.servername ?? py.server_hostname;
  if (caPath !== undefined) tls.caPath = caPath;
  if (certPath !== undefined) tls.certPath = certPath;
  if (keyPath !== undefined) tls.keyPath = keyPath;
  if (servername !== undefined) tls.servername = servername;
  if (ts.ca !== undefined) tls.ca = ts.ca;
  if (ts.cert !== undefined) tls.cert = ts.cert;
  if (ts.key !== undefined) tls.key = ts.key;
  return tls;
}

function seconds(option: string, name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min) {
    throw new ConfigError(
      option,
      `${option}: ${name} must be a number >= ${min} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

function decode(option: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // The password itself is never quoted, even when it is all the message could show.
    const shown = what === "password" ? "" : ` (${JSON.stringify(text)})`;
    throw new ConfigError(option, `${option}: the ${what} is not valid URL encoding${shown}`);
  }
}

/**
 * Parses an AMQP URL. `option` names the setting in errors (`broker`).
 * Throws {@link ConfigError} naming the option and the accepted forms.
 */
export function parseAmqpUrl(option: string, url: string, options: AmqpUrlOptions = {}): AmqpEndpoint {
  const schemeEnd = url.indexOf("://");
  const scheme = schemeEnd > 0 ? url.slice(0, schemeEnd).toLowerCase() : "";
  if (!(AMQP_SCHEMES as readonly string[]).includes(scheme)) {
    throw new ConfigError(option, `${option} ${quoteUrl(url)} is not an AMQP URL; use ${ACCEPTED_FORMS}`);
  }
  if (url.includes(";")) {
    throw new ConfigError(
      option,
      `${option}: a ";" inside a URL must be written %3B (a ";" before "scheme://" separates failover URLs)`,
    );
  }
  let parsed: URL;
  try {
    // WHATWG URL only knows host/port for special schemes; parse as http(s) and keep our scheme.
    parsed = new URL(`http://${url.slice(schemeEnd + 3)}`);
  } catch {
    throw new ConfigError(option, `${option} ${quoteUrl(url)} is not a valid URL; use ${ACCEPTED_FORMS}`);
  }
  const secure = scheme === "amqps" || scheme === "pyamqps";
  const query = parsed.searchParams;
  const known = new Set([
    "heartbeat",
    "connect_timeout",
    "frame_max",
    "ssl",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_server_hostname",
  ]);
  for (const key of query.keys()) {
    if (!known.has(key)) {
      throw new ConfigError(
        option,
        `${option}: unknown query option ${JSON.stringify(key)}; accepted: ${[...known].join(", ")}`,
      );
    }
  }

  let tls = tlsFromSslOption(`${option} ssl`, options.ssl);
  const sslQueryKeys = [...query.keys()].filter((k) => k.startsWith("ssl"));
  if (secure || query.get("ssl") === "true" || query.get("ssl") === "1") tls ??= { rejectUnauthorized: true };
  if (sslQueryKeys.some((k) => k !== "ssl") && tls === null) {
    throw new ConfigError(option, `${option}: ssl_* options need the amqps:// scheme (or brokerUseSsl)`);
  }
  if (tls !== null) {
    const reqs = query.get("ssl_cert_reqs");
    if (reqs) tls.rejectUnauthorized = parseCertReqs(option, reqs) !== "none";
    const ca = query.get("ssl_ca_certs");
    if (ca) tls.caPath = ca;
    const cert = query.get("ssl_certfile");
    if (cert) tls.certPath = cert;
    const key = query.get("ssl_keyfile");
    if (key) tls.keyPath = key;
    const servername = query.get("ssl_server_hostname");
    if (servername) tls.servername = servername;
  }

  const hostname = parsed.hostname.replace(/^\[|\]$/g, "") || "localhost";
  const port = parsed.port === "" ? (tls ? 5671 : 5672) : Number(parsed.port);
  // kombu: the path minus its first "/" is the vhost; empty means "/".
  const path = parsed.pathname.startsWith("/") ? parsed.pathname.slice(1) : parsed.pathname;
  const vhost = path === "" ? "/" : decode(option, path, "virtual host");
  const hb = query.get("heartbeat");
  const ct = query.get("connect_timeout");
  const fm = query.get("frame_max");
  return {
    tls,
    hostname,
    port,
    username: parsed.username === "" ? "guest" : decode(option, parsed.username, "user name"),
    password: parsed.password === "" ? "guest" : decode(option, parsed.password, "password"),
    vhost,
    heartbeat: hb !== null ? seconds(option, "heartbeat", hb, 0) : (options.heartbeat ?? 120),
    connectTimeoutMs: Math.round(
      (ct !== null ? seconds(option, "connect_timeout", ct, 0) : (options.connectTimeout ?? 4)) * 1000,
    ),
    frameMax: fm !== null ? seconds(option, "frame_max", fm, 0) : 0,
  };
}

/**
 * A ";" separates failover URLs only where a broker URL starts after it (perhaps after empty
 * parts: `a;;b`, `a;`), the URL being one of kombu's transport schemes. A ";" anywhere else,
 * say in a password (`u:p;;x@h`, `u:p;abc://x@h`), which kombu would split too, leaves the URL
 * whole, so it fails as one URL, masked, instead of showing the password's first half as a
 * part of its own.
 */
const FAILOVER_SEPARATOR =
  /;(?=;*(?:(?:py)?amqps?|rediss?|sentinel|sqs|memory|filesystem|qpid|mongodb|zookeeper|consul|etcd|confluentkafka|azureservicebus|azurestoragequeues|gcpubsub):\/\/|;*$)/i;

/**
 * A broker URL that may be a failover list, as kombu's `Connection` takes it
 * (kombu/connection.py `Connection.__init__`, 5.7.0): `amqp://a;amqp://b`
 * (what a list of URLs becomes in the settings), each part a full URL of its
 * own (credentials, port, vhost, query). Unlike kombu, which checks only each
 * part's scheme up front, every part is parsed now, so a bad one fails at
 * `new Celery(...)` rather than mid-failover; the error names the part by
 * position, credentials masked.
 */
export function parseAmqpUrls(option: string, url: string, options: AmqpUrlOptions = {}): AmqpEndpoint[] {
  const parts = url.split(FAILOVER_SEPARATOR);
  if (parts.length === 1) return [parseAmqpUrl(option, url, options)];
  return parts.map((part, i) => {
    if (part.trim() === "") {
      throw new ConfigError(
        option,
        `${option}: part ${i + 1} of the failover list is empty; give url1;url2 with ${ACCEPTED_FORMS}`,
      );
    }
    try {
      return parseAmqpUrl(option, part, options);
    } catch (err) {
      if (err instanceof ConfigError && !part.includes("@")) {
        // No "@": if this part is the front half of a password that held ";scheme://", its text
        // is the secret itself, so it is not shown.
        throw new ConfigError(
          option,
          `${option}: part ${i + 1} of the failover list is not a valid URL (its text is not shown: a ";" in a password must be written %3B); use ${ACCEPTED_FORMS}`,
        );
      }
      if (err instanceof ConfigError) {
        throw new ConfigError(option, `${option}: part ${i + 1} of the failover list: ${err.message}`);
      }
      throw err;
    }
  });
}

/** The endpoint without its password, for logs and error messages. */
export function describeAmqpEndpoint(endpoint: AmqpEndpoint): string {
  const vhost = endpoint.vhost === "/" ? "" : encodeURIComponent(endpoint.vhost);
  return `${endpoint.tls ? "amqps" : "amqp"}://${endpoint.username}@${endpoint.hostname}:${endpoint.port}/${vhost}`;
}

/** A failover list without passwords: each endpoint as {@link describeAmqpEndpoint}, joined with `;`. */
export function describeAmqpEndpoints(endpoints: readonly AmqpEndpoint[]): string {
  return endpoints.map(describeAmqpEndpoint).join(";");
}
