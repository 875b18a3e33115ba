import { softwareInfo } from "../events/event.js";
import { pySetRepr, pyStrRepr } from "../protocol/py-repr.js";
import type { WorkerControlHost } from "./host.js";
import { revokeByStampedHeaders } from "./revoke-stamped.js";

/**
 * The remote-control commands a worker answers, by name, as
 * celery/worker/control.py implements them (reply shapes `{"ok": …}` /
 * `{"error": …}` included). A handler may be async; the node awaits it.
 */
export type ControlHandler = (host: WorkerControlHost, args: Record<string, unknown>) => unknown;

const ok = (value: unknown) => ({ ok: value });
const nok = (value: unknown) => ({ error: value });

function maybeList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? [value] : [];
}

const SIGNUMS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

/** celery/platforms.py `signals.signum`: `TERM`, `SIGTERM` or a number. */
export function signum(signal: unknown): number {
  if (typeof signal === "number") return signal;
  if (typeof signal !== "string" || signal === "") return 15;
  const upper = signal.toUpperCase();
  return SIGNUMS[upper.startsWith("SIG") ? upper : `SIG${upper}`] ?? 15;
}

function toNumberOrNull(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** `_revoke` then `revoke`'s reply (5.7 backend rule left to the host). */
async function revoke(host: WorkerControlHost, args: Record<string, unknown>): Promise<unknown> {
  const ids = [...new Set(maybeList(args.task_id))];
  host.revoked.update(ids);
  if (host.markRevoked) {
    for (const id of ids) {
      if (host.findRequest(id)?.state === "active") continue;
      await host.markRevoked(id).catch(() => undefined);
    }
  }
  if (args.terminate === true) {
    const sig = typeof args.signal === "string" ? args.signal : "SIGTERM";
    const terminated = ids.filter((id) => host.terminate(id, sig));
    if (terminated.length === 0) return ok("terminate: tasks unknown");
    return ok(`terminate: ${terminated.join(", ")}`);
  }
  return ok(`tasks ${pySetRepr(ids)} flagged as revoked`);
}

/** Python's `float(text)` syntax (decimal, exponent, inf/infinity/nan, surrounding whitespace). */
const PY_FLOAT =
  /^\s*[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf(?:inity)?|nan)\s*$/i;

/**
 * What celery/utils/time.py `rate(r)` raises for a rate string, as the `rate_limit` reply shows it
 * (5.7.0): an unknown unit is a KeyError that escapes the handler (`{"error": "KeyError('y')"}`);
 * a number `float()` refuses is the handler's `Invalid rate limit string: ValueError(...)`.
 */
function rateError(rate: string): string | null {
  if (rate === "") return null;
  const slash = rate.indexOf("/");
  const ops = slash < 0 ? rate : rate.slice(0, slash);
  const unit = slash < 0 ? "s" : rate.slice(slash + 1) || "s";
  if (!["s", "m", "h"].includes(unit)) return `KeyError(${pyStrRepr(unit)})`;
  if (!PY_FLOAT.test(ops)) {
    const message = `could not convert string to float: ${pyStrRepr(ops)}`;
    return `Invalid rate limit string: ValueError(${pyStrRepr(message)})`;
  }
  return null;
}

const DEFAULT_TASK_INFO_ITEMS = ["exchange", "routing_key", "rate_limit"];

function pyStr(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export const CONTROL_COMMANDS: Record<string, ControlHandler> = {
  ping: () => ok("pong"),
  clock: (host) => ({ clock: host.clock.value }),
  hello: (host, args) => {
    if (args.from_node === host.hostname) return undefined;
    host.revoked.merge(args.revoked);
    host.revoked.purge();
    return { revoked: host.revoked.ids(), clock: host.clock.forward() };
  },
  stats: (host) => host.stats(),
  active: (host, args) => host.active(Boolean(args.safe)),
  reserved: (host) => host.reserved(),
  scheduled: (host) => host.scheduled(),
  revoked: (host) => host.revoked.ids(),
  registered: (host, args) => {
    const items = (
      maybeList(args.taskinfoitems).length > 0 ? maybeList(args.taskinfoitems) : DEFAULT_TASK_INFO_ITEMS
    ).filter((item) => !item.startsWith("_"));
    const builtins = args.builtins === true;
    return host
      .tasks()
      .filter((t) => builtins || !t.name.startsWith("celery."))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((t) => {
        const fields = items
          .filter((item) => t.attributes[item] !== null && t.attributes[item] !== undefined)
          .map((item) => `${item}=${pyStr(t.attributes[item])}`);
        return fields.length > 0 ? `${t.name} [${fields.join(" ")}]` : t.name;
      });
  },
  query_task: (host, args) => {
    const out: Record<string, unknown> = {};
    for (const id of maybeList(args.ids)) {
      const found = host.findRequest(id);
      if (found) out[id] = [found.state, found.info];
    }
    return out;
  },
  active_queues: (host) => host.activeQueues(),
  conf: (host, args) => host.conf?.(args.with_defaults === true || args.with_defaults === "true") ?? {},
  report: (host) => ok(host.report?.() ?? `software -> ${softwareInfo().sw_ident}:${softwareInfo().sw_ver}`),
  // A TS worker has no autoscaler and no pool restart: Celery's worker raises these then.
  autoscale: () => nok("ValueError('Autoscale not enabled')"),
  pool_restart: () => nok("ValueError('Pool restarts not enabled')"),
  revoke,
  revoke_by_stamped_headers: revokeByStampedHeaders,
  terminate: (host, args) => revoke(host, { task_id: args.task_id, terminate: true, signal: args.signal }),
  rate_limit: (host, args) => {
    const rate = args.rate_limit;
    const invalid = typeof rate === "string" ? rateError(rate) : null;
    if (invalid) return nok(invalid);
    const err = host.setRateLimit(String(args.task_name), (rate as string | number | null) ?? null);
    if (err !== null) return nok(err);
    if (!rate) return ok("rate limit disabled successfully");
    return ok("new rate limit set successfully");
  },
  time_limit: (host, args) => {
    const err = host.setTimeLimit(
      String(args.task_name),
      toNumberOrNull(args.soft),
      toNumberOrNull(args.hard),
    );
    return err === null ? ok("time limits set successfully") : nok(err);
  },
  enable_events: (host) => {
    const d = host.events;
    if (d === null) return nok("event dispatcher unavailable");
    if (d.groups.size > 0 && !d.groups.has("task")) {
      d.groups.add("task");
      return ok("task events enabled");
    }
    return ok("task events already enabled");
  },
  disable_events: (host) => {
    const d = host.events;
    if (d === null) return nok("event dispatcher unavailable");
    if (d.groups.has("task")) {
      d.groups.delete("task");
      return ok("task events disabled");
    }
    return ok("task events already disabled");
  },
  heartbeat: (host) => {
    host.events?.send("worker-heartbeat", { freq: 5, ...softwareInfo() });
    return undefined;
  },
  add_consumer: (host, args) => {
    const queue = String(args.queue);
    host.addConsumer(
      queue,
      typeof args.exchange === "string" ? args.exchange : null,
      typeof args.exchange_type === "string" ? args.exchange_type : "direct",
      typeof args.routing_key === "string" ? args.routing_key : null,
    );
    return ok(`add consumer ${queue}`);
  },
  cancel_consumer: (host, args) => {
    const queue = String(args.queue);
    host.cancelConsumer(queue);
    return ok(`no longer consuming from ${queue}`);
  },
  pool_grow: (host, args) => {
    if (!host.poolGrow) return nok("pool_grow is not supported by this worker");
    host.poolGrow(toNumberOrNull(args.n) ?? 1);
    return ok("pool will grow");
  },
  pool_shrink: (host, args) => {
    if (!host.poolShrink) return nok("pool_shrink is not supported by this worker");
    const err = host.poolShrink(toNumberOrNull(args.n) ?? 1);
    if (err !== null) return nok(err);
    return ok("pool will shrink");
  },
  shutdown: (host) => {
    // Celery raises WorkerShutdown, so the caller gets no reply from this node.
    setImmediate(() => host.shutdown());
    return SHUTDOWN_NO_REPLY;
  },
};

/** Marker: the command ends the worker, no reply is sent (Celery's WorkerShutdown propagates). */
export const SHUTDOWN_NO_REPLY = Symbol("shutdown");

/** Command aliases Celery registers (`dump_active` …). */
const ALIASES: Record<string, string> = {
  dump_conf: "conf",
  dump_schedule: "scheduled",
  dump_reserved: "reserved",
  dump_active: "active",
  dump_revoked: "revoked",
  dump_tasks: "registered",
};
for (const [alias, name] of Object.entries(ALIASES)) {
  const handler = CONTROL_COMMANDS[name];
  if (handler) CONTROL_COMMANDS[alias] = handler;
}
