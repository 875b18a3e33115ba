"""Task-message fixtures: real apply_async / send_task / canvas calls published to a real Redis.

Every case is plain JSON data (the fixture's "input"); run_call() turns it into the Celery call,
so the recorded input is by construction what Celery was given.
"""
from __future__ import annotations

import base64
import gc
import json

import publish_recorder
from common import UUIDS, RawJson, Volatile, b64, jsonable, text_or_none, to_python

SERIALIZERS = ["json", "msgpack", "yaml"]
COMPRESSIONS = ["zlib", "bzip2", "xz", "brotli"]


def tid(n: int) -> str:
    """Fixed task ids chosen by the capture (uuid4-shaped, recognisable)."""
    return f"aaaaaaaa-aaaa-4aaa-8aaa-{n:012x}"


def sig(task, args=(), kwargs=None, options=None, immutable=False):
    return {"task": task, "args": list(args), "kwargs": kwargs or {}, "options": options or {}, "immutable": immutable}


def dt(iso: str) -> dict:
    return {"$datetime": iso}


def _add(case, args=(2, 3), kwargs=None, **options):
    return {"case": case, "call": "apply_async", "task": "tasks.add", "args": list(args), "kwargs": kwargs or {},
            "options": options}


CASES = [
    _add("plain", task_id=tid(1)),
    _add("kwargs", args=(), kwargs={"x": 2, "y": 3}, task_id=tid(2)),
    {"case": "mixed-values", "call": "apply_async", "task": "tasks.echo",
     "args": ["h\u00e9llo \u2603", 1.5, None, True, [1, [2]], {"k": "v"}, -7, 12345678901234],
     "kwargs": {"name": "\u00f1", "empty": {}, "list": []}, "options": {"task_id": tid(3)}},
    _add("countdown", task_id=tid(4), countdown=10),
    _add("eta", task_id=tid(5), eta=dt("2030-01-02T03:04:05.678901+00:00")),
    _add("eta-offset", task_id=tid(6), eta=dt("2030-01-02T03:04:05.678901+05:30")),
    _add("expires-seconds", task_id=tid(7), expires=60),
    _add("expires-datetime", task_id=tid(8), expires=dt("2030-01-02T03:04:05+00:00")),
    _add("priority-3", task_id=tid(9), priority=3),
    _add("priority-5", task_id=tid(10), priority=5),
    _add("priority-9", task_id=tid(11), priority=9),
    _add("custom-headers", task_id=tid(12), headers={"x-custom": "v", "x-number": 1, "x-list": [1, "a"]}),
    _add("shadow", task_id=tid(13), shadow="tasks.add.shadowed"),
    _add("time-limits", task_id=tid(14), time_limit=30, soft_time_limit=20.5),
    _add("ignore-result", task_id=tid(15), ignore_result=True),
    _add("queue", task_id=tid(16), queue="other"),
    _add("parent-root", task_id=tid(17), parent_id=tid(1017), root_id=tid(2017)),
    _add("long-args", args=("x" * 2000,), task_id=tid(18)),
    _add("link", task_id=tid(19), link=[sig("tasks.tsum", options={"task_id": tid(1019)})],
         link_error=[sig("tasks.on_error", options={"task_id": tid(2019)}, immutable=False)]),
    {"case": "send-task", "call": "send_task", "task": "tasks.remote", "args": [1, "a"], "kwargs": {},
     "options": {"task_id": tid(20)}},
    {"case": "group", "call": "group",
     "steps": [sig("tasks.add", (1, 1), options={"task_id": tid(21)}),
               sig("tasks.add", (2, 2), options={"task_id": tid(22)})],
     "options": {"task_id": tid(1021)}},
    {"case": "chain", "call": "chain",
     "steps": [sig("tasks.add", (1, 2), options={"task_id": tid(23)}),
               sig("tasks.add", (3,), options={"task_id": tid(24)}),
               sig("tasks.add", (4,), options={"task_id": tid(25)})],
     "options": {}},
    {"case": "chord", "call": "chord",
     "steps": [sig("tasks.add", (1, 1), options={"task_id": tid(26)}),
               sig("tasks.add", (2, 2), options={"task_id": tid(27)})],
     "body": sig("tasks.tsum", options={"task_id": tid(28)}),
     "options": {}},
    {"case": "typed-args", "call": "apply_async", "task": "tasks.echo",
     "args": [dt("2024-01-02T03:04:05.678901+00:00")], "kwargs": {}, "options": {"task_id": tid(29)}},
]


