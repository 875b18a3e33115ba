"""The Celery app the interop tests run as a real Python worker and use as a Python producer.

Configured entirely from environment variables, so the TypeScript harness
(test/support/celery.ts) can point it at the throwaway brokers of a test run:

    CELERIAC_BROKER_URL       broker URL (default redis://127.0.0.1:6379/0)
    CELERIAC_BACKEND_URL      result backend URL (default: none, results disabled)
    CELERIAC_DEFAULT_QUEUE    task_default_queue (default "celery")
    CELERIAC_TASK_SERIALIZER  task_serializer and result_serializer (default "json")
    CELERIAC_BROKER_CA        CA file: broker_use_ssl = {ca_certs, cert_reqs: CERT_REQUIRED}
    CELERIAC_BACKEND_CA       CA file: redis_backend_use_ssl likewise
    CELERIAC_RECORD_URL       Redis URL used by interop.record (default: the backend URL)
    CELERIAC_CELERY_CONFIG    JSON object merged into app.conf last (any Celery setting)

Task names are explicit ("interop.<name>") so TypeScript producers can call them by name
whatever module path the worker was started with. Add tasks at the bottom; keep each one small
and say in its docstring what a test can check with it.

Producer snippets (test/support/celery.ts runPython / pythonJson) do
``from interop_app import app, emit`` and print one JSON document with ``emit(value)``.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import ssl
import sys
import time

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

ACCEPT = ["json", "msgpack", "yaml"]


def _config_from_env() -> dict:
    serializer = os.environ.get("CELERIAC_TASK_SERIALIZER", "json")
    conf = {
        "broker_url": os.environ.get("CELERIAC_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "result_backend": os.environ.get("CELERIAC_BACKEND_URL") or None,
        "task_default_queue": os.environ.get("CELERIAC_DEFAULT_QUEUE", "celery"),
        "task_serializer": serializer,
        "result_serializer": serializer,
        "accept_content": ACCEPT,
        "result_accept_content": ACCEPT,
        # Stores name/args/kwargs/worker/queue in the result meta, so tests can check them.
        "result_extended": True,
        # Silences the 5.3+ deprecation warning; the default behaviour is the same.
        "broker_connection_retry_on_startup": True,
        # One message at a time per process makes ordering tests (priority, countdown) honest.
        "worker_prefetch_multiplier": 1,
    }
    broker_ca = os.environ.get("CELERIAC_BROKER_CA")
    if broker_ca:
        # broker_use_ssl as a dict of ssl options (Celery's documented form), not an SSLContext.
        conf["broker_use_ssl"] = {"ca_certs": broker_ca, "cert_reqs": ssl.CERT_REQUIRED}
    backend_ca = os.environ.get("CELERIAC_BACKEND_CA")
    if backend_ca:
        conf["redis_backend_use_ssl"] = {"ssl_ca_certs": backend_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    extra = os.environ.get("CELERIAC_CELERY_CONFIG")
    if extra:
        conf.update(json.loads(extra))
    return conf


app = Celery("interop_app")
app.conf.update(_config_from_env())


def emit(value) -> None:
    """Print ``value`` as the one JSON document a pythonJson() snippet returns.

    Non-JSON values (datetime, bytes, Decimal, ...) are written as their repr so a snippet never
    dies on output formatting; check types with interop.echo_types instead.
    """
    sys.stdout.write(json.dumps(value, default=repr) + "\n")
    sys.stdout.flush()


class InteropError(Exception):
    """A custom exception the TS side must see as exc_type "InteropError", module "interop_app"."""


# ---------------------------------------------------------------------------- tasks


@app.task(name="interop.add")
def add(x, y):
    """x + y: the smallest round trip."""
    return x + y


@app.task(name="proj.tasks.add")
def readme_add(x, y):
    """The README's and the guides' examples call this name (a typical Django/Celery project task)."""
    return x + y


@app.task(name="proj.tasks.fail")
def guide_fail(kind, *args):
    """interop.fail under the guides' project name."""
    return fail(kind, *args)


