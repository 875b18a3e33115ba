"""Captures the protocol-fixtures corpus from the Celery installed in the running venv.

    python-interop/.venv-5.7/bin/python python-interop/capture/capture.py --out protocol-fixtures/5.7

Starts its own redis-server (unix socket only) and, for the worker-driven fixtures, a real solo
worker. See protocol-fixtures/README.md for the file shapes.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import celery  # noqa: E402
import kombu  # noqa: E402

import cases_json  # noqa: E402
import cases_result  # noqa: E402
import cases_task  # noqa: E402
import publish_recorder  # noqa: E402
from common import install_uuid_counter, write_fixture  # noqa: E402
from redis_server import Monitor, RedisServer  # noqa: E402

KIND_DIRS = ["task-message", "result-meta", "group-meta", "json-type"]


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


class Env:
    def __init__(self, redis: RedisServer, monitor: Monitor) -> None:
        self.redis = redis
        self.monitor = monitor

    def record(self, kind, case, inp, output, formats, capture="") -> dict:
        return {
            "kind": kind,
            "case": case,
            "celery": celery.__version__,
            "kombu": kombu.__version__,
            "capture": capture,
            "input": inp,
            "formats": formats,
            "output": output,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="output directory, e.g. protocol-fixtures/5.7")
    parser.add_argument("--only", choices=KIND_DIRS, action="append", help="capture only these kinds")
    args = parser.parse_args()
    minor = ".".join(celery.__version__.split(".")[:2])
    kinds = args.only or KIND_DIRS

    install_uuid_counter()
    # Cyclic garbage (results of canvas calls) holds AsyncResults whose __del__ sends UNSUBSCRIBE.
    # With automatic collection that lands at a random point of a capture; every capture instead
    # ends with an explicit gc.collect(), so the recorded command order is reproducible.
    gc.disable()
    publish_recorder.install()
    started = time.monotonic()
    redis = RedisServer()
    monitor = Monitor(redis.socket_path)
    env = Env(redis, monitor)
    written: list[tuple[str, dict]] = []
    try:
        if "task-message" in kinds:
            for case, serializer, compression in cases_task.all_task_variants():
                written += cases_task.capture_task_case(env, case, serializer, compression)
        if "result-meta" in kinds or "group-meta" in kinds:
            written += cases_result.capture_result_cases(env)
            print(f"  direct result metas done at {time.monotonic() - started:.1f} s", file=sys.stderr)
            written += cases_result.capture_worker_cases(env)
            print(f"  worker cases done at {time.monotonic() - started:.1f} s", file=sys.stderr)
        if "json-type" in kinds:
            written += cases_json.capture_json_cases(env)
    finally:
        gc.collect()  # pending AsyncResults unsubscribe now, while the server is still up
        monitor.close()
        redis.stop()

    written = [(path, rec) for path, rec in written if path.split("/")[0] in kinds]
    for kind in kinds:
        shutil.rmtree(os.path.join(args.out, kind), ignore_errors=True)
    seen = set()
    for path, record in written:
        if path in seen:
            raise AssertionError(f"two fixtures named {path}")
        seen.add(path)
        write_fixture(args.out, path, record)
    files = sorted(seen)
    counts = {kind: sum(1 for f in files if f.startswith(kind + "/")) for kind in kinds}
    manifest = {
        "minor": minor,
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "packages": {name: package_version(name) for name in
                     ["amqp", "billiard", "redis", "msgpack", "PyYAML", "Brotli", "vine", "python-dateutil"]},
        "count": len(files),
        "counts": counts,
        "files": files,
        "environment": {"python": platform.python_version(), "redis_server": redis.version},
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    print(f"celery {celery.__version__}: wrote {len(files)} fixtures to {args.out} "
          f"in {time.monotonic() - started:.1f} s", file=sys.stderr)
    sys.stderr.flush()
    # Skip interpreter teardown: AsyncResult.__del__ would try to UNSUBSCRIBE on the stopped
    # server and sit in the backend's reconnect loop.
    os._exit(0)


if __name__ == "__main__":
    main()