def _signature(app, spec):
    return app.signature(spec["task"], args=tuple(spec["args"]), kwargs=spec["kwargs"],
                         options=to_python(spec["options"]), immutable=spec["immutable"])


def run_call(app, case) -> None:
    from celery import chain, chord, group

    options = to_python(case.get("options", {}))
    for key in ("link", "link_error"):
        if key in options:
            options[key] = [_signature(app, s) for s in case["options"][key]]
    call = case["call"]
    if call == "apply_async":
        app.tasks[case["task"]].apply_async(tuple(to_python(case["args"])), case["kwargs"], **options)
    elif call == "send_task":
        app.send_task(case["task"], tuple(case["args"]), case["kwargs"], **options)
    elif call == "group":
        group([_signature(app, s) for s in case["steps"]]).apply_async(**options)
    elif call == "chain":
        chain(*[_signature(app, s) for s in case["steps"]]).apply_async(**options)
    elif call == "chord":
        chord([_signature(app, s) for s in case["steps"]], _signature(app, case["body"])).apply_async(**options)
    else:
        raise ValueError(call)


def python_text(case) -> str:
    """The call as Python source, for people reading a fixture."""
    def opts(d):
        return "".join(f", {k}={v!r}" for k, v in d.items())

    def s(spec):
        text = f"signature({spec['task']!r}, args={tuple(spec['args'])!r}, kwargs={spec['kwargs']!r}"
        text += f", options={spec['options']!r}" if spec["options"] else ""
        return text + (", immutable=True)" if spec["immutable"] else ")")

    call = case["call"]
    if call == "apply_async":
        return f"app.tasks[{case['task']!r}].apply_async({tuple(case['args'])!r}, {case['kwargs']!r}{opts(case['options'])})"
    if call == "send_task":
        return f"app.send_task({case['task']!r}, {tuple(case['args'])!r}, {case['kwargs']!r}{opts(case['options'])})"
    steps = ", ".join(s(x) for x in case["steps"])
    if call == "group":
        return f"group([{steps}]).apply_async({opts(case['options'])[2:]})"
    if call == "chain":
        return f"chain({steps}).apply_async({opts(case['options'])[2:]})"
    return f"chord([{steps}], {s(case['body'])}).apply_async({opts(case['options'])[2:]})"


def decode_body(raw: bytes, content_type: str, compression):
    """Exact body bytes -> (serialized bytes before compression, decoded JSON-able value)."""
    import msgpack
    import yaml
    from kombu.compression import decompress

    plain = decompress(raw, compression) if compression else raw
    if content_type == "application/json":
        return plain, json.loads(plain.decode("utf-8"))
    if content_type == "application/x-msgpack":
        return plain, jsonable(msgpack.unpackb(plain, raw=False))
    if content_type == "application/x-yaml":
        return plain, jsonable(yaml.safe_load(plain.decode("utf-8")))
    raise ValueError(content_type)


def message_output(rec: dict, lpush, publish_index: int, commands_out) -> tuple[dict, Volatile]:
    """One published message -> the fixture's output (message / redis / amqp views)."""
    raw_body = base64.b64decode(rec["body_base64"])
    headers = rec["headers"]
    compression = headers.get("compression")
    plain, decoded = decode_body(raw_body, rec["content_type"], compression)
    key, raw_envelope = lpush[1].decode("utf-8"), lpush[2].decode("utf-8")
    envelope = json.loads(raw_envelope)
    output = {
        "message": {
            "exchange": rec["exchange"], "routing_key": rec["routing_key"], "priority": rec["priority"],
            "headers": headers, "properties": rec["properties"],
            "body": {
                "content_type": rec["content_type"], "content_encoding": rec["content_encoding"],
                "compression": compression, "base64": b64(raw_body),
                "text": text_or_none(plain) if rec["content_type"] != "application/x-msgpack" else None,
                "decoded": decoded,
            },
        },
        "redis": {"key": key, "raw": RawJson(raw_envelope, "/redis/envelope"), "envelope": envelope,
                  "commands": commands_out},
        "amqp": {"exchange": rec["exchange"], "routing_key": rec["routing_key"], **rec["amqp"]},
    }
    vol = Volatile()
    vol.add(headers.get("origin"), "anon-nodename")
    vol.add(rec["properties"].get("origin"), "anon-nodename")
    vol.add(envelope["properties"]["delivery_tag"], "uuid")
    return output, vol


