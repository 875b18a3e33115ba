import { ConfigError } from "../../errors.js";
import { parseIsoDatetime } from "../../protocol/datetime.js";
import type { EtaMessage, NativeDelay, QueueSpec } from "../transport.js";
import {
  calculateRoutingKey,
  DELAYED_PUBLISH_EXCHANGE,
  detectQuorumQueues,
  MAX_NATIVE_DELAY_SECONDS,
} from "./native-delayed-delivery.js";

/**
 * Where a task with an ETA or countdown goes when RabbitMQ delays it
 * (celery/app/base.py `Celery.send_task`, 5.7.0): when any of the app's queues
 * is a quorum queue (`detect_quorum_queues`) and the task's queue is bound to
 * a topic or fanout exchange, the message is published to `celery_delayed_27`
 * with the delay's whole seconds encoded in front of the queue's routing key;
 * the 28 delay levels hold it and hand it to the queue's exchange when it is
 * due. A direct exchange cannot be reached that way: Celery logs a warning and
 * publishes it at once (the worker holds it until its ETA), and so do we
 * (without the warning: the route is the caller's).
 *
 * One deliberate difference: Celery raises ValueError for a delay under one
 * second (`int(countdown)` is 0 and kombu's `calculate_routing_key` refuses
 * it); such a task is published at once here, the worker holds it for the
 * fraction of a second left.
 *
 * `appQueues` is the app's queue table (`app.amqp.queues`); quorum detection
 * is done once, here.
 */
export function amqpNativeDelay(appQueues: readonly QueueSpec[]): NativeDelay {
  const quorum = detectQuorumQueues(appQueues);
  return (message: EtaMessage) => {
    if (!quorum) return null;
    if (message.queue.exchangeType === "direct" || message.queue.exchange === "") return null;
    // send_task: an eta wins (countdown = eta - now); else the countdown as given.
    const countdown =
      message.etaGiven || !message.countdown
        ? (parseIsoDatetime(message.eta, "eta").getTime() - message.now) / 1000
        : message.countdown;
    const seconds = Math.trunc(countdown);
    if (seconds < 1) return null;
    if (seconds > MAX_NATIVE_DELAY_SECONDS) {
      throw new ConfigError(
        "countdown",
        `a delay of ${seconds} s is longer than RabbitMQ native delayed delivery carries (${MAX_NATIVE_DELAY_SECONDS} s, 28 levels)`,
      );
    }
    return {
      exchange: DELAYED_PUBLISH_EXCHANGE,
      routingKey: calculateRoutingKey(seconds, message.queue.routingKey),
    };
  };
}
