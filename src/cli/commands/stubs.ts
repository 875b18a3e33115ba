import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type CommandSpec, flagOption, stringOption } from "../args.js";
import type { Command } from "../context.js";
import { EX_OK, usageError } from "../errors.js";
import { introspectApp } from "../stubs/introspect.js";
import { renderStubs } from "../stubs/render.js";

/** `$VIRTUAL_ENV/bin/python` when a virtualenv is active (the app's own interpreter), else python3. */
function defaultPython(env: NodeJS.ProcessEnv): string {
  return env.VIRTUAL_ENV ? join(env.VIRTUAL_ENV, "bin", "python") : "python3";
}

/**
 * `celeriac stubs -A proj.celery:app -o src/tasks.gen.ts`: typed TS handles for the tasks of a
 * Python Celery app, read from the app itself by its own interpreter (no Celery counterpart).
 * Here `-A` names the Python app as `celery -A` takes it, not a JS module.
 */
export const stubsCommand: Command = {
  spec: {
    name: "stubs",
    summary:
      "Write typed TS handles for a Python Celery app's tasks (-A is the Python app, e.g. proj.celery:app).",
    usage: "",
    options: {
      output: {
        type: "string",
        short: "o",
        metavar: "FILE",
        help: "Write the module here (default: stdout).",
      },
      python: {
        type: "string",
        metavar: "PATH",
        help: "The app's Python interpreter (default: $VIRTUAL_ENV/bin/python, else python3).",
      },
      workdir: {
        type: "string",
        metavar: "DIR",
        help: "Directory the app is imported from (default: the current directory).",
      },
      "include-builtins": { type: "boolean", help: "Also stub Celery's own celery.* tasks." },
    },
  } satisfies CommandSpec,
  async run(ctx) {
    const appSpec = stringOption(ctx.values, "app");
    if (appSpec === undefined) {
      throw usageError(
        "Missing option '-A' / '--app': the Python Celery app, as `celery -A` takes it (e.g. proj.celery:app)",
      );
    }
    if (ctx.positionals.length > 0) throw usageError(`Got unexpected extra argument (${ctx.positionals[0]})`);
    const python = stringOption(ctx.values, "python") ?? defaultPython(ctx.env);
    const report = await introspectApp({
      // A path relative to where the command was run, not to --workdir (a bare name is looked up on PATH).
      python: python.includes("/") ? resolve(python) : python,
      appSpec,
      cwd: resolve(stringOption(ctx.values, "workdir") ?? process.cwd()),
      includeBuiltins: flagOption(ctx.values, "include-builtins"),
      env: ctx.env,
    });
    const text = renderStubs(report, { appSpec });
    const output = stringOption(ctx.values, "output");
    if (output === undefined) {
      ctx.out(text.trimEnd());
      return EX_OK;
    }
    mkdirSync(dirname(resolve(output)), { recursive: true });
    writeFileSync(output, text);
    if (ctx.values.quiet !== true) {
      ctx.err(`Wrote typed handles for ${report.tasks.length} task(s) of ${appSpec} to ${output}`);
    }
    return EX_OK;
  },
};
