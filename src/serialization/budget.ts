/**
 * The wire-input budget: how much a peer may make this process read, inflate and walk for one
 * message. Every decode path (task bodies, Redis envelopes, result metas, events, pidbox requests
 * and replies) checks these limits before the work they bound, so a hostile or broken message is
 * refused with a {@link BudgetExceededError} (a DecodeError: the caller settles the message and
 * logs why) instead of taking the process's memory, event loop or stack.
 *
 * Defaults, and why (docs/wire-budget.md says the same for users):
 * - `maxMessageSize` 16 MiB: RabbitMQ 4 refuses larger messages by default (`max_message_size`),
 *   so a larger one cannot be an ordinary Celery message on every broker; Celery's own docs advise
 *   against big payloads (pass a reference instead).
 * - `maxDecompressedSize` 16 MiB: compression should not let a message carry more than an
 *   uncompressed one may; a decompression bomb (an 809-byte brotli body inflates to 512 MiB, an
 *   82-byte bzip2 body to 70 MiB) stops there, after at most ~0.1 s (brotli) to ~0.5 s (bzip2,
 *   decoded in JS) of work.
 * - `maxDepth` 512: Python's msgpack refuses to pack deeper than 511 levels and Python's json and
 *   PyYAML raise RecursionError near 1000, so nothing a Celery peer can round-trip is refused,
 *   while every recursive walk here (ours, the yaml package's) stays far from V8's stack limit
 *   (a stack overflow inside V8's regexp compiler is a fatal, uncatchable abort).
 */
import { DecodeError } from "../errors.js";

export interface WireBudget {
  /** Largest message accepted as received (an envelope, or a body before decompression), bytes. */
  maxMessageSize: number;
  /** Largest body after decompression, bytes. */
  maxDecompressedSize: number;
  /** Deepest nesting of lists, maps and header tables. */
  maxDepth: number;
}

export const DEFAULT_WIRE_BUDGET: Readonly<WireBudget> = Object.freeze({
  maxMessageSize: 16 * 1024 * 1024,
  maxDecompressedSize: 16 * 1024 * 1024,
  maxDepth: 512,
});

/** The budget from Celery-style settings (`wireMaxMessageSize`, `wireMaxDecompressedSize`, `wireMaxDepth`). */
export function wireBudget(settings: {
  readonly wireMaxMessageSize: number;
  readonly wireMaxDecompressedSize: number;
  readonly wireMaxDepth: number;
}): WireBudget {
  return {
    maxMessageSize: settings.wireMaxMessageSize,
    maxDecompressedSize: settings.wireMaxDecompressedSize,
    maxDepth: settings.wireMaxDepth,
  };
}

/** Which limit a message broke; the setting a user raises to admit it. */
export type BudgetLimit = "maxMessageSize" | "maxDecompressedSize" | "maxDepth";

/** The Celery-style setting name for each limit (config.ts). */
export const BUDGET_SETTING: Readonly<Record<BudgetLimit, string>> = Object.freeze({
  maxMessageSize: "wireMaxMessageSize",
  maxDecompressedSize: "wireMaxDecompressedSize",
  maxDepth: "wireMaxDepth",
});

/** A message over the wire-input budget. A DecodeError: consumers settle and log it as one. */
export class BudgetExceededError extends DecodeError {
  readonly limit: BudgetLimit;

  constructor(limit: BudgetLimit, message: string) {
    super(`${message} (setting ${BUDGET_SETTING[limit]})`);
    this.limit = limit;
  }
}

