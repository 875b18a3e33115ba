"""Adversarial producer for test/interop/adversarial-*.test.ts.

Reads a plan (JSON on stdin) and sends its steps, in order, to one queue: good tasks with
``app.send_task`` (a stock Celery 5.7 producer) and bad messages raw (Redis: ``LPUSH`` of the list
entry; RabbitMQ: ``basic_publish`` of the body with the given properties and headers). Bombs,
oversized bodies and deep header tables are built here, with Python's own codecs, as a Celery
peer would build them. Then it reads every good task's result with ``AsyncResult.get`` and
emits ``{"results": [{"id", "ok", "got"}]}``.

Plan: {"queue": str, "transport": "redis" | "amqp", "steps": [step, ...]} where a step is
  {"good": [args...], "big": bool}              send_task("ts.echo", args (+ 2**70 if big))
  {"raw": str, "expectId": str | null}          Redis list entry, verbatim (expectId: read its result too)
  {"body": b64, "contentType", "contentEncoding", "headers", "deepHeaders": int, "compression": str}
  {"make": "bz2-bomb" | "xz-bomb" | "oversized" | "huge-entry", "headers": {...}}
"""

import base64
import bz2
import json
import lzma
import sys

# py-amqp encodes header tables recursively: the deep ones are the point of some steps.
sys.setrecursionlimit(200_000)

from kombu import Producer  # noqa: E402

from interop_app import app, emit  # noqa: E402

plan = json.load(sys.stdin)
queue = plan["queue"]
transport = plan["transport"]
BIG = 2**70


def deep_table(levels):
    table = {"leaf": 1}
    for _ in range(levels):
        table = {"a": table}
    return table


def made(kind):
    if kind == "bz2-bomb":
        return bz2.compress(bytes(70 << 20)), "application/x-bz2"
    if kind == "xz-bomb":
        return lzma.compress(bytes(70 << 20)), "application/x-lzma"
    if kind == "oversized":
        return b"[" + b" " * (17 << 20) + b"[], {}, {}]", None
    raise ValueError(kind)


def envelope(body, content_type, headers, compression=None):
    if compression:
        headers = dict(headers, compression=compression)
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": headers,
            "properties": {
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": headers.get("id") or "no-id",
            },
        }
    )


results = []
with app.connection_for_write() as conn:
    conn.ensure_connection(max_retries=3)
    channel = conn.default_channel
    producer = Producer(channel)
    for step in plan["steps"]:
        if "good" in step:
            args = list(step["good"]) + ([BIG] if step.get("big") else [])
            results.append((app.send_task("ts.echo", args, queue=queue), args))
            continue
        if "raw" in step:
            channel.client.lpush(queue, step["raw"])
            if step.get("expectId"):
                results.append((app.AsyncResult(step["expectId"]), step["expectArgs"]))
            continue
        headers = dict(step.get("headers") or {})
        if "make" in step:
            body, compression = made(step["make"])
            content_type, content_encoding = "application/json", "utf-8"
        else:
            body = base64.b64decode(step["body"])
            compression = step.get("compression")
            content_type, content_encoding = step["contentType"], step["contentEncoding"]
        if transport == "redis":
            channel.client.lpush(queue, envelope(body, content_type, headers, compression))
            continue
        if compression:
            headers["compression"] = compression
        if step.get("deepHeaders"):
            headers["deep"] = deep_table(step["deepHeaders"])
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            content_type=content_type,
            content_encoding=content_encoding,
            headers=headers,
            serializer=None,
            retry=True,
        )

out = []
for result, args in results:
    try:
        got = result.get(timeout=90)
        out.append({"id": result.id, "ok": got == args, "got": repr(got)[:200]})
    except Exception as exc:  # a result that never came: the test reports which
        out.append({"id": result.id, "ok": False, "got": repr(exc)[:200]})
emit({"results": out})
