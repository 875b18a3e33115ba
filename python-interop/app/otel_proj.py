"""A Celery app instrumented with opentelemetry-instrumentation-celery, for
test/interop/otel-celery.test.ts (the "observe" venv). Spans go to an in-memory exporter in the
worker process; the ``otel.spans`` task returns the finished ones, so the test reads what the
Python side recorded through Celery itself.

Configured like interop_app (CELERIAC_BROKER_URL, CELERIAC_BACKEND_URL). ``instrument_process()``
is also what a Python producer snippet calls to trace its own sends."""

import os

from celery import Celery
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()


def instrument_process():
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()


def span_json(span):
    """The fields the test compares, ids as lowercase hex (as Node's SpanContext prints them)."""
    ctx = span.get_span_context()
    return {
        "name": span.name,
        "kind": span.kind.name,
        "traceId": format(ctx.trace_id, "032x"),
        "spanId": format(ctx.span_id, "016x"),
        "parentSpanId": format(span.parent.span_id, "016x") if span.parent else None,
        "attributes": {k: v if isinstance(v, (str, int, float, bool)) else list(v) for k, v in span.attributes.items()},
        "status": span.status.status_code.name,
    }


app = Celery(
    "otel_proj",
    broker=os.environ.get("CELERIAC_BROKER_URL", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("CELERIAC_BACKEND_URL") or None,
)
app.conf.task_default_queue = os.environ.get("CELERIAC_DEFAULT_QUEUE", "celery")

if os.environ.get("OTEL_PROJ_WORKER") == "1":
    # Solo pool: the worker process is the one that runs tasks, so instrumenting at import is enough.
    instrument_process()


@app.task(name="otel.echo")
def echo(value):
    """Returns its argument: the run span is what the test looks at."""
    return value


@app.task(name="otel.fail")
def fail(message):
    raise ValueError(message)


@app.task(name="otel.spans")
def spans():
    """Every span this worker finished so far."""
    return [span_json(s) for s in exporter.get_finished_spans()]