@app.task(name="proj.tasks.resize")
def guide_resize(path, width):
    """The Python original of the task the moving guide takes over in TS."""
    return {"path": path, "width": width, "by": "python"}


@app.task(name="interop.mul")
def mul(x, y):
    """x * y: a second step for chains."""
    return x * y


@app.task(name="interop.xsum")
def xsum(numbers):
    """sum(numbers): a chord body / group collector."""
    return sum(numbers)


@app.task(name="interop.echo")
def echo(*args, **kwargs):
    """Returns [args, kwargs] exactly as Python decoded them (types kept for the result codec)."""
    return [list(args), kwargs]


def _describe(value) -> dict:
    kind = type(value)
    description = {"type": kind.__name__, "module": kind.__module__, "repr": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        description["hex"] = bytes(value).hex()
    if isinstance(value, (list, tuple)):
        description["items"] = [_describe(item) for item in value]
    elif isinstance(value, dict):
        description["items"] = {str(key): _describe(item) for key, item in value.items()}
    if hasattr(value, "tzinfo"):
        description["tz"] = None if value.tzinfo is None else str(value.tzinfo)
    return description


@app.task(name="interop.echo_types")
def echo_types(value):
    """Describes the Python types the worker decoded, recursively.

    {"type": "datetime", "module": "datetime", "repr": "datetime.datetime(...)", "tz": ...,
     "value": <the value itself>, "items": [...] for lists/tuples/dicts, "hex" for bytes}.
    A TS test can check Python saw a real datetime/Decimal/UUID/bytes, not a string.
    """
    description = _describe(value)
    description["value"] = value
    return description


@app.task(name="interop.sleep")
def sleep(seconds):
    """Sleeps, then returns `seconds` (for timeouts, revokes, warm shutdown)."""
    time.sleep(float(seconds))
    return seconds


@app.task(name="interop.fail")
def fail(kind, *args):
    """Raises builtin exception `kind` (e.g. "ValueError", "KeyError") with `args`, or
    InteropError(*args) for kind "InteropError" or any name that is not a builtin exception."""
    exc_class = getattr(builtins, kind, None)
    if not (isinstance(exc_class, type) and issubclass(exc_class, BaseException)):
        exc_class = InteropError
    raise exc_class(*args)


_REQUEST_FIELDS = [
    "id", "root_id", "parent_id", "group", "group_index", "retries", "eta", "expires",
    "shadow", "delivery_info", "correlation_id", "reply_to", "hostname", "origin", "timelimit",
    "ignore_result", "priority", "argsrepr", "kwargsrepr", "properties", "headers", "chord",
    "callbacks", "errbacks", "chain", "is_eager", "stamps",
]  # fmt: skip


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


@app.task(name="interop.headers", bind=True)
def headers(self, *args, **kwargs):
    """Returns what the worker's request context holds: the standard fields above under their
    names, and every other request attribute (custom message headers end up there) in "extra"."""
    request = self.request
    known = {field: getattr(request, field, None) for field in _REQUEST_FIELDS}
    known = {key: (value if _jsonable(value) else repr(value)) for key, value in known.items()}
    extra = {
        key: (value if _jsonable(value) else repr(value))
        for key, value in vars(request).items()
        if key not in _REQUEST_FIELDS and not key.startswith("_")
        and key not in ("args", "kwargs", "task")
    }  # fmt: skip
    return {"request": known, "extra": extra, "args": list(args), "kwargs": kwargs}


_record_client = None


def _record_redis():
    global _record_client
    if _record_client is None:
        import redis

        url = os.environ.get("CELERIAC_RECORD_URL") or os.environ.get("CELERIAC_BACKEND_URL")
        if not url or not url.startswith(("redis://", "rediss://", "unix://")):
            raise RuntimeError("interop.record needs CELERIAC_RECORD_URL (or a redis backend URL)")
        _record_client = redis.Redis.from_url(url)
    return _record_client


@app.task(name="interop.record")
def record(tag, key="interop:record"):
    """RPUSHes `tag` to Redis list `key` and returns the list length: the order in which a
    worker ran tasks (priority, countdown/ETA tests). Read it back with LRANGE key 0 -1."""
    return _record_redis().rpush(key, str(tag))


@app.task(name="interop.record_at")
def record_at(tag, key):
    """interop.record, and the time (time.time()) the task FIRST ran under `tag` in the hash
    `<key>:at` (HSETNX: a re-run does not move it): when a countdown task really ran."""
    client = _record_redis()
    client.hsetnx(f"{key}:at", str(tag), repr(time.time()))
    return client.rpush(key, str(tag))


@app.task(name="interop.time_limited")
def time_limited(seconds):
    """Sleeps; returns "soft-time-limit" when the soft time limit fired first, else "completed"."""
    try:
        time.sleep(float(seconds))
    except SoftTimeLimitExceeded:
        return "soft-time-limit"
    return "completed"


@app.task(name="interop.die")
def die():
    """SIGKILLs its own process: under -P prefork the pool stores WorkerLostError (never run it under solo)."""
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(name="interop.retry_once", bind=True)
def retry_once(self, countdown=0):
    """Retries itself once (same id, retries+1), then returns {"retries": n}."""
    if self.request.retries == 0:
        raise self.retry(countdown=countdown, max_retries=1)
    return {"retries": self.request.retries}


@app.task(name="interop.retry_to", bind=True)
def retry_to(self, queue):
    """Retries itself once into `queue` (Task.retry(queue=...): send_task_message declares it)."""
    if self.request.retries == 0:
        raise self.retry(queue=queue, countdown=0, max_retries=1)
    return {"retries": self.request.retries}


@app.task(name="interop.retry_delivery", bind=True)
def retry_delivery(self, countdown):
    """Retries itself once with `countdown`; the retried run returns how its message was
    delivered (exchange, routing key: delay-prefixed when RabbitMQ's delay levels carried it),
    its eta and when it ran (time.time())."""
    if self.request.retries == 0:
        raise self.retry(countdown=countdown, max_retries=1)
    info = self.request.delivery_info or {}
    return {
        "retries": self.request.retries,
        "exchange": info.get("exchange"),
        "routing_key": info.get("routing_key"),
        "eta": self.request.eta,
        "ran_at": time.time(),
    }


@app.task(name="interop.unencodable")
def unencodable(kind):
    """Returns what the result serializer cannot encode ("circular": a list containing itself,
    "object": object()), or None for "none": the metas Celery stores for these are what a TS
    worker must store too (FAILURE kombu EncodeError, and "result": null)."""
    if kind == "circular":
        value = []
        value.append(value)
        return value
    if kind == "object":
        return object()
    return None


@app.task(name="interop.bad_exc_args")
def bad_exc_args():
    """Raises ValueError("bad", <an arg json cannot encode>): Celery stores the arg's repr
    (celery/utils/serialization.py ensure_serializable)."""
    raise ValueError("bad", object())


# -- Signal order probes (test/interop/worker-hooks-redis.test.ts) ----------------------------
# For tasks named "interop.hooks.*", each task signal RPUSHes one JSON record to `hooks:<id>` on
# the record Redis: the signal, the state the result backend holds at that moment and whether the
# message is still in kombu's `unacked` hash (acks_late: not yet acknowledged). A TS worker's
# typed hooks record the same fields, so a test compares Celery's order with Celeriac's.

HOOKS_PREFIX = "interop.hooks."


def _hook_record(signal_name, task_id, **fields):
    import redis

    broker = redis.Redis.from_url(app.conf.broker_url)
    backend = redis.Redis.from_url(app.conf.result_backend)
    raw = backend.get(f"celery-task-meta-{task_id}")
    status = json.loads(raw)["status"] if raw else "PENDING"
    unacked = any(task_id.encode() in value for value in broker.hvals("unacked"))
    record_value = {"signal": signal_name, "status": status, "unacked": unacked, **fields}
    _record_redis().rpush(f"hooks:{task_id}", json.dumps(record_value))


def _is_probe(sender):
    return getattr(sender, "name", "").startswith(HOOKS_PREFIX)


def _connect_hook_probes():
    from celery import signals

    @signals.task_prerun.connect(weak=False)
    def _prerun(sender=None, task_id=None, args=None, kwargs=None, **_):
        if _is_probe(sender):
            _hook_record("task_prerun", task_id, args=list(args), kwargs=kwargs)

    @signals.task_success.connect(weak=False)
    def _success(sender=None, result=None, **_):
        if _is_probe(sender):
            _hook_record("task_success", sender.request.id, result=result)

    @signals.task_failure.connect(weak=False)
    def _failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, **_):
        if _is_probe(sender):
            _hook_record("task_failure", task_id, exception=repr(exception), args=list(args), kwargs=kwargs)

    @signals.task_retry.connect(weak=False)
    def _retry(sender=None, request=None, reason=None, **_):
        if _is_probe(sender):
            _hook_record("task_retry", request.id, reason=type(reason).__name__, retries=request.retries)

    @signals.task_postrun.connect(weak=False)
    def _postrun(sender=None, task_id=None, args=None, kwargs=None, retval=None, state=None, **_):
        if _is_probe(sender):
            shown = retval if state == "SUCCESS" else type(retval).__name__
            _hook_record("task_postrun", task_id, args=list(args), kwargs=kwargs, retval=shown, state=state)

    @signals.task_revoked.connect(weak=False)
    def _revoked(sender=None, request=None, terminated=None, signum=None, expired=None, **_):
        if _is_probe(sender):
            _hook_record("task_revoked", request.id, terminated=terminated, signum=signum, expired=expired)


