import { ConfigError } from "../../errors.js";
import { CONTROL_QUEUE_EXPIRES, pidboxNames } from "../pidbox-names.js";
import type { QueueSpec } from "../transport.js";

/**
 * EVERY exchange, queue and binding Celeriac declares on RabbitMQ, in one
 * file (native delayed delivery's 28 levels, a topology of their own, are in
 * native-delayed-delivery.ts), argument for argument what Celery 5.7 / kombu 5.7 declare. A
 * mismatch in durable / auto_delete / exclusive / type / x-arguments makes
 * RabbitMQ close the channel with 406 PRECONDITION_FAILED (or 405
 * RESOURCE_LOCKED for someone else's exclusive queue), so nothing here is
 * a matter of taste: each function cites the Python it mirrors, and
 * test/interop/amqp-topology.test.ts checks each one against a real
 * Celery 5.7 on a real RabbitMQ, in both declaration orders.
 *
 * kombu defaults (kombu/entity.py): `Exchange(durable=True, auto_delete=False)`,
 * `Queue(durable=True, exclusive=False, auto_delete=False)`; an exclusive
 * queue is also auto-delete (`Queue.__init__`). A queue bound to the default
 * exchange `""` is declared but never bound (`Queue.declare` binds only
 * named exchanges).
 */

export type ExchangeType = "direct" | "topic" | "fanout" | "headers";

export interface ExchangeDeclaration {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
}

export interface QueueDeclaration {
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  /** x-arguments; `{}` when kombu sends none. */
  arguments: Record<string, unknown>;
}

export interface BindingDeclaration {
  queue: string;
  exchange: string;
  routingKey: string;
}

/** An exchange-to-exchange binding (kombu `Exchange.bind_to`: `exchange_bind(destination, source, key)`). */
export interface ExchangeBindingDeclaration {
  destination: string;
  source: string;
  routingKey: string;
}

/**
 * What to declare, in kombu's order: exchanges, queues, bindings, then
 * exchange-to-exchange bindings (native delayed delivery,
 * `native-delayed-delivery.ts`, is the only user of those).
 */
export interface Declarations {
  exchanges: ExchangeDeclaration[];
  queues: QueueDeclaration[];
  bindings: BindingDeclaration[];
  exchangeBindings?: ExchangeBindingDeclaration[];
}

export const EMPTY_DECLARATIONS: Declarations = Object.freeze({ exchanges: [], queues: [], bindings: [] });

export function mergeDeclarations(...parts: Declarations[]): Declarations {
  return {
    exchanges: parts.flatMap((p) => p.exchanges),
    queues: parts.flatMap((p) => p.queues),
    bindings: parts.flatMap((p) => p.bindings),
    exchangeBindings: parts.flatMap((p) => p.exchangeBindings ?? []),
  };
}

/** kombu Queue keyword options that become x-arguments. */
export interface QueueArgumentOptions {
  /** Seconds (kombu `expires`) -> `x-expires` ms. */
  expires?: number | null;
  /** Seconds (kombu `message_ttl`) -> `x-message-ttl` ms. */
  messageTtl?: number | null;
  maxLength?: number | null;
  maxLengthBytes?: number | null;
  maxPriority?: number | null;
}

/**
 * mirrors kombu/transport/base.py `to_rabbitmq_queue_arguments`: seconds to
 * int milliseconds (`maybe_s_to_ms`), counts to int, unset values dropped,
 * merged over the user's own `queue_arguments`.
 */
export function rabbitmqQueueArguments(
  base: Record<string, unknown> | undefined,
  options: QueueArgumentOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(base ?? {}) };
  const ms = (s: number) => (s ? Math.trunc(s * 1000) : s);
  if (options.expires != null) out["x-expires"] = ms(options.expires);
  if (options.messageTtl != null) out["x-message-ttl"] = ms(options.messageTtl);
  if (options.maxLength != null) out["x-max-length"] = Math.trunc(options.maxLength);
  if (options.maxLengthBytes != null) out["x-max-length-bytes"] = Math.trunc(options.maxLengthBytes);
  if (options.maxPriority != null) out["x-max-priority"] = Math.trunc(options.maxPriority);
  return out;
}

// ---------------------------------------------------------------------------
// Task queues (celery/app/amqp.py `Queues`, `AMQP.Queues`)

/** The app settings that change how task queues are declared. */
export interface TaskTopologySettings {
  /** `task_default_queue` (default "celery"). */
  defaultQueue: string;
  /** `task_default_exchange` (default: the default queue's name). */
  defaultExchange: string;
  /** `task_default_exchange_type` (default "direct"). */
  defaultExchangeType: ExchangeType;
  /** `task_queue_max_priority`: `x-max-priority` on every task queue without one. */
  queueMaxPriority: number | null;
  /** `task_default_queue_type` (5.5+): `quorum` adds `x-queue-type: quorum` to the default queue. */
  defaultQueueType: "classic" | "quorum";
}

