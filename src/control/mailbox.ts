/**
 * kombu/pidbox.py `Mailbox` names and message shapes for Celery's control
 * mailbox (namespace `control_exchange`, default `celery`), kombu 5.7.0.
 */
export interface MailboxNames {
  /** `<ns>.pidbox`, fanout. */
  exchange: string;
  /** `reply.<ns>.pidbox`, direct. */
  replyExchange: string;
  /** `<hostname>.<ns>.pidbox`. */
  nodeQueue(hostname: string): string;
  /** `<oid>.reply.<ns>.pidbox`. */
  replyQueue(oid: string): string;
}

export function mailboxNames(namespace = "celery"): MailboxNames {
  return {
    exchange: `${namespace}.pidbox`,
    replyExchange: `reply.${namespace}.pidbox`,
    nodeQueue: (hostname) => `${hostname}.${namespace}.pidbox`,
    replyQueue: (oid) => `${oid}.reply.${namespace}.pidbox`,
  };
}

/** Celery defaults `control_queue_expires` (10 s), kombu `REPLY_QUEUE_EXPIRES` (10 s). */
export const CONTROL_QUEUE_EXPIRES = 10;
export const REPLY_QUEUE_EXPIRES = 10;

/** `Mailbox._publish` body; `ticket` and `reply_to` only when replies are wanted. */
export interface ControlRequest {
  method: string;
  arguments: Record<string, unknown>;
  destination: string[] | null;
  pattern: string | null;
  matcher: string | null;
  ticket?: string;
  reply_to?: { exchange: string; routing_key: string };
}

/** A reply body: `{<hostname>: <handler result>}`. */
export type ControlReply = Record<string, unknown>;

/**
 * kombu/matcher.py `match(data, pattern, matcher)`: `glob` (fnmatch, the
 * default) or `pcre` (re.search). Unknown matchers match nothing (kombu raises).
 */
export function matchHostname(hostname: string, pattern: string, matcher: string | null): boolean {
  if (matcher === "pcre") {
    try {
      return new RegExp(pattern).test(hostname);
    } catch {
      return false;
    }
  }
  if (matcher !== null && matcher !== "glob") return false;
  return globToRegExp(pattern).test(hostname);
}

/** Python `fnmatch.translate` for `*`, `?`, `[...]`, `[!...]`. */
function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) out += "\\[";
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        out += `[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/** `Node.handle_message`: does this request address `hostname`? */
export function addressedTo(request: Partial<ControlRequest>, hostname: string): boolean {
  const { destination, pattern, matcher } = request;
  if (Array.isArray(destination) && destination.length > 0) return destination.includes(hostname);
  if (typeof pattern === "string" && pattern !== "" && typeof matcher === "string" && matcher !== "") {
    return matchHostname(hostname, pattern, matcher);
  }
  return true;
}

/** Celery's `flatten_reply`: a list of `{host: value}` replies into one `{host: value}`. */
export function flattenReplies(replies: readonly ControlReply[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const reply of replies) Object.assign(out, reply);
  return out;
}
