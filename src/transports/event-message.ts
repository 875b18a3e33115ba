import type { OutgoingMessage } from "./transport.js";

/**
 * One event as a broker message, the same on every broker: the JSON body, headers `{hostname}`,
 * `delivery_mode: 1` (transient), on the event exchange with the event's routing key
 * (`worker.heartbeat`, `task.multi`, ...), as celery/events/dispatcher.py
 * `EventDispatcher._publish` (5.7.0) publishes it.
 */
export function eventMessage(event: {
  exchange: string;
  routingKey: string;
  body: Uint8Array;
  headers: { hostname: string };
}): OutgoingMessage {
  return {
    body: event.body,
    contentType: "application/json",
    contentEncoding: "utf-8",
    headers: { ...event.headers },
    properties: { delivery_mode: 1 },
    exchange: event.exchange,
    routingKey: event.routingKey,
  };
}
