"""Runs a real solo Celery worker on the capture's unix-socket Redis.

Usage: python worker_main.py <socket path> <ready file>
The worker_ready signal writes <ready file>, which the capture waits for.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from celery.signals import worker_ready  # noqa: E402

import publish_recorder  # noqa: E402
from fixture_tasks import WORKER_NAME, make_app  # noqa: E402


def main() -> None:
    socket_path, ready_file = sys.argv[1], sys.argv[2]
    publish_recorder.install()  # appends to $FIXTURE_PUBLISH_LOG
    app = make_app(socket_path)

    @worker_ready.connect
    def _ready(**_kwargs):
        with open(ready_file, "w") as fh:
            fh.write("ready\n")

    app.worker_main([
        "worker", "-P", "solo", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-n", WORKER_NAME, "-l", "WARNING", "-Q", "celery",
    ])


if __name__ == "__main__":
    main()
