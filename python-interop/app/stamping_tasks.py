"""Python twins of the TS tasks of the stamping suite, test/interop/stamping/ (canvas
stamping: what a task sees of its stamps, what a retry re-sends, revoking by stamp).

A worker loads them with the setting ``imports = ["stamping_tasks"]``; the tests register a TS
task of the same name on another queue and compare what each worker stored or sent.
"""

from __future__ import annotations

import time

from interop_app import app


@app.task(name="stamps.view", bind=True)
def view(self, *args):
    """The stamps as the task's request holds them (celery/app/task.py Context)."""
    return {"stamped_headers": self.request.stamped_headers, "stamps": self.request.stamps}


@app.task(name="stamps.retry_to", bind=True)
def retry_to(self, queue):
    """First run: retry onto ``queue`` (a queue nobody consumes, so the test can read the
    message); a later run returns its view."""
    if not self.request.retries:
        raise self.retry(queue=queue, countdown=0)
    return view.run()


@app.task(name="stamps.sleep")
def sleep(seconds):
    """Sleeps ``seconds`` (to be revoked or terminated while queued or running)."""
    time.sleep(float(seconds))
    return seconds
