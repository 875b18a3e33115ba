import { randomUUID } from "node:crypto";
import { jsonDumps, type WireBudget } from "../serialization/index.js";
import type { AmqpConsumer } from "../transports/amqp/consumer.js";
import {
  type Declarations,
  type PidboxOptions,
  pidboxExchange,
  pidboxNodeDeclarations,
  pidboxReplyDeclarations,
} from "../transports/amqp/topology.js";
import type { AmqpTransport } from "../transports/amqp/transport.js";
import type { Delivery, QueueSpec } from "../transports/transport.js";
import { type ControlReply, type ControlRequest, decodeControlBody } from "./mailbox.js";
import type { PidboxNode, ReplySender } from "./node.js";
import type { BroadcastOptions, RunningNode } from "./redis-mailbox.js";

/**
 * Celery's control mailbox over RabbitMQ (kombu/pidbox.py `Mailbox` on
 * py-amqp, celery/app/control.py `Control`, 5.7.0):
 * requests go to the `celery.pidbox` fanout, each worker consumes its own
 * `<hostname>.celery.pidbox` queue; replies go to the `reply.celery.pidbox`
 * direct exchange with the caller's oid as routing key, which lands in
 * `<oid>.reply.celery.pidbox`. Every node declares only its own queues:
 * 5.7 makes them exclusive, i.e. owned by the declaring connection.
 */
type MailboxTransport = Pick<AmqpTransport, "declareRaw" | "consumeDeclared" | "forget" | "publish">;

export interface AmqpMailboxOptions {
  transport: MailboxTransport;
  /** `control_exchange` (celery). */
  namespace?: string;
  /** `control_queue_exclusive`: true from Celery 5.7 (kombu `Mailbox(queue_exclusive=True)`), false before. */
  exclusive?: boolean;
  /** The wire-input budget requests and replies are read within (default DEFAULT_WIRE_BUDGET). */
  budget?: WireBudget;
}

function pidboxOptions(options: AmqpMailboxOptions): PidboxOptions {
  return {
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(options.exclusive !== undefined ? { exclusive: options.exclusive } : {}),
  };
}

/** The one queue of some declarations, as a consume spec. */
function consumeSpec(declarations: Declarations, exchangeType: QueueSpec["exchangeType"]): QueueSpec {
  const queue = declarations.queues[0];
  const binding = declarations.bindings[0];
  if (!queue || !binding) throw new Error("pidbox declarations without a queue");
  return {
    name: queue.name,
    exchange: binding.exchange,
    exchangeType,
    routingKey: binding.routingKey,
    durable: queue.durable,
    exclusive: queue.exclusive,
    autoDelete: queue.autoDelete,
    arguments: queue.arguments,
  };
}

function jsonBody(delivery: Delivery, what: string, budget: WireBudget | undefined): unknown {
  return decodeControlBody(delivery.body, delivery.contentType, delivery.contentEncoding, what, budget);
}

/**
 * A node's reply: kombu `Mailbox._publish_reply` publishes `{host: result}`
 * to `reply_to.exchange` (declared first: direct, non-durable) with
 * `reply_to.routing_key`, headers `{ticket, clock}`, delivery_mode 1
 * (`Mailbox.reply_exchange` is transient). A reply nobody is bound for is
 * dropped by RabbitMQ (mandatory=False), as kombu's is.
 */
export function amqpReplySender(transport: Pick<AmqpTransport, "declareRaw" | "publish">): ReplySender {
  return async (reply: ControlReply, to, ticket, clock) => {
    await transport.declareRaw(`pidbox-reply-exchange\u0000${to.exchange}`, {
      exchanges: [{ name: to.exchange, type: "direct", durable: false, autoDelete: false }],
      queues: [],
      bindings: [],
    });
    await transport.publish({
      // kombu's json.dumps (a reply may hold Infinity, e.g. `conf`'s result_backend_max_retries).
      body: Buffer.from(jsonDumps(reply), "utf8"),
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: { ticket, clock },
      properties: { delivery_mode: 1 },
      exchange: to.exchange,
      routingKey: to.routingKey,
    });
  };
}

/**
 * Joins the mailbox as `node.host.hostname` (kombu `Node.listen` with
 * celery/worker/pidbox.py `Pidbox`): declare and consume
 * `<hostname>.<ns>.pidbox` bound to the fanout, run requests one at a time
 * in arrival order. Messages are acked on arrival (Celery consumes with no_ack).
 */
export async function listenAmqpPidbox(
  node: PidboxNode,
  options: AmqpMailboxOptions & { onError?(err: unknown): void },
): Promise<RunningNode> {
  const onError = options.onError ?? (() => {});
  const declarations = pidboxNodeDeclarations(node.host.hostname, pidboxOptions(options));
  const key = `pidbox-node\u0000${node.host.hostname}`;
  let chain: Promise<unknown> = Promise.resolve();
  const onMessage = (delivery: Delivery) => {
    void delivery.ack();
    let body: unknown;
    try {
      body = jsonBody(delivery, "control request", options.budget);
    } catch (err) {
      onError(err);
      return;
    }
    chain = chain.then(() => node.handle(body, delivery.headers)).catch(onError);
  };
  await options.transport.declareRaw(key, declarations);
  const consumer = await options.transport.consumeDeclared({
    queues: [consumeSpec(declarations, "fanout")],
    prefetch: 0,
    onMessage,
    onError: (err) => onError(err),
  });
  return {
    async close() {
      options.transport.forget(key);
      await consumer.close().catch(onError);
      await chain.catch(() => undefined);
    },
  };
}

