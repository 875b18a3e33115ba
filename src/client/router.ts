import type { Settings } from "../config.js";
import type { QueueSetting, RouteTarget, TaskRoutes } from "../config-values.js";
import { ConfigError } from "../errors.js";
import type { QueueSpec } from "../transports/transport.js";
import { routeGlobToRegExp } from "./route-glob.js";

/**
 * Picks queue, exchange and routing key for a task the way Celery does
 * (celery/app/routes.py `Router.route`, `MapRoute`,
 * `expand_destination`; celery/app/amqp.py `send_task_message`):
 *
 * 1. `task_routes` entries in order: exact name, then glob patterns
 *    (fnmatch: the whole name must match, `*` may match nothing),
 *    `[pattern, route]` pairs, router functions. First hit wins.
 * 2. Explicit `sendTask` options override the route's values.
 * 3. No queue: the default queue (`task_default_queue`, `celery`).
 * 4. No explicit exchange/routing key and a direct queue: publish to the
 *    anonymous exchange `""` with the queue name as routing key (what
 *    kombu writes in `delivery_info`). Otherwise the queue's exchange and
 *    routing key fill in what was not given.
 *
 * The queue is always declared (bound) before publishing (`declare=[queue]`).
 */
export interface RouteOptions {
  queue?: string | undefined;
  exchange?: string | undefined;
  exchangeType?: "direct" | "topic" | "fanout" | undefined;
  routingKey?: string | undefined;
  priority?: number | undefined;
}

export interface ResolvedRoute {
  exchange: string;
  routingKey: string;
  queue: QueueSpec;
  /** From the route (`task_routes` can set `priority`); explicit options win. */
  priority: number | undefined;
}

interface CompiledRoute {
  match(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): RouteTarget | null;
}

/** Celery's `re.match`: a RegExp route matches from the start of the name (not to the end). */
function matchesFromStart(re: RegExp, name: string): boolean {
  const m = re.exec(name);
  return m !== null && m.index === 0;
}

/**
 * How `MapRoute.__init__` (celery/app/routes.py, 5.7.0) reads one key: a RegExp is used as it is,
 * a string holding `*` is a glob ({@link routeGlobToRegExp}), any other string is an exact name.
 */
function keyMatcher(key: string | RegExp): (name: string) => boolean {
  if (typeof key !== "string") return (name) => matchesFromStart(key, name);
  if (!key.includes("*")) return (name) => name === key;
  const re = routeGlobToRegExp(key);
  return (name) => re.test(name);
}

function compileMap(map: Record<string, RouteTarget>): CompiledRoute {
  const exact = new Map<string, RouteTarget>();
  const patterns: [(name: string) => boolean, RouteTarget][] = [];
  for (const [key, target] of Object.entries(map)) {
    if (key.includes("*")) patterns.push([keyMatcher(key), target]);
    else exact.set(key, target);
  }
  return {
    match(name) {
      const hit = exact.get(name);
      if (hit !== undefined) return hit;
      for (const [matches, target] of patterns) if (matches(name)) return target;
      return null;
    },
  };
}

function compileRoutes(routes: TaskRoutes): CompiledRoute[] {
  const entries = Array.isArray(routes) ? routes : [routes];
  return entries.map((entry): CompiledRoute => {
    if (typeof entry === "function") {
      return { match: (name, args, kwargs, options) => entry(name, args, kwargs, options) ?? null };
    }
    if (Array.isArray(entry)) {
      const [pattern, target] = entry;
      const matches = keyMatcher(pattern);
      return { match: (name) => (matches(name) ? target : null) };
    }
    return compileMap(entry);
  });
}

function normalizeTarget(target: RouteTarget): RouteOptions {
  if (typeof target === "string") return { queue: target };
  const out: RouteOptions = {};
  if (target.queue !== undefined) out.queue = target.queue;
  if (target.exchange !== undefined) out.exchange = target.exchange;
  if (target.exchangeType !== undefined) out.exchangeType = target.exchangeType;
  const rk = target.routingKey ?? target.routing_key;
  if (rk !== undefined) out.routingKey = rk;
  if (target.priority !== undefined) out.priority = target.priority;
  return out;
}

function toQueueSpec(q: QueueSetting): QueueSpec {
  const spec: QueueSpec = {
    name: q.name,
    exchange: q.exchange ?? q.name,
    exchangeType: q.exchangeType ?? "direct",
    routingKey: q.routingKey ?? q.name,
    durable: q.durable ?? true,
    autoDelete: q.autoDelete ?? false,
    exclusive: q.exclusive ?? false,
  };
  if (q.queueArguments) spec.arguments = q.queueArguments;
  return spec;
}

/** Most on-demand queue specs a router keeps (names built per send must not grow it forever). */
const MAX_CREATED_QUEUES = 4096;

export class Router {
  private readonly settings: Settings;
  private readonly compiled: CompiledRoute[];
  private readonly queues = new Map<string, QueueSpec>();
  /** Queues made on demand (default queue, `task_create_missing_queues`), by name. */
  private readonly created = new Map<string, QueueSpec>();

