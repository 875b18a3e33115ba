import { ConfigError } from "../errors.js";
import { describe, isBool, number, oneOf, rejectUnknownKeys } from "../option-checks.js";
import { SERIALIZER_NAMES } from "../serialization/index.js";

/**
 * `app.task(name, handler, options)` and `defineTaskBase(options)` checked as
 * strictly as `new Celery(options)`: an unknown key names the closest valid
 * one, a bad value names the option and what it accepts. Ranges the resolver
 * checks itself (time limits, maxRetries, rateLimit) are left to it.
 */
export const TASK_OPTION_KEYS = [
  "maxRetries",
  "defaultRetryDelay",
  "rateLimit",
  "ignoreResult",
  "timeLimit",
  "softTimeLimit",
  "acksLate",
  "acksOnFailureOrTimeout",
  "rejectOnWorkerLost",
  "trackStarted",
  "autoretryFor",
  "dontAutoretryFor",
  "retryKwargs",
  "retryBackoff",
  "retryBackoffMax",
  "retryJitter",
  "serializer",
  "params",
  "errbackArgs",
  "base",
] as const;

type Check = (option: string, value: unknown) => void;

const matchers: Check = (option, value) => {
  const ok = Array.isArray(value) && value.every((m) => typeof m === "string" || typeof m === "function");
  if (!ok)
    throw new ConfigError(
      option,
      `${option} must be an array of Error classes, Python exception names or predicates (got ${describe(value)})`,
    );
};

const backoff: Check = (option, value) => {
  if (typeof value === "boolean") return;
  number({ min: 0 })(option, value);
};

const retryKwargs: Check = (option, value) => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(
      option,
      `${option} must be an object {maxRetries?, countdown?} (got ${describe(value)})`,
    );
  rejectUnknownKeys(`${option} key`, value, ["maxRetries", "countdown"]);
};

const base: Check = (option, value) => {
  if (value === null || typeof value !== "object" || !("options" in value))
    throw new ConfigError(
      option,
      `${option} must be a task base from defineTaskBase() (got ${describe(value)})`,
    );
};

const params: Check = (option, value) => {
  const ok =
    Array.isArray(value) &&
    value.every((n) => typeof n === "string" && /^[A-Za-z_$][\w$]*$/.test(n)) &&
    new Set(value).size === value.length;
  if (!ok)
    throw new ConfigError(
      option,
      `${option} must be an array of distinct parameter names, e.g. ["x", "y"] (got ${describe(value)})`,
    );
};

const CHECKS: Partial<Record<(typeof TASK_OPTION_KEYS)[number], Check>> = {
  defaultRetryDelay: number({ min: 0 }),
  ignoreResult: isBool,
  acksLate: isBool,
  acksOnFailureOrTimeout: isBool,
  rejectOnWorkerLost: isBool,
  trackStarted: isBool,
  autoretryFor: matchers,
  dontAutoretryFor: matchers,
  retryKwargs,
  retryBackoff: backoff,
  retryBackoffMax: number({ min: 0 }),
  retryJitter: isBool,
  serializer: oneOf(SERIALIZER_NAMES),
  params,
  errbackArgs: oneOf(["request", "id"]),
  base,
};

export function checkTaskOptions(options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new ConfigError("options", `task options must be an object (got ${describe(options)})`);
  rejectUnknownKeys("task option", options, TASK_OPTION_KEYS);
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) CHECKS[key as keyof typeof CHECKS]?.(key, value);
  }
}
