/** Celery events: dispatch (worker and producer side), receive, and the cluster `State`. */

export type { RunningReceiver } from "./app-events.js";
export { LamportClock } from "./clock.js";
export { type DispatcherOptions, EventDispatcher, type EventSink } from "./dispatcher.js";
export {
  adjustTimestamp,
  buildEvent,
  type EventBody,
  groupFrom,
  loadAverage,
  routingKeyOf,
  SW_IDENT,
  SW_VER,
  softwareInfo,
  utcoffset,
} from "./event.js";
export { Heart, type HeartStats } from "./heartbeat.js";
export { eventJson, PyFloat, pyFloat } from "./json.js";
export { type EventHandlers, EventProcessor, type EventProcessorOptions } from "./receiver.js";
export { brokerEventSink } from "./sink.js";
export { State, type StateOptions, TaskState, WorkerState } from "./state.js";
export { taskEventFields } from "./task-events.js";
