import { flattenReplies } from "../../control/mailbox.js";
import { type CommandSpec, flagOption, listOption, numberOption } from "../args.js";
import type { CliContext, Command } from "../context.js";
import { CliError, EX_OK, EX_UNAVAILABLE, usageError } from "../errors.js";
import { nodesOnline, sayReply } from "../output.js";
import {
  CONTROL_COMMAND_META,
  commandListing,
  compileArguments,
  INSPECT_COMMAND_META,
  type RemoteCommandMeta,
} from "./remote-meta.js";
import { checkBroker, REMOTE_OPTIONS, remoteCommandError, withApp } from "./shared.js";

type RemoteType = "inspect" | "control";

/** celery/bin/control.py `_verify_command_name`. */
function verify(type: RemoteType, command: string | undefined): [string, RemoteCommandMeta] {
  const table = type === "inspect" ? INSPECT_COMMAND_META : CONTROL_COMMAND_META;
  if (command === undefined) throw usageError("Missing argument 'COMMAND'");
  const meta = table[command];
  if (!meta) {
    throw usageError(
      `Command ${command} not recognized. Available ${type} commands: ${Object.keys(table).join(", ")}`,
    );
  }
  return [command, meta];
}

function noReplies(): CliError {
  return new CliError("No nodes replied within time constraint", EX_UNAVAILABLE);
}

/**
 * `celery inspect` / `celery control`: broadcast, gather replies for
 * `--timeout` seconds, print `->  node: OK` blocks (or the JSON with `-j`)
 * and `N nodes online.`; no reply exits 69.
 */
async function runRemote(type: RemoteType, ctx: CliContext): Promise<number> {
  const table = type === "inspect" ? INSPECT_COMMAND_META : CONTROL_COMMAND_META;
  if (flagOption(ctx.values, "list")) {
    ctx.out(commandListing(`${type === "inspect" ? "Inspect" : "Control"} Commands`, table));
    return EX_OK;
  }
  const [command, meta] = verify(type, ctx.positionals[0]);
  const args = compileArguments(command, meta, ctx.positionals.slice(1));
  const timeout = numberOption(ctx.values, "timeout") ?? 1;
  const destination = listOption(ctx.values, "destination") ?? null;
  const json = flagOption(ctx.values, "json");
  const label = `${type} ${command}`;
  const replies = await withApp(ctx, async (app) => {
    await checkBroker(app, label);
    try {
      return await app.control.broadcast(command, { arguments: args, destination, timeout, reply: true });
    } catch (err) {
      throw remoteCommandError(label, err);
    }
  });
  if (replies.length === 0) throw noReplies();
  if (json) {
    // inspect prints the merged {node: reply}; control prints the list of replies, as Celery does.
    ctx.out(JSON.stringify(type === "inspect" ? flattenReplies(replies) : replies));
    return EX_OK;
  }
  for (const reply of replies) ctx.out(sayReply(reply, true));
  if (!flagOption(ctx.values, "quiet"))
    ctx.out(nodesOnline(type === "inspect" ? Object.keys(flattenReplies(replies)).length : replies.length));
  return EX_OK;
}

const listFlag = {
  list: { type: "boolean" as const, help: "List available commands and exit." },
};

export const inspectCommand: Command = {
  spec: {
    name: "inspect",
    summary: "Inspect the workers by sending them the COMMAND inspect command.",
    usage: "COMMAND [ARGS]...",
    options: { ...listFlag, ...REMOTE_OPTIONS },
    epilog: commandListing("Inspect Commands", INSPECT_COMMAND_META),
  } satisfies CommandSpec,
  run: (ctx) => runRemote("inspect", ctx),
};

export const controlCommand: Command = {
  spec: {
    name: "control",
    summary: "Send the COMMAND control command to the workers.",
    usage: "COMMAND [ARGS]...",
    options: { ...listFlag, ...REMOTE_OPTIONS },
    epilog: commandListing("Control Commands", CONTROL_COMMAND_META),
  },
  run: (ctx) => runRemote("control", ctx),
};

/** `celery status`: ping every worker, one `->  node: OK` line each, then the count. */
export const statusCommand: Command = {
  spec: {
    name: "status",
    summary: "Show list of workers that are online.",
    usage: "",
    options: REMOTE_OPTIONS,
  },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw usageError(`Got unexpected extra argument (${ctx.positionals[0]})`);
    const timeout = numberOption(ctx.values, "timeout") ?? 1;
    const destination = listOption(ctx.values, "destination") ?? null;
    const replies = await withApp(ctx, async (app) => {
      await checkBroker(app, "status");
      try {
        return await app.control.ping({ destination, timeout });
      } catch (err) {
        throw remoteCommandError("status", err);
      }
    });
    if (replies.length === 0) throw noReplies();
    const merged = flattenReplies(replies);
    if (flagOption(ctx.values, "json")) ctx.out(JSON.stringify(merged));
    else for (const reply of replies) ctx.out(sayReply(reply, false));
    if (!flagOption(ctx.values, "quiet")) ctx.out(nodesOnline(Object.keys(merged).length));
    return EX_OK;
  },
};
