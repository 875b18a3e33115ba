import { parseArgs } from "node:util";
import { usageError } from "./errors.js";

/** One option, in node:util parseArgs' shape plus the help line. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help (`--queue QUEUE`). */
  metavar?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Parsed option values by long name. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandSpec {
  name: string;
  /** `celery <name> --help` first line. */
  summary: string;
  /** Positional part of the usage line, e.g. `<task_id>`. */
  usage: string;
  options: OptionSpecs;
  /** Extra text after the options (e.g. the list of inspect commands). */
  epilog?: string;
}

/**
 * Options every command takes (celery/bin/celery.py's group options that
 * apply here). Given before or after the command name.
 */
export const GLOBAL_OPTIONS: OptionSpecs = {
  app: {
    type: "string",
    short: "A",
    metavar: "MODULE",
    help: "App module (.js or .ts) exporting a Celery app as default or `app`.",
  },
  broker: {
    type: "string",
    short: "b",
    metavar: "URL",
    help: "Broker URL (default: $CELERY_BROKER_URL, else the app's).",
  },
  "result-backend": {
    type: "string",
    metavar: "URL",
    help: "Result backend URL (default: $CELERY_RESULT_BACKEND).",
  },
  quiet: { type: "boolean", short: "q", help: "Print less." },
  "no-color": { type: "boolean", help: "Accepted for Celery parity; output is never colored." },
  help: { type: "boolean", short: "h", help: "Show this message and exit." },
};

/**
 * Splits `[global options] <command> [rest]`: returns the command name and
 * the tokens to parse with that command's options (globals moved after it).
 */
export function splitCommand(argv: readonly string[]): { command: string | null; rest: string[] } {
  const before: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const token = argv[i] as string;
    if (!token.startsWith("-") || token === "-") break;
    before.push(token);
    if (!token.includes("=") && takesValue(token)) {
      const value = argv[i + 1];
      if (value !== undefined) before.push(value);
      i++;
    }
    i++;
  }
  const command = argv[i] ?? null;
  return { command, rest: [...before, ...argv.slice(i + 1)] };
}

function takesValue(flag: string): boolean {
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) {
    if (spec.type !== "string") continue;
    if (flag === `--${name}` || (spec.short && flag === `-${spec.short}`)) return true;
  }
  return false;
}

/**
 * node:util parseArgs over the command's and the global options; its
 * errors become one-line usage errors (exit 2, as click's).
 */
export function parseCommandArgs(
  spec: CommandSpec,
  args: readonly string[],
): { values: OptionValues; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...GLOBAL_OPTIONS, ...spec.options })) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (err) {
    throw usageError(parseErrorLine(err));
  }
}

/** parseArgs' messages carry a hint sentence after the first; keep the first, with the command to try. */
function parseErrorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split(/\.\s|\n/)[0] ?? message;
  return first.replace(/\.$/, "");
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function flagOption(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** click's `COMMA_SEPARATED_LIST`; repeated flags are joined too. */
export function listOption(values: OptionValues, name: string): string[] | undefined {
  const v = values[name];
  const raw =
    typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const items = raw
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return items.length > 0 ? items : undefined;
}

/** A float option (click `type=float`): a usage error naming the flag when it is not a number. */
export function numberOption(values: OptionValues, name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) {
    throw usageError(`Invalid value for '--${name}': '${raw}' is not a valid float.`);
  }
  return n;
}

/** An integer option (click `type=int`). */
export function intOption(values: OptionValues, name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw.trim())) {
    throw usageError(`Invalid value for '--${name}': '${raw}' is not a valid integer.`);
  }
  return Number.parseInt(raw, 10);
}

/** The `--help` text of a command, in click's layout. */
export function helpText(spec: CommandSpec): string {
  const lines = [
    `Usage: celeriac ${spec.name} [OPTIONS] ${spec.usage}`.trimEnd(),
    "",
    `  ${spec.summary}`,
    "",
  ];
  const rows = (title: string, specs: OptionSpecs) => {
    lines.push(`${title}:`);
    for (const [name, o] of Object.entries(specs)) {
      const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.metavar ?? name.toUpperCase().replace(/-/g, "_")}` : ""}`;
      lines.push(`  ${flag.padEnd(30)} ${o.help}`);
    }
    lines.push("");
  };
  if (Object.keys(spec.options).length > 0) rows("Options", spec.options);
  rows("Global Options", GLOBAL_OPTIONS);
  if (spec.epilog) lines.push(spec.epilog, "");
  return lines.join("\n");
}
