import type { CommandSpec, OptionValues } from "./args.js";

/** What a command gets: its parsed flags, its streams and the environment. */
export interface CliContext {
  values: OptionValues;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  /** One line (or block) to stdout. */
  out(text: string): void;
  /** One line (or block) to stderr. */
  err(text: string): void;
  /** Asks a yes/no question on the terminal (click.confirm); false when stdin is not a TTY. */
  confirm(question: string): Promise<boolean>;
  /** tsx is registered: `.ts` app modules load. */
  tsx: boolean;
}

export interface Command {
  spec: CommandSpec;
  /** Resolves to the exit code. */
  run(ctx: CliContext): Promise<number>;
}
