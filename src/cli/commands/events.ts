import type { EventBody } from "../../events/event.js";
import type { State } from "../../events/state.js";
import { type CommandSpec, flagOption, numberOption } from "../args.js";
import type { CliContext, Command } from "../context.js";
import { EX_OK, usageError } from "../errors.js";
import { pyStrOf } from "../output.js";
import { checkBroker, remoteCommandError, withApp } from "./shared.js";

/** celery/events/dumper.py `HUMAN_TYPES` / `humanize_type`. */
function humanizeType(type: string): string {
  const human: Record<string, string> = {
    "worker-offline": "shutdown",
    "worker-online": "started",
    "worker-heartbeat": "heartbeat",
  };
  return human[type] ?? type.replace(/-/g, " ");
}

/** Python `str(datetime.fromtimestamp(ts, timezone.utc))`: `2026-01-02 03:04:05.678901+00:00`. */
export function pyUtcTimestamp(seconds: number): string {
  const iso = new Date(Math.floor(seconds * 1000)).toISOString(); // 2026-01-02T03:04:05.678Z
  const micros = String(Math.round((seconds % 1) * 1e6) % 1e6).padStart(6, "0");
  const frac = micros === "000000" ? "" : `.${micros}`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac}+00:00`;
}

/** celery/events/dumper.py `Dumper.on_event`: one line per event. */
export function dumpLine(event: EventBody, taskNames: Map<string, string>): string {
  const ev: Record<string, unknown> = { ...event };
  const ts = typeof ev.timestamp === "number" ? ev.timestamp : Date.now() / 1000;
  const type = String(ev.type ?? "").toLowerCase();
  const hostname = String(ev.hostname ?? "");
  for (const k of ["timestamp", "type", "hostname", "local_received"]) delete ev[k];
  let task: string | null = null;
  if (type.startsWith("task-")) {
    const uuid = String(ev.uuid ?? "");
    delete ev.uuid;
    if (type === "task-received" || type === "task-sent") {
      task = `${pyStrOf(ev.name)}(${uuid}) args=${pyStrOf(ev.args)} kwargs=${pyStrOf(ev.kwargs)}`;
      taskNames.set(uuid, task);
      for (const k of ["name", "args", "kwargs"]) delete ev[k];
    } else {
      task = taskNames.get(uuid) ?? "";
    }
  }
  const fields = Object.keys(ev)
    .sort()
    .map((k) => `${k}=${pyStrOf(ev[k])}`)
    .join(", ");
  const sep = fields ? ":" : "";
  const head = `${hostname} [${pyUtcTimestamp(ts)}] ${humanizeType(type)}${sep}`;
  return task === null ? `${head} ${fields}` : `${head} ${task} ${fields}`;
}

function cell(value: unknown, width: number): string {
  const s = value === null || value === undefined ? "" : String(value);
  return s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width);
}

/** The live table: workers (by heartbeat) then the most recent tasks. */
export function renderTable(state: State, nowSeconds: number, maxTasks = 20): string {
  const lines = [
    `celeriac events — ${new Date(nowSeconds * 1000).toISOString()}  (Ctrl-C to quit)`,
    "",
    `${cell("WORKER", 36)} ${cell("STATUS", 8)} ${cell("ACTIVE", 7)} ${cell("PROCESSED", 10)} LAST HEARTBEAT`,
  ];
  for (const w of state.workers.values()) {
    const last = w.heartbeats[w.heartbeats.length - 1];
    const age = last === undefined ? "-" : `${Math.max(0, nowSeconds - last).toFixed(1)}s ago`;
    lines.push(
      `${cell(w.hostname, 36)} ${cell(w.alive(nowSeconds) ? "ONLINE" : "OFFLINE", 8)} ${cell(w.active ?? "-", 7)} ${cell(w.processed ?? "-", 10)} ${age}`,
    );
  }
  lines.push(
    "",
    `${cell("TASK ID", 36)} ${cell("NAME", 28)} ${cell("STATE", 9)} ${cell("WORKER", 24)} RUNTIME`,
  );
  const tasks = [...state.tasks.values()]
    .sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0))
    .slice(0, maxTasks);
  for (const t of tasks) {
    const runtime = typeof t.fields.runtime === "number" ? `${t.fields.runtime.toFixed(3)}s` : "";
    lines.push(
      `${cell(t.uuid, 36)} ${cell(t.name, 28)} ${cell(t.state, 9)} ${cell(t.worker?.hostname, 24)} ${runtime}`,
    );
  }
  return lines.join("\n");
}

/** Resolves on the first SIGINT/SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

const spec: CommandSpec = {
  name: "events",
  summary: "Event-stream utilities: a live table of workers and tasks, or a dump of every event.",
  usage: "",
  options: {
    dump: { type: "boolean", short: "d", help: "Dump events to stdout as they arrive." },
    frequency: {
      type: "string",
      short: "F",
      metavar: "FLOAT",
      help: "Table refresh interval in seconds (default 1.0).",
    },
  },
};

/** `celery events` (curses monitor, here a table redrawn in place) and `celery events --dump`. */
export const eventsCommand: Command = {
  spec,
  async run(ctx: CliContext) {
    if (ctx.positionals.length > 0) throw usageError(`Got unexpected extra argument (${ctx.positionals[0]})`);
    const dump = flagOption(ctx.values, "dump");
    const frequency = numberOption(ctx.values, "frequency") ?? 1;
    if (frequency <= 0) throw usageError("Invalid value for '--frequency': must be > 0");
    return withApp(ctx, async (app) => {
      await checkBroker(app, "events");
      const state = app.events.State();
      const taskNames = new Map<string, string>();
      if (dump) ctx.out("-> evdump: starting capture...");
      let receiver: Awaited<ReturnType<typeof app.events.receiver>>;
      try {
        receiver = await app.events.receiver(
          { "*": (event) => (dump ? ctx.out(dumpLine(event, taskNames)) : state.event(event)) },
          { wakeup: () => app.control.heartbeat() },
        );
      } catch (err) {
        throw remoteCommandError("events", err);
      }
      let timer: NodeJS.Timeout | undefined;
      if (!dump) {
        const draw = () => ctx.out(`\x1b[H\x1b[2J${renderTable(state, Date.now() / 1000)}`);
        draw();
        timer = setInterval(draw, frequency * 1000);
      }
      await untilSignal();
      clearInterval(timer);
      await receiver.close();
      return EX_OK;
    });
  },
};
