import type { BrokerTransportOptions, RetryPolicy, TlsSettings } from "./config-values.js";
import { ConfigError } from "./errors.js";
import { type Check, checkObject, describe, isBool, number, oneOf, text } from "./option-checks.js";

/**
 * The checks of the settings that configure a connection to the broker or the result backend,
 * each an object of its own keys: `brokerTransportOptions`, `resultBackendTransportOptions`,
 * `taskPublishRetryPolicy`, and the TLS settings `brokerUseSsl` / `redisBackendUseSsl`.
 * Unknown keys and bad values are ConfigErrors naming `option.key` and what it accepts.
 */

export const TRANSPORT_OPTION_CHECKS: Record<keyof BrokerTransportOptions, Check> = {
  globalKeyprefix: text(),
  visibilityTimeout: number({ min: 0 }),
  prioritySteps: (option, value) => {
    const ok =
      Array.isArray(value) &&
      value.length > 0 &&
      value.every(
        (v, i) => Number.isInteger(v) && v >= 0 && v <= 255 && (i === 0 || v > (value[i - 1] as number)),
      );
    if (!ok)
      throw new ConfigError(
        option,
        `${option} must be a non-empty ascending list of integers, e.g. [0, 3, 6, 9]`,
      );
  },
  sep: text({ nonEmpty: true }),
  fanoutPrefix: (option, value) => {
    if (typeof value !== "boolean" && typeof value !== "string") {
      throw new ConfigError(
        option,
        `${option} must be true, false or a prefix string (got ${describe(value)})`,
      );
    }
  },
  fanoutPatterns: isBool,
  bodyEncoding: oneOf(["base64", "utf-8"]),
  unackedKey: text({ nonEmpty: true }),
  unackedIndexKey: text({ nonEmpty: true }),
  unackedMutexKey: text({ nonEmpty: true }),
  unackedMutexExpire: number({ min: 0 }),
  unackedRestoreLimit: number({ min: 1, integer: true, nullable: true }),
  unackedRestoreInterval: number({ min: 0 }),
  unackedRestoreThrottle: number({ min: 1, integer: true }),
  queueOrderStrategy: oneOf(["round_robin", "priority", "sorted"]),
  brpopTimeout: number({ min: 0 }),
  waitForReplicas: number({ min: 0, integer: true }),
  masterName: text({ nonEmpty: true, nullable: true }),
  sentinelKwargs: checkSentinelKwargs,
};

/** `resultBackendTransportOptions`: the Redis result backend's key prefix and Sentinel. */
export const RESULT_TRANSPORT_OPTION_CHECKS: Record<
  "globalKeyprefix" | "masterName" | "sentinelKwargs",
  Check
> = {
  globalKeyprefix: text(),
  masterName: text({ nonEmpty: true, nullable: true }),
  sentinelKwargs: checkSentinelKwargs,
};

/** `sentinelKwargs`: the Sentinels' own credentials; anything else is refused by name. */
export function checkSentinelKwargs(option: string, value: unknown): void {
  if (value === null) return;
  checkObject(option, value, { username: text(), password: text() }, {});
}

export const RETRY_POLICY_CHECKS: Record<keyof RetryPolicy, Check> = {
  maxRetries: number({ min: 0, integer: true }),
  intervalStart: number({ min: 0 }),
  intervalStep: number({ min: 0 }),
  intervalMax: number({ min: 0 }),
};

const TLS_KEYS = [
  "sslCertReqs",
  "sslCaCerts",
  "sslCertfile",
  "sslKeyfile",
  "ca",
  "cert",
  "key",
  "servername",
];

export function checkTls(option: string, value: unknown): TlsSettings | null {
  if (value === undefined || value === false || value === null) return null;
  if (value === true) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      option,
      `${option} must be true, false, or an object with keys ${TLS_KEYS.join(", ")}`,
    );
  }
  for (const [key, v] of Object.entries(value)) {
    if (!TLS_KEYS.includes(key)) {
      throw new ConfigError(
        `${option}.${key}`,
        `unknown option ${option}.${key}; accepted: ${TLS_KEYS.join(", ")}`,
      );
    }
    if (key === "sslCertReqs") oneOf(["required", "optional", "none"])(`${option}.${key}`, v);
  }
  return value as TlsSettings;
}
