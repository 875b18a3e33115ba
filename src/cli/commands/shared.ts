import type { Celery } from "../../app.js";
import { ConnectionLostError } from "../../errors.js";
import { redactUrl } from "../../redact.js";
import { appSource, openApp } from "../app.js";
import type { OptionSpecs } from "../args.js";
import type { CliContext } from "../context.js";
import { CliError, EX_UNAVAILABLE, usageError } from "../errors.js";

/** `-t`, `-d`, `-j` of inspect/control/status (celery/bin/control.py "Remote Control Options"). */
export const REMOTE_OPTIONS: OptionSpecs = {
  timeout: {
    type: "string",
    short: "t",
    metavar: "FLOAT",
    help: "Timeout in seconds waiting for reply (default 1.0).",
  },
  destination: {
    type: "string",
    short: "d",
    metavar: "NODES",
    multiple: true,
    help: "Comma separated list of destination node names.",
  },
  json: { type: "boolean", short: "j", help: "Use json as output format." },
};

/** Network errors that mean "the broker is not there" (kombu's OperationalError). */
export function brokerUnreachable(err: unknown): boolean {
  if (err instanceof ConnectionLostError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (
    typeof code === "string" &&
    /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN)$/.test(code)
  ) {
    return true;
  }
  const message = err instanceof Error ? err.message : String(err);
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|connect ETIMEDOUT|Connection is closed|max retries|Reached the max retries/i.test(
    message,
  );
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return redactUrl(message.split("\n")[0] ?? message);
}

/**
 * celery/bin/base.py `handle_remote_command_error`: an unreachable broker
 * becomes "Could not connect to the message broker…", anything else
 * "Unable to run the `<command>` command…", both exit 69.
 */
export function remoteCommandError(command: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (brokerUnreachable(err)) {
    return new CliError(
      `Could not connect to the message broker. Please make sure your broker (e.g., RabbitMQ or Redis) is running and the connection settings are correct. Reason: ${reasonOf(err)}`,
      EX_UNAVAILABLE,
    );
  }
  return new CliError(`Unable to run the \`${command}\` command. Reason: ${reasonOf(err)}`, EX_UNAVAILABLE);
}

/** Opens the app from the flags/env, runs `body`, always closes the app. */
export async function withApp<T>(ctx: CliContext, body: (app: Celery) => Promise<T>): Promise<T> {
  const app = await openApp(appSource(ctx.values, ctx.env), ctx.env, ctx.tsx);
  try {
    return await body(app);
  } finally {
    await closeQuietly(app);
  }
}

/** Closing must not hang a command whose broker went away: bounded. */
export async function closeQuietly(app: Celery): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    app.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** Fails fast when the broker cannot be reached (`Transport.ping`, with the app's bounded retries). */
export async function checkBroker(app: Celery, command: string): Promise<void> {
  const transport = app.transport;
  if (!transport.ping) return;
  try {
    await transport.ping();
  } catch (err) {
    throw remoteCommandError(command, err);
  }
}

/** `--log-format` of worker and beat. */
export const LOG_FORMAT_OPTION: OptionSpecs[string] = {
  type: "string",
  metavar: "FORMAT",
  help: "text (Celery's log lines, default) or json (one JSON object per line, structured task fields).",
};

/** `--log-format`: text or json, else a usage error naming both. */
export function logFormat(raw: string | undefined): "text" | "json" {
  if (raw === undefined || raw === "text" || raw === "json") return raw ?? "text";
  throw usageError(`Invalid value for '--log-format': '${raw}' is not one of text, json.`);
}
