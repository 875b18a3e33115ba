"""A Python Celery app for `celeriac stubs` (test/interop/stubs-python.test.ts): annotated and
unannotated tasks, the type shapes the generator maps, bound and class-based tasks."""

import os

from celery import Celery

app = Celery(
    "stubs_proj",
    broker=os.environ.get("CELERIAC_BROKER_URL", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("CELERIAC_BACKEND_URL") or None,
    include=["stubs_proj.tasks", "stubs_proj.models_tasks"],
)
app.conf.task_default_queue = os.environ.get("CELERIAC_DEFAULT_QUEUE", "celery")
app.conf.result_extended = True
