import type { Channel } from "amqplib";
import { CeleryError } from "../../errors.js";
import type { Declarations } from "./topology.js";

/**
 * Applying the declarations of `topology.ts` on a channel, in kombu's order (exchanges, queues,
 * queue bindings, exchange bindings: kombu/entity.py `Queue.declare`, 5.7.0), a refusal named.
 */

/** RabbitMQ refused a declaration (406 PRECONDITION_FAILED: someone declared it differently). */
export class AmqpDeclarationError extends CeleryError {
  constructor(what: string, cause: unknown) {
    super("ERR_DECLARE", `RabbitMQ refused to declare ${what}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * x-arguments typed as py-amqp writes them (amqp/serialization.py
 * `_write_item`): an int is `I` (signedint) when it fits 32 bits, else `L`.
 * amqplib would pick the smallest type (`b`, `s`); RabbitMQ accepts either,
 * but `rabbitmqctl list_queues` then shows a different type than Celery's.
 */
export function pyAmqpTypedArguments(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (typeof value === "number" && Number.isInteger(value)) {
      out[key] = { "!": value >= -0x80000000 && value < 0x80000000 ? "int" : "long", value };
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Applies declarations in kombu's order on one channel. */
export async function applyDeclarations(channel: Channel, declarations: Declarations): Promise<void> {
  for (const ex of declarations.exchanges) {
    if (ex.name === "") continue; // the default exchange exists and cannot be declared
    try {
      await channel.assertExchange(ex.name, ex.type, {
        durable: ex.durable,
        autoDelete: ex.autoDelete,
        internal: false,
      });
    } catch (err) {
      throw new AmqpDeclarationError(`exchange ${JSON.stringify(ex.name)} (${ex.type})`, err);
    }
  }
  for (const q of declarations.queues) {
    try {
      await channel.assertQueue(q.name, {
        durable: q.durable,
        exclusive: q.exclusive,
        autoDelete: q.autoDelete,
        arguments: pyAmqpTypedArguments(q.arguments),
      });
    } catch (err) {
      throw new AmqpDeclarationError(`queue ${JSON.stringify(q.name)}`, err);
    }
  }
  for (const b of declarations.bindings) {
    if (b.exchange === "") continue;
    try {
      await channel.bindQueue(b.queue, b.exchange, b.routingKey);
    } catch (err) {
      throw new AmqpDeclarationError(`binding ${b.exchange} -> ${b.queue} (${b.routingKey})`, err);
    }
  }
  for (const b of declarations.exchangeBindings ?? []) {
    try {
      await channel.bindExchange(b.destination, b.source, b.routingKey);
    } catch (err) {
      throw new AmqpDeclarationError(
        `exchange binding ${b.source} -> ${b.destination} (${b.routingKey})`,
        err,
      );
    }
  }
}
