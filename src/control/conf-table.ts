import type { Settings } from "../config.js";
import { DEFAULT_BROKER_TRANSPORT_OPTIONS } from "../config-defaults.js";
import { isRecord } from "../protocol/guards.js";
import { CELERY_CONF_DEFAULTS } from "./celery-conf-defaults.js";

/**
 * The worker's configuration as Celery's `conf` / `report` replies show it
 * (celery/app/utils.py `Settings.table(with_defaults=False)` = `conf.changes`,
 * `filter_hidden_settings`, 5.7.0): Celery's setting names, in the order the
 * user gave them, censored as Celery censors them.
 */

/** Celeriac's own options, with no Celery setting behind them: never listed. */
const CELERIAC_ONLY = new Set(["compat", "wireMaxMessageSize", "wireMaxDecompressedSize", "wireMaxDepth"]);

/** Options whose Celery name is not their snake_case form. */
const CELERY_NAMES: Record<string, string> = {
  broker: "broker_url",
  backend: "result_backend",
  workerLostWaitSeconds: "worker_lost_wait",
};

const MASK = "********";
/** celery/app/utils.py HIDDEN_SETTINGS. */
const HIDDEN_SETTINGS = /API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE|BEAT_DBURI/i;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The Celery setting name of a Celeriac option (`taskDefaultQueue` -> `task_default_queue`). */
export function celerySettingName(option: string): string {
  return CELERY_NAMES[option] ?? snake(option);
}

/** A value with its object keys in Celery's snake_case (transport options, retry policy). */
function celeryValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(celeryValue);
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), celeryValue(v)]));
  return value;
}

/** The broker transport options the user changed, as Celery holds them (`broker_transport_options`). */
export function givenTransportOptions(settings: Settings): Record<string, unknown> {
  const defaults = DEFAULT_BROKER_TRANSPORT_OPTIONS as Record<string, unknown>;
  const changed = Object.entries(settings.brokerTransportOptions).filter(
    ([k, v]) => JSON.stringify(v) !== JSON.stringify(defaults[k]),
  );
  return celeryValue(Object.fromEntries(changed)) as Record<string, unknown>;
}

/** kombu `Connection(url).as_uri(mask=...)`: the password always shown as the mask. */
export function maskedBrokerUri(url: string): string {
  try {
    const u = new URL(url);
    const scheme = u.protocol.replace(/:$/, "");
    const amqp = scheme.startsWith("amqp");
    const port = u.port || (amqp ? (scheme === "amqps" ? "5671" : "5672") : "6379");
    const vhost = amqp ? decodeURIComponent(u.pathname.slice(1)) || "/" : u.pathname.slice(1);
    return `${scheme}://${decodeURIComponent(u.username)}:${MASK}@${u.hostname}:${port}/${vhost}`;
  } catch {
    return MASK;
  }
}

/** kombu/utils/url.py `maybe_sanitize_url(url, mask)`: the password, if any, masked. */
export function sanitizedUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, `$1${MASK}@`);
}

/** filter_hidden_settings's `maybe_censor`. */
function censor(key: string, value: unknown): unknown {
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, censor(k, v)]));
  if (HIDDEN_SETTINGS.test(key)) return MASK;
  if (typeof value === "string" && ["broker_url", "broker_read_url", "broker_write_url"].includes(key))
    return maskedBrokerUri(value);
  if (typeof value === "string" && key.includes("backend")) return sanitizedUrl(value);
  return value;
}

/**
 * `conf.table(with_defaults=False)` of this worker: `deprecated_settings` (None: Celeriac takes no
 * old-style names), each option the app was given, then `worker_disable_prefetch` (False), which
 * Celery's worker sets at start. A Python worker also lists `include` (the modules it imported);
 * a TS worker imports none, so it has none.
 */
export function confChanges(settings: Settings): [string, unknown][] {
  const values = settings as unknown as Record<string, unknown>;
  const rows: [string, unknown][] = [["deprecated_settings", null]];
  for (const option of settings.given) {
    if (CELERIAC_ONLY.has(option)) continue;
    const key = celerySettingName(option);
    const value =
      option === "brokerTransportOptions" ? givenTransportOptions(settings) : celeryValue(values[option]);
    rows.push([key, censor(key, value)]);
  }
  rows.push(["worker_disable_prefetch", false]);
  return rows;
}

/**
 * The `conf` reply (celery/worker/control.py `conf`, 5.7.0). `withDefaults`: Celery 5.7's whole
 * table for an app given no settings (captured from Celery, src/control/celery-conf-defaults.ts),
 * with this worker's broker and backend URLs and the settings it was given in their places.
 */
export function confTable(settings: Settings, withDefaults: boolean): Record<string, unknown> {
  const changes = confChanges(settings);
  if (!withDefaults) return Object.fromEntries(changes);
  const table: Record<string, unknown> = { ...CELERY_CONF_DEFAULTS };
  table.broker_url = maskedBrokerUri(settings.broker);
  table.result_backend = settings.backend === null ? null : sanitizedUrl(settings.backend);
  for (const [key, value] of changes) if (key !== "deprecated_settings") table[key] = value;
  return table;
}