  constructor(settings: Settings) {
    this.settings = settings;
    this.compiled = compileRoutes(settings.taskRoutes);
    for (const q of settings.taskQueues) this.queues.set(q.name, toQueueSpec(q));
  }

  /** Exchange types known from `task_queues` (the Redis transport needs them for topic/fanout). */
  exchangeTypes(): Map<string, "direct" | "topic" | "fanout"> {
    const types = new Map<string, "direct" | "topic" | "fanout">();
    for (const q of this.queues.values()) types.set(q.exchange, q.exchangeType);
    return types;
  }

  /**
   * The app's queue table (`app.amqp.queues`): `taskQueues`, or the default
   * queue alone when there are none (celery/app/amqp.py `AMQP.Queues`).
   */
  appQueues(): QueueSpec[] {
    if (this.queues.size > 0) return [...this.queues.keys()].map((name) => this.queue(name));
    return [this.queue(this.settings.taskDefaultQueue)];
  }

  /** The queue named `name` (`app.amqp.queues[name]`, created on demand with `task_create_missing_queues`). */
  queue(name: string): QueueSpec {
    const spec = this.findQueue(name);
    const s = this.settings;
    // `task_default_queue_type = "quorum"` (the AMQP topology adds the same argument when declaring).
    if (
      name === s.taskDefaultQueue &&
      s.taskDefaultQueueType === "quorum" &&
      !spec.arguments?.["x-queue-type"]
    ) {
      return { ...spec, arguments: { ...spec.arguments, "x-queue-type": "quorum" } };
    }
    return spec;
  }

  private findQueue(name: string): QueueSpec {
    const known = this.queues.get(name) ?? this.created.get(name);
    if (known) return known;
    const spec = this.newQueue(name);
    // celery/app/amqp.py Queues.__missing__ (5.7.0) adds the queue it makes to the table; kept
    // here (not in the app's queue list) so every send to it shares one spec, and the transports'
    // per-spec caches (declared?) hit.
    if (this.created.size >= MAX_CREATED_QUEUES) this.created.clear();
    this.created.set(name, spec);
    return spec;
  }

  private newQueue(name: string): QueueSpec {
    const s = this.settings;
    if (name === s.taskDefaultQueue) {
      return {
        name,
        exchange: s.taskDefaultExchange,
        exchangeType: s.taskDefaultExchangeType,
        routingKey: s.taskDefaultRoutingKey,
        durable: true,
        autoDelete: false,
        exclusive: false,
      };
    }
    if (!s.taskCreateMissingQueues) {
      throw new ConfigError(
        "queue",
        `queue ${JSON.stringify(name)} is not defined in taskQueues and taskCreateMissingQueues is false; defined: ${[...this.queues.keys()].join(", ") || "(none)"}`,
      );
    }
    // celery/app/amqp.py Queues.add_compat: Queue(name, Exchange(name, 'direct'), routing_key=name)
    return {
      name,
      exchange: name,
      exchangeType: "direct",
      routingKey: name,
      durable: true,
      autoDelete: false,
      exclusive: false,
    };
  }

  /** The first `task_routes` hit for `name`, normalized. */
  lookup(
    name: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): RouteOptions | null {
    for (const route of this.compiled) {
      const hit = route.match(name, args, kwargs, options);
      if (hit !== null && hit !== undefined) return normalizeTarget(hit);
    }
    return null;
  }

  route(
    name: string,
    explicit: RouteOptions,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): ResolvedRoute {
    const fromRoute = this.compiled.length === 0 ? null : this.lookup(name, args, kwargs, { ...explicit });
    // lpmerge(route, options): explicit values that are set win.
    // Without a route, the explicit options as they are (a null counts as not set): no copy per send.
    let merged: RouteOptions = explicit;
    if (fromRoute) {
      merged = { ...fromRoute };
      for (const key of Object.keys(explicit) as (keyof RouteOptions)[]) {
        const value = explicit[key];
        if (value !== undefined && value !== null) (merged as Record<string, unknown>)[key] = value;
      }
    }
    const queue = this.queue(merged.queue ?? this.settings.taskDefaultQueue);
    let exchange = fromRoute ? merged.exchange : (explicit.exchange ?? undefined);
    let routingKey = fromRoute ? merged.routingKey : (explicit.routingKey ?? undefined);
    if (!exchange && !routingKey && queue.exchangeType === "direct") {
      exchange = "";
      routingKey = queue.name;
    } else if (exchange === undefined) {
      exchange = queue.exchange || this.settings.taskDefaultExchange;
      routingKey = routingKey || queue.routingKey || this.settings.taskDefaultRoutingKey;
    }
    const priority = fromRoute ? merged.priority : (explicit.priority ?? undefined);
    return { exchange, routingKey: routingKey ?? "", queue, priority };
  }
}
