import type { SendTaskOptions } from "../../canvas/options.js";
import { type CommandSpec, flagOption, listOption, numberOption, stringOption } from "../args.js";
import type { Command } from "../context.js";
import { CliError, EX_OK, usageError } from "../errors.js";
import { pluralize, pyStrOf } from "../output.js";
import { checkBroker, remoteCommandError, withApp } from "./shared.js";

function parseJson(flag: string, raw: string, want: "array" | "object"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw usageError(`Invalid value for '--${flag}': ${(err as Error).message}`);
  }
  const ok =
    want === "array"
      ? Array.isArray(value)
      : value !== null && typeof value === "object" && !Array.isArray(value);
  // celery/bin/base.py JSON_ARRAY / JSON_OBJECT
  if (!ok) throw usageError(`Invalid value for '--${flag}': ${raw} is not an ${want}.`);
  return value;
}

/** click `ISO8601`: a date-time (the CLI assumes UTC when the text has no offset). */
function parseDate(flag: string, raw: string): Date {
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`;
  const d = new Date(text);
  if (Number.isNaN(d.getTime()))
    throw usageError(`Invalid value for '--${flag}': ${raw} is not a valid ISO 8601 date.`);
  return d;
}

/** celery/bin/call.py: send by name, print the task id. */
export const callCommand: Command = {
  spec: {
    name: "call",
    summary: "Call a task by name.",
    usage: "NAME",
    options: {
      args: { type: "string", short: "a", metavar: "JSON_ARRAY", help: "Positional arguments (default [])." },
      kwargs: { type: "string", short: "k", metavar: "JSON_OBJECT", help: "Keyword arguments (default {})." },
      eta: { type: "string", metavar: "ISO8601", help: "Scheduled time." },
      countdown: { type: "string", metavar: "FLOAT", help: "ETA in seconds from now." },
      expires: {
        type: "string",
        metavar: "ISO8601|FLOAT",
        help: "Expiry time (a date, or seconds from now).",
      },
      serializer: { type: "string", metavar: "NAME", help: "Task serializer (default json)." },
      queue: { type: "string", metavar: "QUEUE", help: "Custom queue name." },
      exchange: { type: "string", metavar: "EXCHANGE", help: "Custom exchange name." },
      "routing-key": { type: "string", metavar: "KEY", help: "Custom routing key." },
    },
  } satisfies CommandSpec,
  async run(ctx) {
    const [name, extra] = ctx.positionals;
    if (name === undefined) throw usageError("Missing argument 'NAME'");
    if (extra !== undefined) throw usageError(`Got unexpected extra argument (${extra})`);
    const v = ctx.values;
    const args = parseJson("args", stringOption(v, "args") ?? "[]", "array") as unknown[];
    const kwargs = parseJson("kwargs", stringOption(v, "kwargs") ?? "{}", "object") as Record<
      string,
      unknown
    >;
    const options: SendTaskOptions = {};
    const countdown = numberOption(v, "countdown");
    if (countdown !== undefined) options.countdown = countdown;
    const eta = stringOption(v, "eta");
    if (eta !== undefined) options.eta = parseDate("eta", eta);
    const expires = stringOption(v, "expires");
    if (expires !== undefined) {
      options.expires = Number.isFinite(Number(expires)) ? Number(expires) : parseDate("expires", expires);
    }
    const serializer = stringOption(v, "serializer");
    if (serializer !== undefined)
      options.serializer = serializer as NonNullable<SendTaskOptions["serializer"]>;
    const queue = stringOption(v, "queue");
    if (queue !== undefined) options.queue = queue;
    const exchange = stringOption(v, "exchange");
    if (exchange !== undefined) options.exchange = exchange;
    const routingKey = stringOption(v, "routing-key");
    if (routingKey !== undefined) options.routingKey = routingKey;
    const id = await withApp(ctx, async (app) => {
      await checkBroker(app, "call");
      try {
        return (await app.sendTask(name, args, kwargs, options)).id;
      } catch (err) {
        throw remoteCommandError("call", err);
      }
    });
    ctx.out(id);
    return EX_OK;
  },
};

/** celery/bin/result.py: wait for the result and print it (or the traceback with `--traceback`). */
export const resultCommand: Command = {
  spec: {
    name: "result",
    summary: "Print the return value for a given task id.",
    usage: "TASK_ID",
    options: {
      task: {
        type: "string",
        short: "t",
        metavar: "NAME",
        help: "Name of task (accepted for Celery parity).",
      },
      traceback: { type: "boolean", help: "Show traceback instead." },
      timeout: {
        type: "string",
        metavar: "FLOAT",
        help: "Seconds to wait for the result (default: forever, as Celery).",
      },
    },
  },
  async run(ctx) {
    const [id, extra] = ctx.positionals;
    if (id === undefined) throw usageError("Missing argument 'TASK_ID'");
    if (extra !== undefined) throw usageError(`Got unexpected extra argument (${extra})`);
    const timeoutSeconds = numberOption(ctx.values, "timeout");
    const wantTraceback = flagOption(ctx.values, "traceback");
    const text = await withApp(ctx, async (app) => {
      if (app.backend === null) {
        throw new CliError("No result backend is configured (use --result-backend or CELERY_RESULT_BACKEND)");
      }
      const result = app.asyncResult(id);
      try {
        if (wantTraceback) {
          // Celery's `AsyncResult.traceback` reads the stored meta without waiting.
          await result.meta();
          return result.traceback ?? "None";
        }
        const value = await result.get(
          timeoutSeconds !== undefined ? { timeout: timeoutSeconds * 1000 } : {},
        );
        return pyStrOf(value);
      } catch (err) {
        if (err instanceof CliError) throw err;
        // The task's own error, as Celery's CLI lets `get()` raise it: the exception line.
        const name = (err as { name?: string }).name ?? "Error";
        throw new CliError(`${name}: ${(err as Error).message}`);
      }
    });
    ctx.out(text);
    return EX_OK;
  },
};

/** celery/bin/purge.py: empty the named queues (default: the app's queues), with a prompt unless `-f`. */
export const purgeCommand: Command = {
  spec: {
    name: "purge",
    summary: "Erase all messages from all known task queues. There's no undo operation for this command.",
    usage: "",
    options: {
      force: { type: "boolean", short: "f", help: "Don't prompt for verification." },
      queues: {
        type: "string",
        short: "Q",
        metavar: "QUEUES",
        multiple: true,
        help: "Comma separated list of queue names to purge.",
      },
      "exclude-queues": {
        type: "string",
        short: "X",
        metavar: "QUEUES",
        multiple: true,
        help: "Comma separated list of queues names not to purge.",
      },
    },
  },
  async run(ctx) {
    return withApp(ctx, async (app) => {
      const known = app.settings.taskQueues?.map((q) => q.name) ?? [];
      const queues = new Set(
        listOption(ctx.values, "queues") ?? (known.length > 0 ? known : [app.settings.taskDefaultQueue]),
      );
      for (const q of listOption(ctx.values, "exclude-queues") ?? []) queues.delete(q);
      const names = [...queues].sort();
      const qnum = names.length;
      if (qnum === 0) return EX_OK;
      const headline = pluralize(qnum, "queue");
      if (!flagOption(ctx.values, "force")) {
        const ok = await ctx.confirm(
          `WARNING: This will remove all tasks from ${headline}: ${names.join(", ")}.\n         There is no undo for this operation!\n\n(to skip this prompt use the -f option)\nAre you sure you want to delete all tasks?`,
        );
        if (!ok) throw new CliError("Aborted!");
      }
      await checkBroker(app, "purge");
      let messages = 0;
      for (const q of names) {
        try {
          messages += await app.transport.purge(q);
        } catch (err) {
          throw remoteCommandError("purge", err);
        }
      }
      ctx.out(
        messages > 0
          ? `Purged ${messages} ${pluralize(messages, "message")} from ${qnum} known task ${headline}.`
          : `No messages purged from ${qnum} ${headline}.`,
      );
      return EX_OK;
    });
  },
};
