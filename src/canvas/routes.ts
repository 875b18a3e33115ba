/**
 * Routes travel with the workflow. Celery routes a signature when it is sent, with the router of
 * the app that sends it (celery/app/base.py `send_task` -> `amqp.router.route`, 5.7.0), and a
 * chain step, a chord body or a link callback is sent by whichever worker finished the task
 * before it, Python or TS. A Python worker whose own `task_routes` do not know `ts.*` therefore
 * sends a TS step to its default queue, where no worker knows the task. So before a message
 * leaves, every signature it carries for later (its chain, its chord body, its link and
 * link_error callbacks, and the steps nested in those) gets the sender's route for its task
 * written into its options (`queue`, `exchange`, `routing_key`, `priority`): options win over
 * routes in every Celery router (`lpmerge(route, options)`), so the forwarding worker sends
 * the step where the app that built the workflow meant it to go.
 */
import type { SignatureDict } from "../protocol/task-message.js";

/** A route hit for a task, as the app's `taskRoutes` give it (camelCase), or null. */
export type RouteLookup = (
  name: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
) => {
  queue?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
  priority?: number | undefined;
} | null;

/** The option keys that name a destination: a step that has any of them is already routed. */
const DESTINATION_KEYS = ["queue", "exchange", "routing_key"] as const;

function isSignatureDict(value: unknown): value is SignatureDict {
  return (
    typeof value === "object" && value !== null && typeof (value as { task?: unknown }).task === "string"
  );
}

/** A canvas `Signature` object where a dict is expected becomes its dict first (its `toDict`). */
function asDict(sig: SignatureDict): SignatureDict {
  const toDict = (sig as { toDict?: unknown }).toDict;
  return typeof toDict === "function" ? (toDict.call(sig) as SignatureDict) : sig;
}

function routeList(value: unknown, lookup: RouteLookup): unknown {
  if (Array.isArray(value))
    return value.map((item) => (isSignatureDict(item) ? routeSignatureDict(item, lookup) : item));
  return isSignatureDict(value) ? routeSignatureDict(value, lookup) : value;
}

/**
 * A copy of `sig` (a signature in Celery's dict shape, of any kind) with the route of every task
 * in it written into that task's options, unless the task names a destination already. Nested
 * signatures are followed: chain and group members (`kwargs.tasks`), a chord's header and body,
 * and the `link`, `link_error` and `chord` options. The input is not modified.
 */
export function routeSignatureDict(input: SignatureDict, lookup: RouteLookup): SignatureDict {
  const sig = asDict(input);
  const options: Record<string, unknown> = { ...sig.options };
  for (const key of ["link", "link_error", "chord"] as const) {
    if (options[key] !== undefined && options[key] !== null) options[key] = routeList(options[key], lookup);
  }
  const kwargs: Record<string, unknown> = { ...sig.kwargs };
  switch (sig.subtask_type) {
    case "chain":
    case "group":
      if (Array.isArray(kwargs.tasks)) kwargs.tasks = routeList(kwargs.tasks, lookup);
      break;
    case "chord":
      if (kwargs.header !== undefined) kwargs.header = routeList(kwargs.header, lookup);
      if (kwargs.body !== undefined) kwargs.body = routeList(kwargs.body, lookup);
      break;
    case null:
    case undefined:
      if (!DESTINATION_KEYS.some((key) => options[key] !== undefined && options[key] !== null)) {
        const route = lookup(sig.task, sig.args ?? [], sig.kwargs ?? {}, options);
        if (route?.queue !== undefined) options.queue = route.queue;
        if (route?.exchange !== undefined) options.exchange = route.exchange;
        if (route?.routingKey !== undefined) options.routing_key = route.routingKey;
        if (route?.priority !== undefined && options.priority === undefined)
          options.priority = route.priority;
      }
      break;
    default:
      break; // xmap, xstarmap, chunks: Python-only built-ins whose items are not signatures
  }
  return { ...sig, kwargs, options };
}
