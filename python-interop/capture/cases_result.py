"""Result-meta and group-meta fixtures.

Direct cases call the result backend the way the worker does (mark_as_done, mark_as_failure,
mark_as_retry, mark_as_revoked, mark_as_started, store_result, GroupResult.save) against a real
redis-server and read back the stored value. Worker cases run a real solo worker: SUCCESS,
FAILURE and RETRY metas as a worker writes them, and the message Task.retry() publishes.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time

from cases_task import message_output, tid
from common import UUIDS, RawJson, Volatile

TRACEBACK = 'Traceback (most recent call last):\n  File "tasks.py", line 3, in add\nValueError: bad value\n'
WORKER = "w1@fixtures"
DELIVERY_INFO = {"exchange": "", "routing_key": "celery", "priority": 0, "redelivered": False}


def _request(task_id, **extra):
    return {"id": task_id, "task": "tasks.add", "args": [2, 3], "kwargs": {}, "hostname": WORKER,
            "retries": 0, "delivery_info": DELIVERY_INFO, **extra}


def _exc(module, type_, args):
    return {"module": module, "type": type_, "args": args}


RESULT_CASES = [
    {"case": "success", "call": "mark_as_done", "task_id": tid(101), "result": 5, "request": _request(tid(101))},
    {"case": "success-no-request", "call": "store_result", "task_id": tid(102), "state": "SUCCESS", "result": 5},
    {"case": "success-complex", "call": "mark_as_done", "task_id": tid(103),
     "result": {"a": [1, 2.5, None, "\u00e9"], "b": True, "c": {}}, "request": _request(tid(103))},
    {"case": "success-extended", "call": "mark_as_done", "task_id": tid(104), "result": 5, "extended": True,
     "request": _request(tid(104), retries=1)},
    {"case": "success-group-parent", "call": "mark_as_done", "task_id": tid(105), "result": 5,
     "request": _request(tid(105), group=tid(1105), parent_id=tid(2105), root_id=tid(2105))},
    {"case": "success-children", "call": "mark_as_done", "task_id": tid(106), "result": 5,
     "request": _request(tid(106), children=[{"id": tid(1106)},
                                             {"group": tid(2106), "results": [tid(3106), tid(4106)]}])},
    {"case": "success-typed", "call": "mark_as_done", "task_id": tid(107),
     "result": {"$datetime": "2024-01-02T03:04:05.678901+00:00"}, "request": _request(tid(107))},
    {"case": "failure-builtin", "call": "mark_as_failure", "task_id": tid(108),
     "exception": _exc("builtins", "ValueError", ["bad value", 7]), "traceback": TRACEBACK,
     "request": _request(tid(108))},
    {"case": "failure-custom", "call": "mark_as_failure", "task_id": tid(109),
     "exception": _exc("fixture_tasks", "FixtureError", ["custom", "$unserializable"]), "traceback": TRACEBACK,
     "request": _request(tid(109))},
    {"case": "failure-extended", "call": "mark_as_failure", "task_id": tid(110), "extended": True,
     "exception": _exc("builtins", "KeyError", ["missing"]), "traceback": TRACEBACK,
     "request": _request(tid(110))},
    {"case": "retry", "call": "mark_as_retry", "task_id": tid(111),
     "exception": _exc("builtins", "KeyError", ["transient"]), "traceback": TRACEBACK,
     "request": _request(tid(111))},
    {"case": "revoked", "call": "mark_as_revoked", "task_id": tid(112), "reason": "revoked",
     "request": _request(tid(112))},
    {"case": "revoked-expired", "call": "mark_as_revoked", "task_id": tid(113), "reason": "expired",
     "request": _request(tid(113))},
    {"case": "started", "call": "mark_as_started", "task_id": tid(114), "meta": {"pid": 4242, "hostname": WORKER}},
    {"case": "custom-state", "call": "store_result", "task_id": tid(115), "state": "PROGRESS",
     "result": {"current": 50, "total": 100}, "request": _request(tid(115))},
]

GROUP_CASES = [
    {"case": "group", "group_id": tid(201), "children": [tid(202), tid(203)]},
    {"case": "group-nested", "group_id": tid(204), "children": [tid(205), {"group": tid(206),
                                                                           "results": [tid(207)]}]},
]


def _results(app, specs):
    from celery.result import AsyncResult, GroupResult

    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(AsyncResult(spec, app=app))
        elif "group" in spec:
            out.append(GroupResult(spec["group"], [AsyncResult(t, app=app) for t in spec["results"]], app=app))
        else:
            out.append(AsyncResult(spec["id"], app=app))
    return out


def _make_exception(spec):
    import builtins

    import fixture_tasks

    module = builtins if spec["module"] == "builtins" else fixture_tasks
    args = [fixture_tasks.Unserializable() if a == "$unserializable" else a for a in spec["args"]]
    return getattr(module, spec["type"])(*args)


def _run(app, case):
    from celery.app.task import Context

    from common import to_python

    backend = app.backend
    request = None
    if "request" in case:
        fields = dict(to_python(case["request"]))
        if "children" in fields:
            fields["children"] = _results(app, fields["children"])
        request = Context(fields)
    call = case["call"]
    if call == "mark_as_done":
        backend.mark_as_done(case["task_id"], to_python(case["result"]), request=request)
    elif call == "store_result":
        backend.store_result(case["task_id"], case["result"], case["state"], request=request)
    elif call == "mark_as_failure":
        backend.mark_as_failure(case["task_id"], _make_exception(case["exception"]), case["traceback"],
                                request=request)
    elif call == "mark_as_retry":
        backend.mark_as_retry(case["task_id"], _make_exception(case["exception"]), case["traceback"],
                              request=request)
    elif call == "mark_as_revoked":
        backend.mark_as_revoked(case["task_id"], case["reason"], request=request)
    elif call == "mark_as_started":
        backend.mark_as_started(case["task_id"], **case["meta"])
    else:
        raise ValueError(call)


def _date_format(vol: Volatile, value) -> None:
    if value is None:
        return
    from common import matches

    vol.add(value, "isoformat-aware" if matches("isoformat-aware", value) else "isoformat-naive")


def _meta_output(key: str, raw: bytes, ttl, commands, vol: Volatile) -> dict:
    text = raw.decode("utf-8")
    meta = json.loads(text)
    _date_format(vol, meta.get("date_done"))
    cmds = []
    for args in commands:
        cmd = [a.decode("utf-8", "backslashreplace") for a in args]
        cmd = ["<raw>" if a == text else a for a in cmd]
        cmds.append(cmd)
    return {"key": key, "ttl": ttl, "raw": RawJson(text, "/meta"), "meta": meta, "commands": cmds}


def capture_result_cases(env) -> list[tuple[str, dict]]:
    from celery.result import GroupResult

    from fixture_tasks import make_app

    out = []
    client = env.redis.client
    for case in RESULT_CASES:
        UUIDS.reset()
        client.flushall()
        app = make_app(env.redis.socket_path, result_extended=case.get("extended", False))
        app.backend  # noqa: B018 - connect before the first marker
        start = env.monitor.mark()
        _run(app, case)
        gc.collect()  # AsyncResult.__del__ talks to Redis: keep it inside this capture
        end = env.monitor.mark()
        key = f"celery-task-meta-{case['task_id']}"
        vol = Volatile()
        output = _meta_output(key, client.get(key), client.ttl(key), env.monitor.between(start, end), vol)
        app.close()
        inp = {k: v for k, v in case.items() if k not in ("case", "extended")}
        inp["app"] = {"result_extended": case.get("extended", False), "result_serializer": "json"}
        normalized, formats = vol.apply(output)
        out.append((f"result-meta/{case['case']}.json", env.record(
            "result-meta", case["case"], inp, normalized, formats,
            capture="real redis-server: backend call as the worker makes it, stored value read back with GET")))
    for case in GROUP_CASES:
        UUIDS.reset()
        client.flushall()
        app = make_app(env.redis.socket_path)
        app.backend  # noqa: B018
        start = env.monitor.mark()
        GroupResult(case["group_id"], _results(app, case["children"]), app=app).save()
        gc.collect()
        end = env.monitor.mark()
        key = f"celery-taskset-meta-{case['group_id']}"
        vol = Volatile()
        output = _meta_output(key, client.get(key), client.ttl(key), env.monitor.between(start, end), vol)
        app.close()
        normalized, formats = vol.apply(output)
        inp = {"call": "GroupResult.save", **{k: v for k, v in case.items() if k != "case"}}
        out.append((f"group-meta/{case['case']}.json", env.record(
            "group-meta", case["case"], inp, normalized, formats,
            capture="real redis-server: GroupResult(id, results).save(), stored value read back with GET")))
    return out


# ------------------------------------------------------------------ real worker

WORKER_SENDS = [
    {"case": "worker-success", "task": "tasks.add", "args": [2, 3], "kwargs": {}, "task_id": tid(301)},
    {"case": "worker-failure", "task": "tasks.fail", "args": [], "kwargs": {}, "task_id": tid(302)},
    {"case": "worker-retry", "task": "tasks.retry_once", "args": [2, 3], "kwargs": {}, "task_id": tid(303)},
]


def capture_worker_cases(env) -> list[tuple[str, dict]]:
    from fixture_tasks import make_app

    client = env.redis.client
    client.flushall()
    UUIDS.reset()
    workdir = tempfile.mkdtemp(prefix="cfw-", dir="/tmp")
    ready, log = os.path.join(workdir, "ready"), os.path.join(workdir, "publish.jsonl")
    start = env.monitor.mark()
    stderr = open(os.path.join(workdir, "worker.log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_main.py"),
         env.redis.socket_path, ready],
        env={**os.environ, "FIXTURE_PUBLISH_LOG": log}, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
    )
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(ready):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {open(stderr.name).read()[-3000:]}")
            time.sleep(0.05)
        app = make_app(env.redis.socket_path)
        for send in WORKER_SENDS:
            app.tasks[send["task"]].apply_async(tuple(send["args"]), send["kwargs"], task_id=send["task_id"])
        seen = {}
        for send in WORKER_SENDS:
            key = f"celery-task-meta-{send['task_id']}".encode()
            seen[send["case"]] = env.monitor.wait_for(start, lambda a, k=key: a[0] == b"SETEX" and a[1] == k)
        retry_lpush = env.monitor.wait_for(start, lambda a: a[0] == b"LPUSH" and b'"retries": 1' in a[2])
        app.close()
        gc.collect()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
    end = env.monitor.mark()
    all_commands = env.monitor.between(start, end)
    with open(log) as fh:
        published = [json.loads(line) for line in fh]
    out = []
    for send in WORKER_SENDS:
        setex = seen[send["case"]]
        key = setex[1].decode()
        commands = [c for c in all_commands if len(c) > 1 and c[1] == setex[1]]
        vol = Volatile()
        output = _meta_output(key, setex[3], int(setex[2]), commands, vol)
        if output["meta"].get("traceback"):
            vol.add(output["meta"]["traceback"], "python-traceback")
        normalized, formats = vol.apply(output)
        inp = {"call": "worker", **{k: v for k, v in send.items() if k != "case"}, "worker": WORKER,
               "app": {"result_extended": False, "result_serializer": "json"}}
        out.append((f"result-meta/{send['case']}.json", env.record(
            "result-meta", send["case"], inp, normalized, formats,
            capture="real solo worker on a real redis-server; the SETEX it sent, seen on MONITOR")))
    retry_records = [r for r in published if r["headers"].get("retries") == 1]
    if len(retry_records) != 1:
        raise AssertionError(f"expected one retry publish from the worker, got {len(retry_records)}")
    rec = retry_records[0]
    output, vol = message_output(rec, retry_lpush, 0, [["LPUSH", retry_lpush[1].decode(), "<envelope #0>"]])
    vol.add(rec["headers"]["eta"], "isoformat-aware")
    normalized, formats = vol.apply(output)
    send = WORKER_SENDS[2]
    inp = {"call": "retry", "task": send["task"], "args": send["args"], "kwargs": send["kwargs"],
           "options": {"task_id": send["task_id"]},
           "retry": {"countdown": 3600, "exc": "KeyError('transient')", "max_retries": 3},
           "worker": WORKER, "app": {"task_serializer": "json", "task_compression": None}}
    out.append(("task-message/retry--json.json", env.record(
        "task-message", "retry", inp, normalized, formats,
        capture="real solo worker: the message Task.retry() published, seen on MONITOR; publish arguments "
                "recorded in the worker process")))
    return out
