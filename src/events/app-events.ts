import type { Redis } from "ioredis";
import type { Settings } from "../config.js";
import { ConfigError } from "../errors.js";
import { taskSentEventFields } from "../protocol/build.js";
import type { TaskMessage } from "../protocol/task-message.js";
import { wireBudget } from "../serialization/index.js";
import { AmqpTransport } from "../transports/amqp/transport.js";
import type { RedisKeys } from "../transports/redis/keys.js";
import { startAmqpEventReceiver } from "./amqp-receiver.js";
import type { LamportClock } from "./clock.js";
import type { EventSink } from "./dispatcher.js";
import { EventDispatcher } from "./dispatcher.js";
import { type EventHandlers, EventProcessor } from "./receiver.js";
import { type RunningReceiver, startRedisEventReceiver } from "./redis-receiver.js";
import { brokerEventSink } from "./sink.js";
import { State, type StateOptions } from "./state.js";

/** What `AppEvents` needs from the app (the `Celery` facade satisfies it). */
export interface EventsAppLike {
  readonly settings: Settings;
  readonly origin: string;
  /** The broker transport: an `AmqpTransport` makes events go over RabbitMQ. */
  readonly transport?: unknown;
  /** Used when the broker is not AMQP (the facade's getter throws on an AMQP broker). */
  readonly redisTransport?: {
    readonly keys: RedisKeys;
    readonly client: Redis;
    newClient(name: string): Redis;
  };
}

export interface ReceiverOptions {
  /** Broadcast `heartbeat` once subscribed so workers announce themselves (Celery's `wakeup=True`). */
  wakeup?: () => Promise<unknown>;
  onError?(err: unknown): void;
  clock?: LamportClock;
}

/**
 * `app.events` (celery/app/events.py `Events`): the producer's dispatcher
 * (for `task-sent` with `taskSendSentEvent`), `receiver(handlers)` and `State`.
 */
export class AppEvents {
  private dispatcherInstance: EventDispatcher | null = null;

  constructor(private readonly app: EventsAppLike) {}

  private amqp(): AmqpTransport | null {
    const t = this.app.transport;
    return t instanceof AmqpTransport ? t : null;
  }

  private redis(): NonNullable<EventsAppLike["redisTransport"]> {
    const r = this.app.redisTransport;
    if (!r) throw new ConfigError("broker", "events need a redis:// or amqp:// broker transport");
    return r;
  }

  private sink(): EventSink {
    return brokerEventSink(this.amqp() ?? this.redis(), this.app.settings);
  }

  /** The app's own dispatcher (hostname `gen<pid>@host`, unbuffered), created on first use. */
  get dispatcher(): EventDispatcher {
    if (this.dispatcherInstance === null) {
      const s = this.app.settings;
      this.dispatcherInstance = new EventDispatcher({
        hostname: this.app.origin,
        compat: s.compat,
        sink: this.sink(),
      });
    }
    return this.dispatcherInstance;
  }

  /**
   * celery/app/amqp.py `send_task_message`: after the publish, `task-sent`
   * with the message's fields plus `queue, exchange, routing_key`.
   */
  taskSent(message: TaskMessage, route: { queue: string; exchange: string; routingKey: string }): void {
    this.dispatcher.send("task-sent", {
      ...taskSentEventFields(message),
      queue: route.queue,
      exchange: route.exchange,
      routing_key: route.routingKey,
    });
  }

  /** Starts consuming events from every worker (Celery's `EventReceiver(...).capture()`). */
  async receiver(handlers: EventHandlers, options: ReceiverOptions = {}): Promise<RunningReceiver> {
    const s = this.app.settings;
    const processor = new EventProcessor({
      handlers,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onError ? { onMalformed: (_b, reason) => options.onError?.(new Error(reason)) } : {}),
    });
    const amqp = this.amqp();
    if (amqp) {
      return startAmqpEventReceiver({
        transport: amqp,
        processor,
        exchange: s.eventExchange,
        queuePrefix: s.eventQueuePrefix,
        queueExpires: s.eventQueueExpires,
        queueTtl: s.eventQueueTtl,
        exclusive: s.compat.exclusiveOpsQueues,
        budget: wireBudget(s),
        ...(options.wakeup ? { onReady: async () => void (await options.wakeup?.()) } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      });
    }
    const redis = this.redis();
    const subscriber = redis.newClient("celeriac-events");
    const running = await startRedisEventReceiver({
      subscriber,
      client: redis.client,
      keys: redis.keys,
      processor,
      exchange: s.eventExchange,
      queuePrefix: s.eventQueuePrefix,
      queueExpires: s.eventQueueExpires,
      bindingDeadlines: s.compat.permanentBindings,
      budget: wireBudget(s),
      ...(options.wakeup ? { onReady: async () => void (await options.wakeup?.()) } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    return {
      queue: running.queue,
      async close() {
        await running.close();
        subscriber.disconnect();
      },
    };
  }

  /** A bounded cluster state to feed from {@link receiver}. */
  State(options?: StateOptions): State {
    return new State(options);
  }

  async close(): Promise<void> {
    await this.dispatcherInstance?.drain();
  }
}
