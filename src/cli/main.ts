import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { redactUrl } from "../redact.js";
import { GLOBAL_OPTIONS, helpText, parseCommandArgs, splitCommand } from "./args.js";
import { beatCommand } from "./commands/beat.js";
import { callCommand, purgeCommand, resultCommand } from "./commands/client.js";
import { eventsCommand } from "./commands/events.js";
import { controlCommand, inspectCommand, statusCommand } from "./commands/remote.js";
import { stubsCommand } from "./commands/stubs.js";
import { workerCommand } from "./commands/worker.js";
import type { CliContext, Command, TsxLoader } from "./context.js";
import { CliError, EX_FAILURE, EX_OK, EX_USAGE } from "./errors.js";

export const COMMANDS: Record<string, Command> = {
  beat: beatCommand,
  call: callCommand,
  control: controlCommand,
  events: eventsCommand,
  inspect: inspectCommand,
  purge: purgeCommand,
  result: resultCommand,
  status: statusCommand,
  stubs: stubsCommand,
  worker: workerCommand,
};

/** This package's version (package.json is two levels up from src/cli/ and from dist/cli/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    "Usage: celeriac [OPTIONS] COMMAND [ARGS]...",
    "",
    "  Celery's command line for TypeScript apps and mixed Python/TS deployments.",
    "",
    "Options:",
    ...Object.entries(GLOBAL_OPTIONS).map(
      ([name, o]) => `  ${`${o.short ? `-${o.short}, ` : ""}--${name}`.padEnd(24)} ${o.help}`,
    ),
    `  ${"--version".padEnd(24)} Show the version and exit.`,
    "",
    "Commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    "",
    "Run `celeriac COMMAND --help` for a command's options.",
    "",
  ].join("\n");
}

export interface MainOptions {
  /**
   * Whether `.ts` app modules load: true when tsx is already registered (a checkout running src/),
   * or a loader that registers it on first need (bin/celeriac.js with the compiled CLI).
   */
  tsx?: boolean | TsxLoader;
  env?: NodeJS.ProcessEnv;
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
}

function tsxLoader(given: boolean | TsxLoader | undefined): TsxLoader {
  if (typeof given !== "function") return async () => given ?? false;
  let loaded: Promise<boolean> | null = null;
  return () => {
    loaded ??= given();
    return loaded;
  };
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${question} [y/N]: `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * Runs one `celeriac` invocation; resolves to the exit code. Every failure
 * is one `Error: …` line on stderr (click's format), never a stack trace.
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const fail = (err: unknown): number => {
    const cli = err instanceof CliError ? err : null;
    const message = err instanceof Error ? err.message : String(err);
    const line = redactUrl(message).replace(/\s*\n\s*/g, " ");
    stderr.write(`Error: ${line}\n`);
    return cli ? cli.exitCode : EX_FAILURE;
  };
  try {
    const { command, rest } = splitCommand(argv);
    if (command === null) {
      if (rest.includes("--version")) {
        stdout.write(`${packageVersion()}\n`);
        return EX_OK;
      }
      if (rest.includes("--help") || rest.includes("-h") || rest.length === 0) {
        stdout.write(topHelp());
        return rest.length === 0 ? EX_USAGE : EX_OK;
      }
      throw new CliError(`No such option: ${rest[0]}`, EX_USAGE);
    }
    const cmd = COMMANDS[command];
    if (!cmd) throw new CliError(`No such command '${command}'.`, EX_USAGE);
    const { values, positionals } = parseCommandArgs(cmd.spec, rest);
    if (values.help === true) {
      stdout.write(helpText(cmd.spec));
      return EX_OK;
    }
    const ctx: CliContext = {
      values,
      positionals,
      env: options.env ?? process.env,
      out: (text) => stdout.write(`${text}\n`),
      err: (text) => stderr.write(`${text}\n`),
      confirm,
      tsx: tsxLoader(options.tsx),
    };
    return await cmd.run(ctx);
  } catch (err) {
    return fail(err);
  }
}
