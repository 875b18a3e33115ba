/**
 * npm packages that only some deployments need, loaded the first time they are used instead
 * of on `import "celeriac"`: the compression codecs, yaml and msgpack (only when a message or
 * a setting names them), amqplib (only for an `amqp://` broker), ioredis (only for a Redis
 * broker or backend). A Redis-only producer thus never loads amqplib, and an AMQP + `rpc://`
 * deployment never loads ioredis.
 *
 * The load is a synchronous `require` because the codecs are called from synchronous
 * encode/decode paths; every package here ships a CommonJS entry, so the ESM and the CommonJS
 * builds of Celeriac load the same file.
 */
import { createRequire } from "node:module";
import { CeleryError } from "./errors.js";

/** A package a feature needs is not installed (or not resolvable from Celeriac's directory). */
export class MissingDependencyError extends CeleryError {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, message: string, options?: ErrorOptions) {
    super("ERR_MISSING_DEPENDENCY", message, options);
    this.packageName = packageName;
  }
}

const requireFromHere = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** True when `err` is Node's "cannot find package `packageName`" (from `require` or `import`). */
export function isMissingPackage(err: unknown, packageName: string): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    (e?.code === "MODULE_NOT_FOUND" || e?.code === "ERR_MODULE_NOT_FOUND") &&
    typeof e.message === "string" &&
    e.message.includes(`'${packageName}'`)
  );
}

/**
 * `packageName`'s module, required on the first call and cached. `feature` says what needs it,
 * for the error when the package is missing (`"bzip2 compression"`, `"an amqp:// broker"`).
 */
export function loadDependency<T>(packageName: string, feature: string): T {
  if (loaded.has(packageName)) return loaded.get(packageName) as T;
  let mod: unknown;
  try {
    mod = requireFromHere(packageName);
  } catch (err) {
    if (!isMissingPackage(err, packageName)) throw err;
    throw new MissingDependencyError(
      packageName,
      `${feature} needs the npm package "${packageName}", which is not installed; run \`npm install ${packageName}\``,
      { cause: err },
    );
  }
  loaded.set(packageName, mod);
  return mod as T;
}

/**
 * `packageName`'s module, or null when it is not installed: for packages whose absence only turns
 * a feature off (OpenTelemetry tracing without `@opentelemetry/api`). Cached like {@link loadDependency}.
 */
export function loadOptionalDependency<T>(packageName: string): T | null {
  if (loaded.has(packageName)) return loaded.get(packageName) as T | null;
  let mod: unknown = null;
  try {
    mod = requireFromHere(packageName);
  } catch (err) {
    if (!isMissingPackage(err, packageName)) throw err;
  }
  loaded.set(packageName, mod);
  return mod as T | null;
}
