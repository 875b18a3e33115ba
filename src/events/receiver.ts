import { isRecord } from "../protocol/guards.js";
import { LamportClock } from "./clock.js";
import { adjustTimestamp, type EventBody, localUtcoffset, num } from "./event.js";

/** Handlers by event type; `"*"` catches every type without its own handler (Celery's convention). */
export type EventHandlers = Record<string, (event: EventBody) => void>;

export interface EventProcessorOptions {
  handlers: EventHandlers;
  clock?: LamportClock;
  /** Shift `timestamp` into our time zone with the sender's `utcoffset` (Celery's `localize`, default true). */
  localize?: boolean;
  /** Called with a body that is neither an event nor a list of events (dropped). */
  onMalformed?(body: unknown, reason: string): void;
}

const CLIENT_CLOCK_SKEW = -1;

/**
 * The broker-independent half of celery/events/receiver.py `EventReceiver`:
 * `_receive` (a dict, or a list for `task.multi`), `event_from_message`
 * (Lamport clock adjust; `task-sent` gets our clock − 1 because clients
 * never sync; timestamp localized; `local_received` added) and `process`.
 */
export class EventProcessor {
  readonly clock: LamportClock;
  readonly handlers: EventHandlers;
  private readonly localize: boolean;
  private readonly onMalformed: ((body: unknown, reason: string) => void) | undefined;

  constructor(options: EventProcessorOptions) {
    this.handlers = options.handlers;
    this.clock = options.clock ?? new LamportClock();
    this.localize = options.localize ?? true;
    this.onMalformed = options.onMalformed;
  }

  /** One decoded message body. */
  receive(body: unknown): void {
    if (Array.isArray(body)) {
      for (const event of body) this.receiveOne(event);
    } else {
      this.receiveOne(body);
    }
  }

  private receiveOne(body: unknown): void {
    if (!isRecord(body) || typeof body.type !== "string") {
      this.onMalformed?.(body, "an event must be an object with a string `type`");
      return;
    }
    const event = this.eventFromMessage({ ...body });
    this.process(event.type as string, event);
  }

  /** `EventReceiver.event_from_message`. */
  eventFromMessage(event: EventBody): EventBody {
    if (event.type === "task-sent") {
      const c = (this.clock.value || 1) + CLIENT_CLOCK_SKEW;
      event.clock = c;
      this.clock.adjust(c);
    } else if ("clock" in event && typeof event.clock === "number") {
      this.clock.adjust(event.clock);
    } else {
      event.clock = this.clock.forward();
    }
    if (this.localize) {
      const offset = num(event.utcoffset);
      const ts = num(event.timestamp);
      if (offset !== null && ts !== null) event.timestamp = adjustTimestamp(ts, offset, localUtcoffset());
    }
    event.local_received = Date.now() / 1000;
    return event;
  }

  process(type: string, event: EventBody): void {
    const handler = this.handlers[type] ?? this.handlers["*"];
    handler?.(event);
  }
}
