import vm from "node:vm";
import type { Settings } from "../config.js";
import {
  AcceptPolicy,
  DEFAULT_WIRE_BUDGET,
  decodeMessageBody,
  type WireBudget,
  wireBudget,
} from "../serialization/index.js";
import type { BrokerMailbox, MailboxOptions } from "../transports/transport.js";

/**
 * kombu/pidbox.py `Mailbox` message shapes and addressing for Celery's control mailbox, kombu
 * 5.7.0; the names and how a broker carries the bytes are the transport's (`Transport.mailbox`).
 */

/** A broker that may carry the pidbox mailbox (`Transport.mailbox`; absent on a transport without one). */
export interface MailboxBroker {
  mailbox?(options: MailboxOptions): BrokerMailbox;
}

/** The mailbox options Celery's `control_*` settings give (celery/app/control.py `Control.mailbox`, 5.7.0). */
export function mailboxOptions(s: Settings): MailboxOptions {
  return {
    namespace: s.controlExchange,
    exclusive: s.compat.exclusiveOpsQueues,
    bindingDeadlines: s.compat.permanentBindings,
    budget: wireBudget(s),
  };
}

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

/** Longest `pcre` pattern a broadcast may carry; longer ones match nothing. */
export const MAX_PCRE_PATTERN = 256;
/** CPU budget for one `pcre` match, ms; a pattern that runs longer matches nothing. */
export const PCRE_MATCH_TIMEOUT_MS = 50;
/** Wall-clock cap for one `pcre` match however starved the process is (see pcreMatch), ms. */
const PCRE_MATCH_WALL_CAP_MS = 1000;

let pcreContext: vm.Context | null = null;
const PCRE_TEST = new vm.Script("pattern.test(hostname)");

/**
 * kombu/matcher.py `match(data, pattern, matcher)` (kombu 5.7.0): `glob` is
 * `fnmatch(hostname, pattern)` (the default); `pcre` is `re.match(pattern,
 * hostname)`, anchored at the start only (`matcher_pattern_first`). Unknown
 * matchers match nothing (kombu raises MatcherNotInstalled).
 *
 * The `pcre` pattern comes from the wire and V8's regexp engine backtracks as
 * Python's does, so one broadcast could freeze every worker (`(a|a)*b`). It is
 * bounded three ways, with no native dependency: at most {@link MAX_PCRE_PATTERN}
 * characters; compiled as Python's syntax would read it where the two differ
 * (`(?P<n>...)`, `(?P=n)`, `\A`, `\Z`), anything JS cannot compile matching
 * nothing (kombu raises `re.error`); and run in a `vm` context with a
 * {@link PCRE_MATCH_TIMEOUT_MS} ms timeout, which interrupts a runaway match (one timed out
 * without having used that much CPU was descheduled, not slow, and runs again).
 */
export function matchHostname(hostname: string, pattern: string, matcher: string | null): boolean {
  if (matcher === "pcre") return pcreMatch(hostname, pattern);
  if (matcher !== null && matcher !== "glob") return false;
  return globToRegExp(pattern).test(hostname);
}

function pcreMatch(hostname: string, pattern: string): boolean {
  if (pattern.length > MAX_PCRE_PATTERN) return false;
  let compiled: RegExp;
  try {
    compiled = new RegExp(`^(?:${pythonRegexToJs(pattern)})`, "u");
  } catch {
    try {
      compiled = new RegExp(`^(?:${pythonRegexToJs(pattern)})`);
    } catch {
      return false;
    }
  }
  pcreContext ??= vm.createContext(Object.create(null));
  pcreContext.pattern = compiled;
  pcreContext.hostname = hostname;
  const started = performance.now();
  let cpuMs = 0;
  try {
    for (;;) {
      const before = process.cpuUsage();
      try {
        return PCRE_TEST.runInContext(pcreContext, { timeout: PCRE_MATCH_TIMEOUT_MS }) === true;
      } catch {
        // The vm timeout is wall-clock: on a loaded machine a trivial match can be descheduled past
        // it. Only a match that burned the budget in CPU time is a runaway pattern (it matches
        // nothing); a starved one runs again, up to a wall-clock cap.
        const used = process.cpuUsage(before);
        cpuMs += (used.user + used.system) / 1000;
        if (cpuMs >= PCRE_MATCH_TIMEOUT_MS) return false;
        if (performance.now() - started >= PCRE_MATCH_WALL_CAP_MS) return false;
      }
    }
  } finally {
    pcreContext.pattern = null;
  }
}

/** The few spellings where Python's `re` and JS differ for the same meaning. */
function pythonRegexToJs(pattern: string): string {
  return pattern
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, "(?<$1>")
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, "\\k<$1>")
    .replace(/\\A/g, "^")
    .replace(/\\Z/g, "$(?![\\s\\S])");
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

const JSON_ONLY = AcceptPolicy.from(["json"]);

/**
 * A pidbox request or reply body (Celery's mailbox speaks JSON, kombu `Mailbox.serializer`)
 * inside the wire-input budget: size, then nesting, then kombu's JSON. Throws an Error naming
 * the problem (`what`: "control request", "control reply").
 */
export function decodeControlBody(
  body: Uint8Array,
  contentType: string,
  contentEncoding: string,
  what: string,
  budget: WireBudget = DEFAULT_WIRE_BUDGET,
): unknown {
  if (contentType !== "application/json") {
    throw new Error(`unsupported ${what} content type ${JSON.stringify(contentType)}`);
  }
  return decodeMessageBody(body, contentType, contentEncoding, JSON_ONLY, { budget, what });
}
