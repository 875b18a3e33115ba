import { randomUUID } from "node:crypto";
import { jsonDumps, type WireBudget } from "../serialization/index.js";
import type { BrokerMailbox, MailboxMessage, ReplyInbox } from "../transports/transport.js";
import { type ControlReply, type ControlRequest, decodeControlBody } from "./mailbox.js";

export interface BroadcastOptions {
  arguments?: Record<string, unknown>;
  destination?: string[] | null;
  pattern?: string | null;
  matcher?: string | null;
  /** Wait for replies (`call`/`multi_call`); false = cast. */
  reply?: boolean;
  /** Seconds to wait for each next reply (kombu `_collect` drains with this timeout per reply); default 1. */
  timeout?: number;
  /** Stop after this many replies; default `destination.length` when given. */
  limit?: number | null;
}

export interface MailboxClientOptions {
  mailbox: BrokerMailbox;
  /** The client's id (kombu `Mailbox.oid`): its reply queue is `<oid>.reply.<ns>.pidbox`. */
  oid: string;
  /** The wire-input budget replies are read within. */
  budget: WireBudget;
  clockForward(): number;
  clockAdjust(v: unknown): void;
}

/**
 * The client half of kombu/pidbox.py `Mailbox` (`_broadcast`, `_publish`, `_collect`, 5.7.0) on
 * any broker's mailbox: with replies wanted, open the reply queue and send `ticket` and
 * `reply_to`; publish the request with headers `{clock, expires}`; collect replies whose `ticket`
 * header matches until `limit`, or until `timeout` seconds pass without a message; then let the
 * reply queue go (`after_reply_message_received`). One broadcast at a time (the caller
 * serializes them, as `Control` does).
 */
export class MailboxClient {
  private readonly inbox: ReplyInbox;

  constructor(private readonly options: MailboxClientOptions) {
    this.inbox = options.mailbox.replies(options.oid);
  }

  async broadcast(command: string, opts: BroadcastOptions = {}): Promise<ControlReply[] | null> {
    const destination = opts.destination ?? null;
    const timeout = opts.timeout ?? 1;
    const ticket = opts.reply ? randomUUID() : null;
    const limit = opts.limit ?? (destination && destination.length > 0 ? destination.length : null);
    const request: ControlRequest = {
      method: command,
      arguments: opts.arguments ?? {},
      destination,
      pattern: opts.pattern ?? null,
      matcher: opts.matcher ?? null,
    };
    if (ticket !== null) {
      await this.inbox.open();
      request.ticket = ticket;
      request.reply_to = {
        exchange: this.inbox.replyTo.exchange,
        routing_key: this.inbox.replyTo.routingKey,
      };
    }
    try {
      await this.options.mailbox.broadcast(Buffer.from(jsonDumps(request), "utf8"), {
        clock: this.options.clockForward(),
        expires: timeout ? Date.now() / 1000 + timeout : 0,
      });
      if (ticket === null) return null;
      const responses: ControlReply[] = [];
      while (limit === null || responses.length < limit) {
        const message = await this.inbox.next(timeout);
        if (message === null) break;
        const reply = this.onReply(message, ticket);
        if (reply !== null) responses.push(reply);
      }
      return responses;
    } finally {
      if (ticket !== null) await this.inbox.done();
    }
  }

  /** `_collect`'s `on_message`: adjust the clock, drop expired replies and other tickets. */
  private onReply(message: MailboxMessage, ticket: string): ControlReply | null {
    this.options.clockAdjust(message.headers.clock ?? 0);
    const expires = message.headers.expires;
    if (typeof expires === "number" && expires > 0 && Date.now() / 1000 > expires) return null;
    const thisTicket = message.headers.ticket ?? ticket;
    if (thisTicket !== ticket) return null;
    let body: unknown;
    try {
      body = decodeControlBody(
        message.body,
        message.contentType,
        message.contentEncoding,
        "control reply",
        this.options.budget,
      );
    } catch {
      return null;
    }
    return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as ControlReply) : null;
  }

  /** Closes the reply queue's connection or consumer. */
  close(): Promise<void> {
    return this.inbox.close();
  }
}