function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 ? 1 : 0)} KiB`;
  return `${bytes} bytes`;
}

/** Throws when `size` bytes of `what` exceed `maxMessageSize`. */
export function checkMessageSize(size: number, budget: WireBudget, what = "message"): void {
  if (size > budget.maxMessageSize) {
    throw new BudgetExceededError(
      "maxMessageSize",
      `${what} of ${sizeText(size)} is over the ${sizeText(budget.maxMessageSize)} message size limit`,
    );
  }
}

export function decompressedTooLarge(maxDecompressedSize: number, what: string): BudgetExceededError {
  return new BudgetExceededError(
    "maxDecompressedSize",
    `${what} inflates past the ${sizeText(maxDecompressedSize)} decompressed size limit`,
  );
}

export function tooDeep(maxDepth: number, what: string): BudgetExceededError {
  return new BudgetExceededError("maxDepth", `${what} nests deeper than the ${maxDepth}-level nesting limit`);
}

/**
 * Throws when JSON text nests `[`/`{` deeper than `maxDepth`: a linear scan that skips strings,
 * run before any parser so neither JSON.parse's result nor a recursive walk can go deep.
 */
export function checkJsonDepth(text: string, maxDepth: number, what = "JSON"): void {
  if (text.length <= maxDepth) return; // depth is at most the number of brackets
  if (openingBracketsAtMost(text, maxDepth)) return;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string, honouring backslash escapes
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw tooDeep(maxDepth, what);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/**
 * True when `text` holds at most `limit` opening brackets, counting those inside strings too (an
 * overcount, so a true answer proves the depth is within `limit`). `indexOf` is a native search:
 * a task envelope of ~800 characters with a dozen brackets is cleared in a fraction of the
 * character-by-character scan's time.
 */
function openingBracketsAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf("["); i !== -1; i = text.indexOf("[", i + 1)) if (++count > limit) return false;
  for (let i = text.indexOf("{"); i !== -1; i = text.indexOf("{", i + 1)) if (++count > limit) return false;
  return true;
}

/** Nesting the allocation-free pre-check of {@link checkValueDepth} walks by recursion (stack-safe). */
const SHALLOW_MAX_DEPTH = 32;
/** Containers it visits before leaving the value to the full walk (a shared node counts per path). */
const SHALLOW_MAX_NODES = 2048;
let shallowNodesLeft = 0;

/**
 * True when every container in `node` sits at most `levels` deep (`node` itself is level 1);
 * false when deeper, or when unsure (a Map or Set, too many nodes): the full walk then decides.
 */
function isShallow(node: object, levels: number): boolean {
  if (levels === 0 || --shallowNodesLeft < 0) return false;
  if (ArrayBuffer.isView(node)) return true;
  if (node instanceof Map || node instanceof Set) return false;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      if (typeof child === "object" && child !== null && !isShallow(child, levels - 1)) return false;
    }
    return true;
  }
  for (const key in node) {
    const child: unknown = (node as Record<string, unknown>)[key];
    if (typeof child === "object" && child !== null && !isShallow(child, levels - 1)) return false;
  }
  return true;
}

/**
 * Throws when a decoded value (an AMQP headers table, an envelope) nests containers deeper than
 * `maxDepth`. Iterative, so the check itself cannot overflow the stack.
 */
export function checkValueDepth(value: unknown, maxDepth: number, what = "value"): void {
  if (typeof value !== "object" || value === null) return;
  // The common case (a Celery headers table nests 2-3 levels) answered without allocating.
  shallowNodesLeft = SHALLOW_MAX_NODES;
  if (isShallow(value, Math.min(maxDepth, SHALLOW_MAX_DEPTH))) return;
  const stack: Array<[unknown, number]> = [[value, 1]];
  const seen = new Set<object>(); // a cycle (or a shared node) is walked once, at its first depth
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (typeof node !== "object" || node === null || ArrayBuffer.isView(node)) continue;
    if (seen.has(node)) continue;
    seen.add(node);
    if (depth > maxDepth) throw tooDeep(maxDepth, what);
    const children: Iterable<unknown> =
      Array.isArray(node) || node instanceof Set
        ? node
        : node instanceof Map
          ? node.values()
          : Object.values(node);
    for (const child of children) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
}
