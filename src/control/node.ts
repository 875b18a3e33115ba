import { isRecord } from "../protocol/guards.js";
import { CONTROL_COMMANDS, type ControlHandler, SHUTDOWN_NO_REPLY } from "./commands.js";
import type { WorkerControlHost } from "./host.js";
import { addressedTo, type ControlReply } from "./mailbox.js";

/** How a node sends a reply (per broker): to `exchange` with `routingKey`, headers `{ticket, clock}`. */
export type ReplySender = (
  reply: ControlReply,
  to: { exchange: string; routingKey: string },
  ticket: string,
  clock: number,
) => Promise<void>;

export interface PidboxNodeOptions {
  host: WorkerControlHost;
  sendReply: ReplySender;
  /** Extra or replacement commands. */
  commands?: Record<string, ControlHandler>;
  /** Logged reasons for dropped or failed requests. */
  log?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/** Python's `repr()` of the errors our handlers can raise (`KeyError('x')`, `TypeError('…')`). */
function errorRepr(err: unknown): string {
  if (err instanceof Error) {
    const name = err.name === "Error" ? "Exception" : err.name;
    return `${name}(${JSON.stringify(err.message).replaceAll('"', "'")})`;
  }
  return `Exception('${String(err)}')`;
}

/**
 * kombu/pidbox.py `Node.handle_message` + `dispatch` + celery/worker/pidbox.py
 * `Pidbox.on_message`: forward our clock, adjust with the request's `clock`
 * header, run the command if the request is addressed to us, reply with
 * `{hostname: result}` when it carries `reply_to` + `ticket`. An unknown
 * command answers `{"error": "KeyError('<name>')"}` as Python's node does; a
 * malformed request is dropped with a logged reason. Never throws.
 */
export class PidboxNode {
  readonly host: WorkerControlHost;
  private readonly commands: Record<string, ControlHandler>;
  private readonly sendReply: ReplySender;
  private readonly log: NonNullable<PidboxNodeOptions["log"]>;

  constructor(options: PidboxNodeOptions) {
    this.host = options.host;
    this.sendReply = options.sendReply;
    this.commands = { ...CONTROL_COMMANDS, ...options.commands };
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
  }

  /** Handles one decoded request; resolves with the reply sent (or null). */
  async handle(body: unknown, headers: Record<string, unknown> = {}): Promise<ControlReply | null> {
    const host = this.host;
    host.clock.forward();
    if (!isRecord(body) || typeof body.method !== "string") {
      this.log.warn(`pidbox: dropped a malformed control request (no string "method"): ${preview(body)}`);
      return null;
    }
    host.clock.adjust(typeof headers.clock === "number" ? headers.clock : 0);
    const destination = Array.isArray(body.destination) ? body.destination : null;
    const request = {
      destination: destination as string[] | null,
      pattern: typeof body.pattern === "string" ? body.pattern : null,
      matcher: typeof body.matcher === "string" ? body.matcher : null,
    };
    if (!addressedTo(request, host.hostname)) return null;
    const method = body.method;
    const args = isRecord(body.arguments) ? body.arguments : {};
    const replyTo = isRecord(body.reply_to) ? body.reply_to : null;
    const ticket = typeof body.ticket === "string" ? body.ticket : null;
    let result: unknown;
    const handler = Object.hasOwn(this.commands, method) ? this.commands[method] : undefined;
    if (!handler) {
      this.log.error(`No such control command: ${method}`);
      result = { error: `KeyError('${method}')` };
    } else {
      try {
        result = await handler(host, args);
      } catch (err) {
        this.log.error(`pidbox command error: ${errorRepr(err)}`);
        result = { error: errorRepr(err) };
      }
    }
    if (result === SHUTDOWN_NO_REPLY) return null;
    if (replyTo === null || ticket === null) return null;
    if (typeof replyTo.exchange !== "string" || typeof replyTo.routing_key !== "string") {
      this.log.warn(`pidbox: ${method}: reply_to without exchange/routing_key, no reply sent`);
      return null;
    }
    const reply: ControlReply = { [host.hostname]: result === undefined ? null : result };
    try {
      await this.sendReply(
        reply,
        { exchange: replyTo.exchange, routingKey: replyTo.routing_key },
        ticket,
        host.clock.forward(),
      );
    } catch (err) {
      this.log.error(`pidbox: could not reply to ${method}: ${(err as Error).message}`);
    }
    return reply;
  }
}

function preview(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return String(value).slice(0, 200);
  }
}
