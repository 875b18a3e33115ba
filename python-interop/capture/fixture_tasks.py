"""The Celery app the capture drives: a few tasks with fixed names, on a unix-socket Redis.

Both the capture process and the worker process (worker_main.py) build their app here, so they
agree on task names, serializers and accepted content.
"""
from __future__ import annotations

from celery import Celery

# Fixed value for app.thread_oid (the default reply_to and the reply_to of frozen signatures),
# which Celery otherwise derives from the pid and thread id. A uuid3-shaped string, as kombu's oid_from.
THREAD_OID = "0f0e0d0c-0b0a-3999-8888-777766665555"
WORKER_NAME = "w1@fixtures"


class FixtureError(Exception):
    """A custom exception: its module is this module's name, as Celery records it."""


class Unserializable:
    def __repr__(self) -> str:
        return "Unserializable()"


def make_app(socket_path: str, **conf) -> Celery:
    app = Celery("fixtures")
    app.conf.update(
        broker_url=f"redis+socket://{socket_path}",
        result_backend=f"redis+socket://{socket_path}",
        accept_content=["json", "msgpack", "yaml"],
        result_accept_content=["json", "msgpack", "yaml"],
        enable_utc=True,
        timezone="UTC",
        broker_connection_retry_on_startup=False,
        worker_hijack_root_logger=False,
    )
    app.conf.update(conf)
    app._local.oid = THREAD_OID  # see THREAD_OID

    @app.task(name="tasks.add", shared=False)
    def add(x=0, y=0):
        return x + y

    @app.task(name="tasks.tsum", shared=False)
    def tsum(values):
        return sum(values)

    @app.task(name="tasks.echo", shared=False)
    def echo(*args, **kwargs):
        return [list(args), kwargs]

    @app.task(name="tasks.fail", shared=False)
    def fail():
        raise ValueError("bad value", 7)

    @app.task(name="tasks.on_error", shared=False)
    def on_error(task_id):
        return task_id

    @app.task(bind=True, name="tasks.retry_once", max_retries=3, shared=False)
    def retry_once(self, x, y):
        if self.request.retries == 0:
            raise self.retry(countdown=3600, exc=KeyError("transient"))
        return x + y

    return app