export const DEFAULT_TASK_TOPOLOGY: TaskTopologySettings = {
  defaultQueue: "celery",
  defaultExchange: "celery",
  defaultExchangeType: "direct",
  queueMaxPriority: null,
  defaultQueueType: "classic",
};

/** celery/app/amqp.py `AMQP.default_exchange`: `Exchange(task_default_exchange, task_default_exchange_type)`. */
export function defaultTaskExchange(
  settings: TaskTopologySettings = DEFAULT_TASK_TOPOLOGY,
): ExchangeDeclaration {
  return {
    name: settings.defaultExchange,
    type: settings.defaultExchangeType,
    durable: true,
    autoDelete: false,
  };
}

/**
 * The queue arguments Celery gives a task queue: the spec's own x-arguments,
 * then `x-queue-type: quorum` for the default queue (`AMQP.Queues`, 5.5+
 * `task_default_queue_type`), then `x-max-priority` when absent
 * (`Queues._add` / `_set_max_priority`, `task_queue_max_priority`).
 */
export function taskQueueArguments(spec: QueueSpec, settings: TaskTopologySettings): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(spec.arguments ?? {}) };
  if (
    settings.defaultQueueType === "quorum" &&
    spec.name === settings.defaultQueue &&
    args["x-queue-type"] === undefined
  ) {
    args["x-queue-type"] = "quorum";
  }
  if (settings.queueMaxPriority !== null && args["x-max-priority"] === undefined) {
    args["x-max-priority"] = settings.queueMaxPriority;
  }
  return args;
}

/**
 * A task queue as kombu `Queue.declare` sends it: its exchange (unless it is
 * the default exchange `""`), the queue, then the binding.
 */
export function taskQueueDeclarations(
  spec: QueueSpec,
  settings: TaskTopologySettings = DEFAULT_TASK_TOPOLOGY,
): Declarations {
  if (spec.name === "") throw new ConfigError("queue", "a task queue needs a name");
  const exclusive = spec.exclusive ?? false;
  const args = taskQueueArguments(spec, settings);
  if (args["x-queue-type"] === "quorum" && (exclusive || spec.autoDelete || spec.durable === false)) {
    throw new ConfigError(
      "taskDefaultQueueType",
      `quorum queue ${JSON.stringify(spec.name)} must be durable, not exclusive and not auto-delete`,
    );
  }
  if (args["x-queue-type"] === "quorum" && args["x-max-priority"] !== undefined) {
    // RabbitMQ refuses x-max-priority on a quorum queue (406 "invalid arg"); Celery 5.7 adds
    // task_queue_max_priority to quorum queues too (Queues._set_max_priority) and meets that 406.
    throw new ConfigError(
      spec.arguments?.["x-max-priority"] !== undefined ? "taskQueues" : "taskQueueMaxPriority",
      `quorum queue ${JSON.stringify(spec.name)} cannot have x-max-priority (RabbitMQ refuses priority arguments on quorum queues); drop taskQueueMaxPriority or use a classic queue`,
    );
  }
  const queue: QueueDeclaration = {
    name: spec.name,
    durable: spec.durable ?? true,
    exclusive,
    // kombu/entity.py Queue.__init__: exclusive implies auto_delete.
    autoDelete: exclusive ? true : (spec.autoDelete ?? false),
    arguments: args,
  };
  if (spec.exchange === "") return { exchanges: [], queues: [queue], bindings: [] };
  return {
    exchanges: [{ name: spec.exchange, type: spec.exchangeType, durable: true, autoDelete: false }],
    queues: [queue],
    bindings: [{ queue: spec.name, exchange: spec.exchange, routingKey: spec.routingKey }],
  };
}

// ---------------------------------------------------------------------------
// Events (celery/events/event.py `event_exchange`, celery/events/receiver.py `EventReceiver`)

/** `Exchange('celeryev', type='topic')`: durable, not auto-delete (fanout only on Redis). */
export function eventExchange(name = "celeryev"): ExchangeDeclaration {
  return { name, type: "topic", durable: true, autoDelete: false };
}

export interface EventQueueOptions {
  /** `event_exchange` (default "celeryev"). */
  exchange?: string;
  /** `event_queue_prefix` (default "celeryev"). */
  prefix?: string;
  /** Seconds, `event_queue_expires` (default 60). */
  expires?: number | null;
  /** Seconds, `event_queue_ttl` (default 5). */
  ttl?: number | null;
  /** `event_queue_durable` (5.6+, default false). */
  durable?: boolean;
  /** `event_queue_exclusive` (5.6+; default true from 5.7, false before). */
  exclusive?: boolean;
  routingKey?: string;
}

