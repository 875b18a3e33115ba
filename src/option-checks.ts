import { closest } from "fastest-levenshtein";
import { ConfigError } from "./errors.js";

/**
 * The small checks every option table is built from (settings in config-checks.ts, worker
 * options, task options, send options, signature options): each throws a {@link ConfigError}
 * that names the option and the values it accepts.
 */

/** Checks one option's value; throws a {@link ConfigError} naming `option` when it is wrong. */
export type Check = (option: string, value: unknown) => void;

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}

/**
 * Rejects keys outside `known`, naming each unknown one with the closest valid
 * name (`app.worker({ concurency: 4 })`: "did you mean concurrency?"), so a typo
 * is an error instead of a default silently taken. `what` names the object
 * ("setting", "worker option", ...).
 */
const knownNameSets = new WeakMap<readonly string[], ReadonlySet<string>>();

export function rejectUnknownKeys(what: string, value: object, known: readonly string[]): void {
  // Checked on every send: a set per list of names instead of a scan of the list per key.
  let names = knownNameSets.get(known);
  if (names === undefined) {
    names = new Set(known);
    knownNameSets.set(known, names);
  }
  let allKnown = true;
  for (const key of Object.keys(value)) if (!names.has(key)) allKnown = false;
  if (allKnown) return;
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  const [first] = unknown;
  if (first === undefined) return;
  const named = unknown.map(
    (key) => `${JSON.stringify(key)} (did you mean ${JSON.stringify(closest(key, [...known]))}?)`,
  );
  throw new ConfigError(
    first,
    `unknown ${what}${unknown.length > 1 ? "s" : ""} ${named.join(", ")}; accepted: ${known.join(", ")}`,
  );
}

export function oneOf(values: readonly (string | number)[]): Check {
  return (option, value) => {
    if (!(values as readonly unknown[]).includes(value)) {
      throw new ConfigError(
        option,
        `${option} must be one of ${values.map((v) => JSON.stringify(v)).join(", ")} (got ${describe(value)})`,
      );
    }
  };
}

export const isBool: Check = (option, value) => {
  if (typeof value !== "boolean")
    throw new ConfigError(option, `${option} must be true or false (got ${describe(value)})`);
};

export function number(opts: { min?: number; integer?: boolean; nullable?: boolean }): Check {
  return (option, value) => {
    if (value === null && opts.nullable) return;
    const ok =
      typeof value === "number" &&
      Number.isFinite(value) &&
      (opts.min === undefined || value >= opts.min) &&
      (!opts.integer || Number.isInteger(value));
    if (!ok) {
      const kind = opts.integer ? "an integer" : "a number";
      const range = opts.min !== undefined ? ` >= ${opts.min}` : "";
      throw new ConfigError(
        option,
        `${option} must be ${kind}${range}${opts.nullable ? " or null" : ""} (got ${describe(value)})`,
      );
    }
  };
}

export function text(opts: { nonEmpty?: boolean; nullable?: boolean } = {}): Check {
  return (option, value) => {
    if (value === null && opts.nullable) return;
    if (typeof value !== "string" || (opts.nonEmpty && value.length === 0)) {
      throw new ConfigError(
        option,
        `${option} must be a ${opts.nonEmpty ? "non-empty " : ""}string${opts.nullable ? " or null" : ""} (got ${describe(value)})`,
      );
    }
  };
}

export function listOf(values: readonly string[], nullable = false): Check {
  return (option, value) => {
    if (value === null && nullable) return;
    if (!Array.isArray(value) || value.some((v) => !values.includes(v))) {
      throw new ConfigError(
        option,
        `${option} must be a list of ${values.map((v) => JSON.stringify(v)).join(", ")} (got ${JSON.stringify(value)})`,
      );
    }
  };
}

/**
 * Checks an options object key by key against `checks` (unknown keys refused by name) and returns
 * it over `defaults`; undefined -> a copy of `defaults`.
 */
export function checkObject<T extends object>(
  option: string,
  value: unknown,
  checks: Record<string, Check>,
  defaults: T,
): T {
  if (value === undefined) return { ...defaults };
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(option, `${option} must be an object with keys ${Object.keys(checks).join(", ")}`);
  }
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, v] of Object.entries(value)) {
    const check = checks[key];
    if (!check) {
      throw new ConfigError(
        `${option}.${key}`,
        `unknown option ${option}.${key}; accepted: ${Object.keys(checks).join(", ")}`,
      );
    }
    if (v === undefined) continue;
    check(`${option}.${key}`, v);
    out[key] = v;
  }
  return out as T;
}