_connect_hook_probes()


@app.task(name="interop.hooks.add", acks_late=True)
def hooks_add(x, y):
    """acks_late add: its signals record the backend state and ack state (see above)."""
    return x + y


@app.task(name="interop.hooks.fail", acks_late=True)
def hooks_fail(message):
    """acks_late ValueError(message)."""
    raise ValueError(message)


@app.task(name="interop.hooks.retry", bind=True, acks_late=True)
def hooks_retry(self, tag):
    """Retries itself once at once, then returns `tag`."""
    if self.request.retries == 0:
        raise self.retry(countdown=0, max_retries=1)
    return tag


@app.task(name="interop.replace_with", bind=True)
def replace_with(self, *args, replacement=None):
    """Replaces itself with the signature dict `replacement` (Task.replace), ignoring `args` (a
    parent's result in a chain): the Python twin of the TS tests' ts.replace_with."""
    from celery import signature

    return self.replace(signature(replacement, app=app))


@app.task(name="interop.nesting", bind=True)
def nesting(self, *args):
    """Returns the request's replaced_task_nesting, id and group/chord membership (replace tests)."""
    request = self.request
    return {
        "nesting": request.replaced_task_nesting,
        "id": request.id,
        "group": request.group,
        "group_index": request.group_index,
        "in_chord": request.chord is not None,
    }


@app.task(name="interop.grow_chord", bind=True)
def grow_chord(self, replacement=None, lazy=False):
    """Task.add_to_chord(signature(replacement)) from a chord header member (sent by it when
    `lazy`); returns 0, so a summing chord body counts only the added task's value."""
    from celery import signature

    sig = signature(replacement, app=app)
    added = self.add_to_chord(sig, lazy=lazy)
    if lazy:
        added.delay()
    return 0


@app.task(name="interop.record_failed")
def record_failed(task_id):
    """An old-style errback (one parameter, so Celery sends it as a task with the failed id):
    RPUSHes that id to the Redis list "interop:failed"."""
    return _record_redis().rpush("interop:failed", str(task_id))
