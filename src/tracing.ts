import type * as OtelApi from "@opentelemetry/api";
import { loadOptionalDependency } from "./optional-deps.js";

/**
 * OpenTelemetry spans for task messages, shaped as opentelemetry-instrumentation-celery
 * (Python, 0.66b2: `CeleryInstrumentor._trace_before_publish` / `_trace_prerun` /
 * `_trace_postrun` / `_trace_failure`) makes them, so one trace runs through Node and Python:
 *
 * - sending: a PRODUCER span `apply_async/<task>` whose context is injected into the message
 *   headers (W3C `traceparent`/`tracestate` with the default propagators) - where the Python
 *   instrumentation's `inject(headers)` writes it;
 * - running: the context extracted from the message headers (Celery copies headers onto
 *   `task.request`, where the Python instrumentation's `extract(request)` reads them) is the
 *   parent of a CONSUMER span `run/<task>`, active while the handler runs, so what the handler
 *   sends is a child of it.
 *
 * `@opentelemetry/api` is an optional peer dependency, loaded on first use: without it (or
 * without an SDK registered with it) nothing is recorded and no header is added.
 */
type Api = typeof OtelApi;

/** The tracer name spans are recorded under (the instrumentation scope). */
export const TRACER_NAME = "celeriac";

// Attribute keys the Python instrumentation sets (its _TASK_TAG_KEY, _TASK_NAME_KEY, semconv).
const ACTION = "celery.action";
const TASK_NAME = "celery.task_name";
const MESSAGE_ID = "messaging.message.id";
const DESTINATION = "messaging.destination";
const RETRY_REASON = "celery.retry.reason";

function otel(): Api | null {
  return loadOptionalDependency<Api>("@opentelemetry/api");
}

/**
 * Loads `@opentelemetry/api` (when installed) now rather than on the first task: a worker does it
 * at start, so its first tasks do not wait on reading the package (~15 ms).
 */
export function loadTracing(): void {
  otel();
}

export interface TaskSpanInfo {
  name: string;
  id: string;
  routingKey?: string | undefined;
}

function attributes(action: string, task: TaskSpanInfo): OtelApi.Attributes {
  const out: OtelApi.Attributes = { [ACTION]: action, [TASK_NAME]: task.name, [MESSAGE_ID]: task.id };
  if (task.routingKey) out[DESTINATION] = task.routingKey;
  return out;
}

function fail(api: Api, span: OtelApi.Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: err.message });
}

/** A started span; `end(error)` records a failure first. */
export interface TaskSpan {
  end(error?: unknown): void;
}

/**
 * Starts the PRODUCER span of one task message and writes its context into `headers` (the
 * message's headers, before they are sent). Null when tracing is off or the span records nothing.
 */
export function startPublishSpan(task: TaskSpanInfo, headers: Record<string, unknown>): TaskSpan | null {
  const api = otel();
  if (api === null) return null;
  const span = api.trace.getTracer(TRACER_NAME).startSpan(`apply_async/${task.name}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: attributes("apply_async", task),
  });
  // No propagator registered (the API's no-op one names no fields): nothing to write.
  if (api.propagation.fields().length > 0) {
    api.propagation.inject(api.trace.setSpan(api.context.active(), span), headers);
  }
  // A span that records nothing (no SDK registered, or sampled out) ignores end/recordException/
  // setStatus (the API's NonRecordingSpan): no handle, so the send takes its plain path.
  if (!span.isRecording()) return null;
  return {
    end(error?: unknown) {
      if (error !== undefined) fail(api, span, error);
      span.end();
    },
  };
}

/**
 * Runs `run` (the task handler) inside a CONSUMER span whose parent is the context carried in
 * the message `headers`. A thrown error marks the span failed, except a retry request, which is
 * recorded as `celery.retry.reason` as the Python instrumentation's `_trace_retry` does.
 */
export function traceTaskRun<T>(
  task: TaskSpanInfo,
  headers: Record<string, unknown>,
  run: () => T | Promise<T>,
  isRetry: (err: unknown) => boolean = () => false,
): T | Promise<T> {
  // Untraced, `run`'s own answer (a sync handler's value, or what it throws) goes back as it is:
  // no promise is made for it here (the caller makes the one it needs).
  const api = otel();
  if (api === null) return run();
  // No propagator registered (the API's no-op one names no fields): nothing to extract, and
  // nothing a send inside the handler could inject.
  const propagating = api.propagation.fields().length > 0;
  const parent = propagating ? api.propagation.extract(api.ROOT_CONTEXT, headers) : api.ROOT_CONTEXT;
  const span = api.trace
    .getTracer(TRACER_NAME)
    .startSpan(
      `run/${task.name}`,
      { kind: api.SpanKind.CONSUMER, attributes: attributes("run", task) },
      parent,
    );
  // The API without an SDK and no propagator: the no-op tracer's span (invalid context, records
  // nothing) reaches no message and parents nothing, so the handler runs without it (no context,
  // no promise chain per task). A span an SDK sampled out keeps its valid context: its children
  // must see it to be sampled out too.
  if (!propagating && !api.trace.isSpanContextValid(span.spanContext())) return run();
  // Traced: a throw or a plain value of `run` becomes a promise, so the span ends either way.
  const running = new Promise<T>((resolve) =>
    resolve(api.context.with(api.trace.setSpan(parent, span), run)),
  );
  return running.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      if (isRetry(err)) span.setAttribute(RETRY_REASON, err instanceof Error ? err.message : String(err));
      else fail(api, span, err);
      span.end();
      throw err;
    },
  );
}
