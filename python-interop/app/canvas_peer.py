"""Tasks shaped like Celery's own integration tests (celery t/integration/tasks.py, 5.7), for canvas
parity tests: the same workflow runs once on a Python worker and once on a TS worker that registers
the same names (test/interop/canvas-errbacks.test.ts, canvas-builtins.test.ts), and the two are
compared.

Load it in a worker with ``startCeleryWorker({..., extraArgs: ["-I", "canvas_peer"]})`` and in a
producer snippet with ``import canvas_peer``. Counters and lists live in the Redis of
CELERIAC_RECORD_URL (default: the backend URL), like interop.record.
"""

from __future__ import annotations

import json

from interop_app import _record_redis, app


class ExpectedException(Exception):
    """What peer.fail raises (Celery's t.integration.tasks.ExpectedException)."""


@app.task(name="peer.identity")
def identity(x):
    """Returns x."""
    return x


@app.task(name="peer.add")
def add(x, y):
    """x + y."""
    return x + y


@app.task(name="peer.fail")
def fail(*args):
    """Raises ExpectedException('Task expected to fail', *args)."""
    raise ExpectedException("Task expected to fail", *args)


@app.task(name="peer.redis_echo")
def redis_echo(message, redis_key="redis-echo"):
    """RPUSHes message to redis_key (an immutable errback / callback that ignores its input)."""
    _record_redis().rpush(redis_key, message)


@app.task(name="peer.redis_count")
def redis_count(redis_key="redis-count"):
    """INCRs redis_key."""
    _record_redis().incr(redis_key)


@app.task(name="peer.errback_old_style")
def errback_old_style(request_id):
    """An errback Celery sends as a task with the failed task's id: counts under that id."""
    redis_count(request_id)
    return request_id


@app.task(name="peer.errback_new_style")
def errback_new_style(request, exc, tb):
    """An errback Celery calls in-process with (request, exc, traceback): counts under request.id."""
    redis_count(request.id)
    return request.id


@app.task(name="peer.errback_record")
def errback_record(request, exc, tb, *stored):
    """A new-style errback that writes what it was called with to the list errback:<request.id>."""
    seen = {
        "id": request.id,
        "task": getattr(request, "task", None),
        "exc_type": type(exc).__name__,
        "exc_args": [repr(a) for a in getattr(exc, "args", ())],
        "traceback": tb is not None,
        "stored": list(stored),
    }
    _record_redis().rpush(f"errback:{request.id}", json.dumps(seen, sort_keys=True))
