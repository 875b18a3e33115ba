"""The Python half of `npm run demo`: a stock Celery app, nothing patched.

Run as a worker (`celery -A demo_tasks worker`) it serves `demo.add` and `demo.fail`
to the TS producer; run as a script it is a Python producer calling the TS task
`ts.greet` and printing the result as JSON.
"""

import json
import os
import sys

from celery import Celery

app = Celery(
    "demo",
    broker=os.environ["DEMO_BROKER_URL"],
    backend=os.environ["DEMO_BACKEND_URL"],
)
app.conf.update(result_extended=True, broker_connection_retry_on_startup=True)


@app.task(name="demo.add")
def add(x, y):
    return x + y


@app.task(name="demo.fail")
def fail(message):
    raise ValueError(message, 42)


if __name__ == "__main__":
    result = app.send_task("ts.greet", ("Python",), {"punctuation": "!"}, queue="ts-demo")
    json.dump({"task_id": result.id, "result": result.get(timeout=20)}, sys.stdout)
