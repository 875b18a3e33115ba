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
  /** Registers tsx on first call; resolves whether `.ts` app modules load. */
  tsx: TsxLoader;
}

/**
 * Registers tsx (once) and resolves whether `.ts` modules load. The CLI asks only when the app
 * module is a `.ts` file: tsx's loader runs in its own thread and costs about 33 MB of RSS, which a
 * worker of a compiled `.js` app should not carry.
 */
export type TsxLoader = () => Promise<boolean>;

export interface Command {
  spec: CommandSpec;
  /** Resolves to the exit code. */
  run(ctx: CliContext): Promise<number>;
}