interface Collecting {
  ticket: string;
  responses: ControlReply[];
  /** Called on every reply with this ticket. */
  onReply(): void;
}

/**
 * The client half (kombu `Mailbox._broadcast`, `_publish`, `_collect`) for
 * one oid: the reply queue `<oid>.reply.<ns>.pidbox` is declared and
 * consumed once and kept while the client lives; each broadcast publishes
 * the request to the fanout with headers `{clock, expires}` and collects
 * replies whose `ticket` header matches until `limit`, or until `timeout`
 * seconds pass without a new one. One broadcast at a time (the caller
 * serializes them, as `Control` does).
 */
export class AmqpMailboxClient {
  private consumer: AmqpConsumer | null = null;
  private starting: Promise<void> | null = null;
  private collecting: Collecting | null = null;
  private readonly replyKey: string;
  private readonly replyDeclarations: Declarations;

  constructor(
    private readonly options: AmqpMailboxOptions & {
      oid: string;
      clockForward(): number;
      clockAdjust(v: unknown): void;
    },
  ) {
    this.replyDeclarations = pidboxReplyDeclarations(options.oid, pidboxOptions(options));
    this.replyKey = `pidbox-reply\u0000${options.oid}`;
  }

  private ensureReplyConsumer(): Promise<void> {
    if (this.consumer !== null) return Promise.resolve();
    this.starting ??= (async () => {
      const t = this.options.transport;
      await t.declareRaw(this.replyKey, this.replyDeclarations);
      this.consumer = await t.consumeDeclared({
        queues: [consumeSpec(this.replyDeclarations, "direct")],
        prefetch: 0,
        onMessage: (delivery) => this.onReply(delivery),
      });
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  async broadcast(command: string, opts: BroadcastOptions = {}): Promise<ControlReply[] | null> {
    const t = this.options.transport;
    const destination = opts.destination ?? null;
    const timeout = opts.timeout ?? 1;
    const ticket = opts.reply ? randomUUID() : null;
    const limit = opts.limit ?? (destination && destination.length > 0 ? destination.length : null);
    const exchange = pidboxExchange(this.options.namespace);
    const request: ControlRequest = {
      method: command,
      arguments: opts.arguments ?? {},
      destination,
      pattern: opts.pattern ?? null,
      matcher: opts.matcher ?? null,
    };
    const replyBinding = this.replyDeclarations.bindings[0];
    const replyExchange = this.replyDeclarations.exchanges[0];
    if (ticket !== null && replyBinding && replyExchange) {
      await this.ensureReplyConsumer();
      request.ticket = ticket;
      request.reply_to = { exchange: replyExchange.name, routing_key: replyBinding.routingKey };
    }
    // `_publish` declares the fanout before publishing (declare=[exchange]).
    await t.declareRaw(`pidbox-exchange\u0000${exchange.name}`, {
      exchanges: [exchange],
      queues: [],
      bindings: [],
    });
    const collecting: Collecting | null =
      ticket === null ? null : { ticket, responses: [], onReply: () => {} };
    this.collecting = collecting;
    try {
      await t.publish({
        body: Buffer.from(jsonDumps(request), "utf8"),
        contentType: "application/json",
        contentEncoding: "utf-8",
        headers: { clock: this.options.clockForward(), expires: timeout ? Date.now() / 1000 + timeout : 0 },
        properties: { delivery_mode: 2 },
        exchange: exchange.name,
        routingKey: "",
      });
      if (collecting === null) return null;
      await this.collect(collecting, limit, timeout);
      return collecting.responses;
    } finally {
      if (this.collecting === collecting) this.collecting = null;
    }
  }

  /** Waits until `limit` replies, or `timeout` seconds with no new reply (kombu drains with that timeout). */
  private collect(collecting: Collecting, limit: number | null, timeout: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        collecting.onReply = () => {};
        resolve();
      };
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(done, Math.max(10, timeout * 1000));
      };
      collecting.onReply = () => {
        if (limit !== null && collecting.responses.length >= limit) done();
        else arm();
      };
      if (limit !== null && collecting.responses.length >= limit) done();
      else arm();
    });
  }

  /** `_collect`'s `on_message`: adjust the clock, drop expired replies and other tickets. */
  private onReply(delivery: Delivery): void {
    void delivery.ack();
    this.options.clockAdjust(delivery.headers.clock ?? 0);
    const collecting = this.collecting;
    if (collecting === null) return;
    const expires = delivery.headers.expires;
    if (typeof expires === "number" && expires > 0 && Date.now() / 1000 > expires) return;
    const thisTicket = delivery.headers.ticket ?? collecting.ticket;
    if (thisTicket !== collecting.ticket) return;
    let body: unknown;
    try {
      body = jsonBody(delivery, "control reply", this.options.budget);
    } catch {
      return;
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return;
    collecting.responses.push(body as ControlReply);
    collecting.onReply();
  }

  /** Cancels the reply consumer; RabbitMQ then deletes the auto-delete reply queue. */
  async close(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const consumer = this.consumer;
    this.consumer = null;
    this.options.transport.forget(this.replyKey);
    await consumer?.close().catch(() => undefined);
  }
}
