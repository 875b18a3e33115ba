"""Python twins of the TS tasks in test/interop/task-request-redis.test.ts (task API: progress
states, the request, Reject, retry with new args, tasks sent from inside a task).

A worker loads them with the setting ``imports = ["request_tasks"]``; the test registers a TS task
of the same name on another queue, sends the same call to both and compares what each stored.
Every task returns plain JSON so the two results compare field by field.
"""

from __future__ import annotations

from celery.exceptions import Ignore, Reject

from interop_app import app


def _request_view(request) -> dict:
    """The fields of Celery's task request a TS ``ctx`` mirrors (celery/app/task.py Context)."""
    return {
        "id": request.id,
        "args": list(request.args or ()),
        "kwargs": request.kwargs,
        "retries": request.retries,
        "delivery_info": request.delivery_info,
        "properties": request.properties,
        "reply_to": request.reply_to,
        "correlation_id": request.correlation_id,
        "eta": request.eta,
        "expires": request.expires,
        "timelimit": list(request.timelimit) if request.timelimit else request.timelimit,
        "group": request.group,
        "group_index": request.group_index,
        "chord": request.chord,
        "root_id": request.root_id,
        "parent_id": request.parent_id,
        "origin": request.origin,
        "hostname": request.hostname,
        "headers": request.headers,
        "replaced_task_nesting": request.replaced_task_nesting,
        "is_eager": request.is_eager,
        "stamped_headers": request.stamped_headers,
        "stamps": request.stamps,
    }


@app.task(name="req.describe", bind=True)
def describe(self, *args, **kwargs):
    """Returns the request as _request_view shows it."""
    return _request_view(self.request)


@app.task(name="req.progress", bind=True)
def progress(self, total):
    """Stores PROGRESS {"current": 1, "total": total} with update_state, then raises Ignore, so
    the stored meta stays the one update_state wrote."""
    self.update_state(state="PROGRESS", meta={"current": 1, "total": total})
    raise Ignore()


@app.task(name="req.progress_other", bind=True)
def progress_other(self, other_id):
    """update_state(task_id=other_id): writes another id's meta from this task's request."""
    self.update_state(task_id=other_id, state="PROGRESS", meta={"for": other_id})
    return "ok"


@app.task(name="req.reject_once", bind=True, acks_late=True)
def reject_once(self):
    """Rejects its first delivery with requeue=True; returns the delivery_info of the redelivery."""
    if not self.request.delivery_info.get("redelivered"):
        raise Reject("first delivery", requeue=True)
    return self.request.delivery_info


@app.task(name="req.reject_drop", bind=True, acks_late=True)
def reject_drop(self):
    """Rejects with requeue=False: 5.7 stores FAILURE celery.exceptions.Reject."""
    raise Reject("dropped", requeue=False)


@app.task(name="req.retry_args", bind=True)
def retry_args(self, x, y):
    """First run: retry(args=(10, 20)); a call made with kwargs x/y must not pass them again."""
    if self.request.retries == 0:
        raise self.retry(args=(10, 20), countdown=0)
    return {"x": x, "y": y, "args": list(self.request.args), "kwargs": self.request.kwargs}


@app.task(name="req.retry_kwargs", bind=True)
def retry_kwargs(self, x, y, z=0):
    """First run: retry(kwargs={"y": 5, "z": 7}); y replaces the inherited positional arg."""
    if self.request.retries == 0:
        raise self.retry(kwargs={"y": 5, "z": 7}, countdown=0)
    return {"x": x, "y": y, "z": z, "args": list(self.request.args), "kwargs": self.request.kwargs}


@app.task(name="req.retry_opts", bind=True)
def retry_opts(self):
    """First run: retry with expires, time limits and headers; returns the retried request."""
    if self.request.retries == 0:
        raise self.retry(countdown=0, expires=600, time_limit=30, soft_time_limit=20,
                         headers={"x-retry": "yes"})
    return _request_view(self.request)


@app.task(name="req.spawn")
def spawn(queue):
    """Sends req.describe(1) to `queue` from inside the task (parent/root from the current task,
    added to its children) and returns the AsyncResult: stored as its as_tuple()."""
    return app.send_task("req.describe", (1,), queue=queue)


@app.task(name="req.spawn_group")
def spawn_group(queue):
    """Sends a group of two req.describe from inside the task and returns its GroupResult."""
    from celery import group

    return group(app.signature("req.describe", (i,), queue=queue) for i in range(2)).apply_async()


@app.task(name="req.spawn_chain")
def spawn_chain(queue):
    """Sends the chain req.describe(1) | req.describe() from inside the task; returns its result."""
    from celery import chain

    return chain(
        app.signature("req.describe", (1,), queue=queue), app.signature("req.describe", queue=queue)
    ).apply_async()


@app.task(name="req.grow", bind=True)
def grow(self, queue):
    """A chord header member that adds req.describe(9) to its chord (Task.add_to_chord)."""
    self.add_to_chord(app.signature("req.describe", (9,), queue=queue))
    return "grown"
