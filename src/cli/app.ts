import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Celery } from "../app.js";
import { redactUrl } from "../redact.js";
import { type OptionValues, stringOption } from "./args.js";
import type { TsxLoader } from "./context.js";
import { CliError, EX_USAGE, usageError } from "./errors.js";

/** Where the CLI's app comes from: flags first, then Celery's environment variables. */
export interface AppSource {
  appModule?: string;
  broker?: string;
  resultBackend?: string;
}

export function appSource(values: OptionValues, env: NodeJS.ProcessEnv): AppSource {
  const source: AppSource = {};
  const appModule = stringOption(values, "app");
  const broker = stringOption(values, "broker") ?? nonEmpty(env.CELERY_BROKER_URL);
  const backend = stringOption(values, "result-backend") ?? nonEmpty(env.CELERY_RESULT_BACKEND);
  if (appModule !== undefined) source.appModule = appModule;
  if (broker !== undefined) source.broker = broker;
  if (backend !== undefined) source.resultBackend = backend;
  return source;
}

/**
 * The app source of a command that must load an app module (`worker`, `beat`): no positional
 * arguments, and `-A` given (Celery's click groups refuse both the same way).
 */
export function requiredAppSource(
  positionals: readonly string[],
  values: OptionValues,
  env: NodeJS.ProcessEnv,
): AppSource & { appModule: string } {
  if (positionals.length > 0) throw usageError(`Got unexpected extra argument (${positionals[0]})`);
  const { appModule, ...rest } = appSource(values, env);
  if (appModule === undefined)
    throw usageError("Missing option '-A' / '--app' (the module that builds the Celery app)");
  return { ...rest, appModule };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/** What the CLI needs from an app module's export (a `Celery`, possibly from another copy of the package). */
function isCeleryLike(value: unknown): value is Celery {
  if (value instanceof Celery) return true;
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.sendTask === "function" && typeof v.worker === "function" && typeof v.settings === "object";
}

/** A Python-style `-A proj.celery` or `-A proj.celery:app` (dotted names, no file extension). */
const PYTHON_MODULE_NAME = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+(:[A-Za-z_][\w]*)?$/;
const JS_EXTENSION = /\.([cm]?[jt]s)$/;
/** A TypeScript module: loads through tsx. */
export const TS_EXTENSION = /\.[cm]?ts$/;

/** What to try instead, for the two mistakes a Celery user makes first. */
function loadHint(spec: string, exists: boolean, tsxLoaded: boolean): string {
  if (!exists && PYTHON_MODULE_NAME.test(spec) && !JS_EXTENSION.test(spec.split(":")[0] as string)) {
    const guess = `./${(spec.split(":")[0] as string).replace(/\./g, "/")}.ts`;
    return `. -A takes the path of a JavaScript or TypeScript module that exports the app (e.g. -A ${guess}), not a Python dotted module name`;
  }
  if (exists && !tsxLoaded && TS_EXTENSION.test(spec)) {
    return ". Loading a .ts app module needs tsx (an optional peer dependency of celeriac): run `npm install --save-dev tsx`, or compile the app and pass the .js file";
  }
  return "";
}

/**
 * Loads the app module (`-A ./tasks.ts`; `.ts` goes through tsx, which `tsx()`
 * registers only then). As with Celery's `-b`/`--result-backend`,
 * the URLs are put into `CELERY_BROKER_URL` / `CELERY_RESULT_BACKEND` before
 * the module runs, so an app built from those variables picks them up.
 */
export async function loadAppModule(
  source: AppSource,
  env: NodeJS.ProcessEnv,
  tsx: TsxLoader = async () => false,
): Promise<Celery> {
  const spec = source.appModule as string;
  const tsxLoaded = TS_EXTENSION.test(spec) ? await tsx() : false;
  if (source.broker !== undefined) env.CELERY_BROKER_URL = source.broker;
  if (source.resultBackend !== undefined) env.CELERY_RESULT_BACKEND = source.resultBackend;
  const path = resolve(spec);
  const exists = existsSync(path);
  const url = exists ? pathToFileURL(path).href : spec;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new CliError(
      `Unable to load celery application. The module ${spec} could not be loaded: ${reason}${loadHint(spec, exists, tsxLoaded)}`,
      EX_USAGE,
    );
  }
  const app = [mod.default, mod.app, mod.celery].find(isCeleryLike);
  if (!app) {
    throw new CliError(
      `Unable to load celery application. Module ${spec} exports no Celery app (as default, \`app\` or \`celery\`)`,
      EX_USAGE,
    );
  }
  if (source.broker !== undefined && app.settings.broker !== source.broker) {
    throw new CliError(
      `--broker/CELERY_BROKER_URL ${redactUrl(source.broker)} differs from the broker of ${spec} (${redactUrl(app.settings.broker)}); build the app with \`broker: process.env.CELERY_BROKER_URL\``,
      EX_USAGE,
    );
  }
  return app;
}

/**
 * The app for a client command: the module's when `--app` is given, else
 * one built from the URLs. Connection retries are bounded so an unreachable
 * broker fails the command instead of hanging it.
 */
export async function openApp(
  source: AppSource,
  env: NodeJS.ProcessEnv,
  tsx: TsxLoader = async () => false,
): Promise<Celery> {
  if (source.appModule !== undefined) return loadAppModule(source, env, tsx);
  try {
    return new Celery({
      ...(source.broker !== undefined ? { broker: source.broker } : {}),
      ...(source.resultBackend !== undefined ? { backend: source.resultBackend } : {}),
      brokerConnectionMaxRetries: 2,
      brokerConnectionTimeout: 4,
    });
  } catch (err) {
    throw new CliError(redactUrl(err instanceof Error ? err.message : String(err)), EX_USAGE);
  }
}
