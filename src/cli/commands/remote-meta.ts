import { usageError } from "../errors.js";

/**
 * The inspect/control commands the CLI offers, with how their positional
 * arguments become the request's `arguments` (celery/worker/control.py
 * `Panel.meta`: `args` converted in order, then `variadic` takes the rest).
 */
export interface RemoteCommandMeta {
  args?: [name: string, convert: (raw: string) => unknown][];
  variadic?: string;
  signature?: string;
  help: string;
}

const str = (s: string) => s;
const float = (s: string) => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw usageError(`'${s}' is not a valid float`);
  return n;
};
const int = (s: string) => {
  if (!/^-?\d+$/.test(s)) throw usageError(`'${s}' is not a valid integer`);
  return Number.parseInt(s, 10);
};
/** distutils `strtobool`, as Celery's `conf` argument. */
const strtobool = (s: string) => {
  const v = s.toLowerCase();
  if (["y", "yes", "t", "true", "on", "1"].includes(v)) return true;
  if (["n", "no", "f", "false", "off", "0"].includes(v)) return false;
  throw usageError(`invalid truth value '${s}'`);
};

export const INSPECT_COMMAND_META: Record<string, RemoteCommandMeta> = {
  active: { help: "List of tasks currently being executed." },
  active_queues: { help: "List the task queues a worker is currently consuming from." },
  clock: { help: "Get current logical clock value." },
  conf: {
    args: [["with_defaults", strtobool]],
    signature: "[include_defaults=False]",
    help: "List configuration.",
  },
  ping: { help: "Ping worker(s)." },
  query_task: {
    variadic: "ids",
    signature: "[id1 [id2 [... [idN]]]]",
    help: "Query for task information by id.",
  },
  registered: {
    variadic: "taskinfoitems",
    signature: "[attr1 [attr2 [... [attrN]]]]",
    help: "List of registered tasks.",
  },
  report: { help: "Information about Celery installation for bug reports." },
  reserved: { help: "List of currently reserved tasks, not including scheduled/active." },
  revoked: { help: "List of revoked task-ids." },
  scheduled: { help: "List of currently scheduled ETA/countdown tasks." },
  stats: { help: "Request worker statistics/information." },
};

export const CONTROL_COMMAND_META: Record<string, RemoteCommandMeta> = {
  add_consumer: {
    args: [
      ["queue", str],
      ["exchange", str],
      ["exchange_type", str],
      ["routing_key", str],
    ],
    signature: "<queue> [exchange [type [routing_key]]]",
    help: "Tell worker(s) to consume from task queue by name.",
  },
  cancel_consumer: {
    args: [["queue", str]],
    signature: "<queue>",
    help: "Tell worker(s) to stop consuming from task queue by name.",
  },
  disable_events: { help: "Tell worker(s) to stop sending task-related events." },
  enable_events: { help: "Tell worker(s) to send task-related events." },
  heartbeat: { help: "Tell worker(s) to send event heartbeat immediately." },
  pool_grow: { args: [["n", int]], signature: "[N=1]", help: "Grow pool by n processes/threads." },
  pool_shrink: { args: [["n", int]], signature: "[N=1]", help: "Shrink pool by n processes/threads." },
  rate_limit: {
    args: [
      ["task_name", str],
      ["rate_limit", str],
    ],
    signature: "<task_name> <rate_limit (e.g., 5/s | 5/m | 5/h)>",
    help: "Tell worker(s) to modify the rate limit for a task by type.",
  },
  revoke: {
    variadic: "task_id",
    signature: "[id1 [id2 [... [idN]]]]",
    help: "Revoke task by task id (or list of ids).",
  },
  shutdown: { help: "Shutdown worker(s)." },
  terminate: {
    args: [["signal", str]],
    variadic: "task_id",
    signature: "<signal> [id1 [id2 [... [idN]]]]",
    help: "Terminate task by task id (or list of ids).",
  },
  time_limit: {
    args: [
      ["task_name", str],
      ["soft", float],
      ["hard", float],
    ],
    signature: "<task_name> <soft_secs> [hard_secs]",
    help: "Tell worker(s) to modify the time limit for task by type.",
  },
};

/** celery/bin/control.py `_compile_arguments` + `_consume_arguments`. */
export function compileArguments(
  command: string,
  meta: RemoteCommandMeta,
  args: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fixed = meta.args ?? [];
  let i = 0;
  for (; i < args.length && i < fixed.length; i++) {
    const [name, convert] = fixed[i] as [string, (raw: string) => unknown];
    out[name] = convert(args[i] as string);
  }
  const rest = args.slice(i);
  if (meta.variadic) out[meta.variadic] = [...rest];
  else if (rest.length > 0) {
    throw usageError(`Command '${command}' takes arguments: ${meta.signature ?? "(none)"}`);
  }
  return out;
}

/** The `--list` / help listing (`_list_option`). */
export function commandListing(title: string, commands: Record<string, RemoteCommandMeta>): string {
  const rows = Object.entries(commands).map(([name, m]) => [
    m.signature ? `${name} ${m.signature}` : name,
    m.help,
  ]);
  const width = Math.max(...rows.map(([left]) => (left as string).length));
  return [`${title}:`, ...rows.map(([left, help]) => `  ${(left as string).padEnd(width)}  ${help}`)].join(
    "\n",
  );
}
