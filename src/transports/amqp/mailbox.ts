import type {
  BrokerMailbox,
  Delivery,
  MailboxListener,
  MailboxMessage,
  MailboxOptions,
  QueueSpec,
  ReplyInbox,
} from "../transport.js";
import type { AmqpEventsHost } from "./events.js";
import {
  type Declarations,
  type PidboxOptions,
  pidboxExchange,
  pidboxNodeDeclarations,
  pidboxReplyDeclarations,
} from "./topology.js";

/**
 * Celery's control mailbox over RabbitMQ (kombu/pidbox.py `Mailbox` on py-amqp, 5.7.0):
 * requests go to the `<ns>.pidbox` fanout, each node consumes its own `<hostname>.<ns>.pidbox`
 * queue; replies go to the `reply.<ns>.pidbox` direct exchange with the client's oid as routing
 * key, which lands in `<oid>.reply.<ns>.pidbox`. Every node declares only its own queues: 5.7
 * makes them exclusive, i.e. owned by the declaring connection. Messages are acked on arrival
 * (kombu's pidbox consumers use no_ack).
 */
export function amqpMailbox(transport: AmqpEventsHost, options: MailboxOptions): BrokerMailbox {
  const pidbox: PidboxOptions = { namespace: options.namespace, exclusive: options.exclusive };
  const exchange = pidboxExchange(options.namespace);
  /** Declares `exchange` once per connection (under `key`), then publishes a JSON body to it. */
  async function declareAndPublish(
    key: string,
    target: Declarations["exchanges"][number],
    body: Uint8Array,
    headers: Record<string, unknown>,
    deliveryMode: 1 | 2,
    routingKey: string,
  ): Promise<void> {
    await transport.declareRaw(key, { exchanges: [target], queues: [], bindings: [] });
    await transport.publish({
      body,
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers,
      properties: { delivery_mode: deliveryMode },
      exchange: target.name,
      routingKey,
    });
  }

  return {
    // `Mailbox._publish` declares the fanout before publishing (declare=[exchange]).
    broadcast: (body, headers) =>
      declareAndPublish(`pidbox-exchange\u0000${exchange.name}`, exchange, body, headers, 2, ""),

    // `Mailbox._publish_reply`: the reply exchange is declared first (direct, transient); a
    // reply nobody is bound for is dropped by RabbitMQ (mandatory=False), as kombu's is.
    reply: (to, body, headers) =>
      declareAndPublish(
        `pidbox-reply-exchange\u0000${to.exchange}`,
        { name: to.exchange, type: "direct", durable: false, autoDelete: false },
        body,
        headers,
        1,
        to.routingKey,
      ),

    async listen(hostname, handlers): Promise<MailboxListener> {
      const declarations = pidboxNodeDeclarations(hostname, pidbox);
      const key = `pidbox-node\u0000${hostname}`;
      await transport.declareRaw(key, declarations);
      const consumer = await transport.consumeDeclared({
        queues: [consumeSpec(declarations, "fanout")],
        prefetch: 0,
        onMessage: (delivery) => {
          void delivery.ack();
          handlers.onMessage(mailboxMessage(delivery));
        },
        onError: (err) => handlers.onError(err),
      });
      return {
        async close() {
          transport.forget(key);
          await consumer.close().catch(handlers.onError);
        },
      };
    },

    replies: (oid) => amqpReplyInbox(transport, pidbox, oid),
  };
}

function mailboxMessage(delivery: Delivery): MailboxMessage {
  return {
    body: delivery.body,
    contentType: delivery.contentType,
    contentEncoding: delivery.contentEncoding,
    headers: delivery.headers,
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

/**
 * The reply queue `<oid>.reply.<ns>.pidbox` on RabbitMQ: declared and consumed once, kept while
 * the inbox lives. Replies are kept for {@link ReplyInbox.next} between `open()` and `done()`
 * and dropped otherwise (a late reply to a finished broadcast).
 */
function amqpReplyInbox(transport: AmqpEventsHost, pidbox: PidboxOptions, oid: string): ReplyInbox {
  const declarations = pidboxReplyDeclarations(oid, pidbox);
  const key = `pidbox-reply\u0000${oid}`;
  const exchange = declarations.exchanges[0];
  const binding = declarations.bindings[0];
  if (!exchange || !binding) throw new Error("pidbox reply declarations without an exchange");
  let consumer: { close(): Promise<void> } | null = null;
  let starting: Promise<void> | null = null;
  let collecting = false;
  const arrived: MailboxMessage[] = [];
  let waiter: ((message: MailboxMessage | null) => void) | null = null;
  const onMessage = (delivery: Delivery) => {
    void delivery.ack();
    if (!collecting) return;
    const message = mailboxMessage(delivery);
    const wake = waiter;
    waiter = null;
    if (wake) wake(message);
    else arrived.push(message);
  };
  const ensureConsumer = (): Promise<void> => {
    if (consumer !== null) return Promise.resolve();
    starting ??= (async () => {
      await transport.declareRaw(key, declarations);
      consumer = await transport.consumeDeclared({
        queues: [consumeSpec(declarations, "direct")],
        prefetch: 0,
        onMessage,
      });
    })().finally(() => {
      starting = null;
    });
    return starting;
  };
  return {
    replyTo: { exchange: exchange.name, routingKey: binding.routingKey },
    async open() {
      await ensureConsumer();
      arrived.length = 0;
      collecting = true;
    },
    next(timeoutSeconds) {
      const first = arrived.shift();
      if (first) return Promise.resolve(first);
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => {
            if (waiter === settle) waiter = null;
            resolve(null);
          },
          Math.max(10, timeoutSeconds * 1000),
        );
        const settle = (message: MailboxMessage | null) => {
          clearTimeout(timer);
          resolve(message);
        };
        waiter = settle;
      });
    },
    async done() {
      collecting = false;
      arrived.length = 0;
      const wake = waiter;
      waiter = null;
      wake?.(null);
    },
    // Cancelling the consumer lets RabbitMQ delete the auto-delete reply queue.
    async close() {
      await starting?.catch(() => undefined);
      const c = consumer;
      consumer = null;
      transport.forget(key);
      await c?.close().catch(() => undefined);
    },
  };
}