def abbreviate(commands, lpushes) -> list[list[str]]:
    """Commands as text; each LPUSH payload is replaced by a reference to its message's fixture."""
    out = []
    for args in commands:
        cmd = [a.decode("utf-8", "backslashreplace") for a in args]
        for i, lp in enumerate(lpushes):
            if args is lp:
                cmd[2] = f"<envelope #{i}>"
        out.append(cmd)
    return out


def capture_task_case(env, case, serializer, compression) -> list[tuple[str, dict]]:
    from fixture_tasks import make_app

    UUIDS.reset()
    publish_recorder.RECORDS.clear()
    env.redis.client.flushall()
    app_conf = {"task_serializer": serializer, "task_compression": compression}
    app = make_app(env.redis.socket_path, **app_conf)
    start = env.monitor.mark()
    error = None
    try:
        run_call(app, case)
    except Exception as exc:  # an encode error is a fixture too
        error = {"type": type(exc).__name__, "message": str(exc)}
    gc.collect()  # AsyncResult.__del__ UNSUBSCRIBEs: let it happen inside this capture, every time
    end = env.monitor.mark()
    app.close()
    commands = env.monitor.between(start, end)
    lpushes = [c for c in commands if c[0].upper() == b"LPUSH"]
    records = list(publish_recorder.RECORDS)
    suffix = f"--{serializer}" + (f"--{compression}" if compression else "")
    base_input = {k: v for k, v in case.items() if k != "case"}
    base_input["app"] = {"task_serializer": serializer, "task_compression": compression,
                         "thread_oid": _thread_oid(), "timezone": "UTC", "enable_utc": True}
    base_input["python"] = python_text(case)
    base_input["generatedIds"] = list(UUIDS.handed_out)
    if error is not None:
        record = env.record("task-message", case["case"], base_input, {"error": error}, {})
        return [(f"task-message/{case['case']}{suffix}.json", record)]
    if len(lpushes) != len(records):
        raise AssertionError(f"{case['case']}: {len(records)} publishes but {len(lpushes)} LPUSH")
    commands_out = abbreviate(commands, lpushes)
    results = []
    for i, (rec, lp) in enumerate(zip(records, lpushes)):
        output, vol = message_output(rec, lp, i, commands_out)
        opts = case.get("options", {})
        if "countdown" in opts:
            vol.add(rec["headers"]["eta"], "isoformat-aware")
        if isinstance(opts.get("expires"), (int, float)):
            vol.add(rec["headers"]["expires"], "isoformat-aware")
        if isinstance(opts.get("expires"), dict):
            vol.add(rec["properties"].get("expiration"), "int-ms-string")
        normalized, formats = vol.apply(output)
        inp = dict(base_input, memberIndex=i) if len(records) > 1 else base_input
        name = f"{case['case']}.{i}" if len(records) > 1 else case["case"]
        record = env.record("task-message", name, inp, normalized, formats, capture=(
            "real redis-server (unix socket): MONITOR shows the LPUSH; the Producer.publish arguments were "
            "recorded on kombu's virtual transport and fed to kombu.transport.pyamqp.Channel.prepare_message "
            "for the amqp view"))
        results.append((f"task-message/{name}{suffix}.json", record))
    return results


def _thread_oid():
    from fixture_tasks import THREAD_OID

    return THREAD_OID


def all_task_variants():
    for case in CASES:
        for serializer in SERIALIZERS:
            yield case, serializer, None
    plain = CASES[0]
    for serializer in SERIALIZERS:
        for compression in COMPRESSIONS:
            yield plain, serializer, compression