/** An event receiver's queue `celeryev.<node id>` bound with `#` (EventReceiver.__init__). */
export function eventReceiverDeclarations(nodeId: string, options: EventQueueOptions = {}): Declarations {
  const exchange = options.exchange ?? "celeryev";
  const durable = options.durable ?? false;
  const exclusive = options.exclusive ?? true;
  const name = `${options.prefix ?? "celeryev"}.${nodeId}`;
  return {
    exchanges: [eventExchange(exchange)],
    queues: [
      {
        name,
        durable,
        exclusive,
        autoDelete: exclusive || !durable,
        arguments: rabbitmqQueueArguments(undefined, {
          messageTtl: options.ttl === undefined ? 5 : options.ttl,
          expires: options.expires === undefined ? 60 : options.expires,
        }),
      },
    ],
    bindings: [{ queue: name, exchange, routingKey: options.routingKey ?? "#" }],
  };
}

// ---------------------------------------------------------------------------
// Remote control (kombu/pidbox.py `Mailbox`, celery/app/control.py `Control.mailbox`)

export interface PidboxOptions {
  /** `control_exchange` (default "celery"): exchanges `<ns>.pidbox` and `reply.<ns>.pidbox`. */
  namespace?: string;
  /** Seconds, `control_queue_ttl` (default 300). */
  queueTtl?: number | null;
  /** Seconds, `control_queue_expires` (default 10). */
  queueExpires?: number | null;
  /** `control_queue_durable` (default false). */
  durable?: boolean;
  /** `control_queue_exclusive` (5.6+; default true from 5.7, false before). */
  exclusive?: boolean;
}

/** `Mailbox._get_exchange`: `<ns>.pidbox`, fanout, durable=False. */
export function pidboxExchange(namespace = "celery"): ExchangeDeclaration {
  return { name: pidboxNames(namespace).exchange, type: "fanout", durable: false, autoDelete: false };
}

/** `Mailbox._get_reply_exchange`: `reply.<ns>.pidbox`, direct, durable=False. */
export function pidboxReplyExchange(namespace = "celery"): ExchangeDeclaration {
  return { name: pidboxNames(namespace).replyExchange, type: "direct", durable: false, autoDelete: false };
}

function pidboxQueue(name: string, options: PidboxOptions): QueueDeclaration {
  const durable = options.durable ?? false;
  const exclusive = options.exclusive ?? true;
  return {
    name,
    durable,
    exclusive,
    autoDelete: exclusive || !durable,
    arguments: rabbitmqQueueArguments(undefined, {
      expires: options.queueExpires === undefined ? CONTROL_QUEUE_EXPIRES : options.queueExpires,
      messageTtl: options.queueTtl === undefined ? 300 : options.queueTtl,
    }),
  };
}

/** A worker's mailbox `<hostname>.<ns>.pidbox`, bound with routing key "" (`Mailbox.get_queue`). */
export function pidboxNodeDeclarations(hostname: string, options: PidboxOptions = {}): Declarations {
  const exchange = pidboxExchange(options.namespace);
  const queue = pidboxQueue(pidboxNames(options.namespace).nodeQueue(hostname), options);
  return {
    exchanges: [exchange],
    queues: [queue],
    bindings: [{ queue: queue.name, exchange: exchange.name, routingKey: "" }],
  };
}

/** A client's reply queue `<oid>.reply.<ns>.pidbox`, bound with routing key `<oid>` (`Mailbox.get_reply_queue`). */
export function pidboxReplyDeclarations(oid: string, options: PidboxOptions = {}): Declarations {
  const exchange = pidboxReplyExchange(options.namespace);
  const queue = pidboxQueue(pidboxNames(options.namespace).replyQueue(oid), options);
  return {
    exchanges: [exchange],
    queues: [queue],
    bindings: [{ queue: queue.name, exchange: exchange.name, routingKey: oid }],
  };
}

// ---------------------------------------------------------------------------
// RPC result backend (celery/backends/rpc.py `RPCBackend.binding`)

export interface RpcReplyQueueOptions {
  /** Seconds, `result_expires` (default 86400); null/0 sends no `x-expires`. */
  resultExpires?: number | null;
  /** 5.7 declares the reply queue durable=True; 5.2-5.6 durable=False. */
  durable: boolean;
}

/**
 * `Queue(oid, Exchange(None), oid, durable=True (5.7; False before),
 * auto_delete=True, expires=result_expires)`: on the default exchange, so
 * never bound.
 */
export function rpcReplyQueue(oid: string, options: RpcReplyQueueOptions): QueueDeclaration {
  const expires = options.resultExpires === undefined ? 86400 : options.resultExpires;
  return {
    name: oid,
    durable: options.durable,
    exclusive: false,
    autoDelete: true,
    arguments: rabbitmqQueueArguments(undefined, { expires: expires || null }),
  };
}
