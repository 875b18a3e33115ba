/**
 * Exit codes and the one error type the CLI prints as a single line. They
 * follow Celery's CLI (click): usage errors exit 2, remote commands with no
 * reply or an unreachable broker exit 69 (`EX_UNAVAILABLE`, celery/platforms.py),
 * other failures 1.
 */
export const EX_OK = 0;
export const EX_FAILURE = 1;
export const EX_USAGE = 2;
export const EX_UNAVAILABLE = 69;

/** An error shown as `Error: <message>` (click's `ClickException.show`) with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EX_FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** click's `UsageError`: exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EX_USAGE);
}
