import type { Settings } from "../config.js";
import { taskSentEventFields } from "../protocol/build.js";
import type { TaskMessage } from "../protocol/task-message.js";
import { wireBudget } from "../serialization/index.js";
import type { EventStream } from "../transports/transport.js";
import type { LamportClock } from "./clock.js";
import type { EventSink } from "./dispatcher.js";
import { EventDispatcher } from "./dispatcher.js";
import { decodeEventBody } from "./json.js";
import { type EventHandlers, EventProcessor } from "./receiver.js";
import { brokerEventSink, brokerEvents, type EventBroker } from "./sink.js";
import { State, type StateOptions } from "./state.js";

/** What `AppEvents` needs from the app (the `Celery` facade satisfies it). */
export interface EventsAppLike {
  readonly settings: Settings;
  readonly origin: string;
  /** The broker transport; events go where its `events()` capability says. */
  readonly transport: EventBroker;
}

/** A running receiver (its queue `celeryev.<uuid>`, and `close`). */
export type RunningReceiver = EventStream;

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

  private sink(): EventSink {
    return brokerEventSink(this.app.transport, this.app.settings);
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
    const budget = wireBudget(s);
    return brokerEvents(this.app.transport).listen({
      exchange: s.eventExchange,
      queuePrefix: s.eventQueuePrefix,
      queueExpires: s.eventQueueExpires,
      queueTtl: s.eventQueueTtl,
      exclusive: s.compat.exclusiveOpsQueues,
      bindingDeadlines: s.compat.permanentBindings,
      budget,
      onMessage: (raw) => {
        try {
          processor.receive(decodeEventBody(raw.body, raw.contentType, raw.contentEncoding, budget));
        } catch (err) {
          options.onError?.(err);
        }
      },
      ...(options.wakeup ? { onReady: async () => void (await options.wakeup?.()) } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** A bounded cluster state to feed from {@link receiver}. */
  State(options?: StateOptions): State {
    return new State(options);
  }

  async close(): Promise<void> {
    await this.dispatcherInstance?.drain();
  }
}
