"""Records what kombu's Producer hands to the transport, for every publish.

kombu.messaging.Producer._publish calls channel.prepare_message(body, priority, content_type,
content_encoding, headers, properties) and then channel.basic_publish(message, exchange,
routing_key). We wrap both on the virtual transport (the Redis transport's base class) and copy
the arguments before the transport mutates them. From the same arguments we also build what the
AMQP transport would send: kombu.transport.pyamqp.Channel.prepare_message -> amqp.Message,
whose .properties holds the basic properties and application_headers.

Used in the capture process (records kept in memory) and in the worker process (records appended
as JSON lines to $FIXTURE_PUBLISH_LOG).
"""
from __future__ import annotations

import base64
import copy
import json
import os

from common import jsonable

RECORDS: list[dict] = []


def _amqp_view(body, priority, content_type, content_encoding, headers, properties):
    import amqp
    from kombu.transport import pyamqp

    class _Stub:  # prepare_message does not touch self
        pass

    message = pyamqp.Channel.prepare_message(
        _Stub(), body, priority, content_type, content_encoding, copy.deepcopy(headers), copy.deepcopy(properties),
        _Message=amqp.Message,
    )
    raw = message.body if isinstance(message.body, bytes) else str(message.body).encode(content_encoding or "utf-8")
    return {"properties": jsonable(message.properties), "body_base64": base64.b64encode(raw).decode()}


def install() -> None:
    from kombu.transport import virtual

    original_prepare = virtual.Channel.prepare_message
    original_publish = virtual.Channel.basic_publish
    log_path = os.environ.get("FIXTURE_PUBLISH_LOG")

    def prepare_message(self, body, priority=None, content_type=None, content_encoding=None,
                        headers=None, properties=None):
        raw = body if isinstance(body, bytes) else str(body).encode(content_encoding or "utf-8")
        record = {
            "priority": priority,
            "headers": jsonable(headers),
            "properties": jsonable(properties),
            "content_type": content_type,
            "content_encoding": content_encoding,
            "body_is_text": isinstance(body, str),
            "body_base64": base64.b64encode(raw).decode(),
            "amqp": _amqp_view(body, priority, content_type, content_encoding, headers, properties),
        }
        RECORDS.append(record)
        return original_prepare(self, body, priority, content_type, content_encoding, headers, properties)

    def basic_publish(self, message, exchange, routing_key, **kwargs):
        if RECORDS and "exchange" not in RECORDS[-1]:
            RECORDS[-1]["exchange"] = exchange
            RECORDS[-1]["routing_key"] = routing_key
            if log_path:
                with open(log_path, "a") as fh:
                    fh.write(json.dumps(RECORDS[-1]) + "\n")
        return original_publish(self, message, exchange, routing_key, **kwargs)

    virtual.Channel.prepare_message = prepare_message
    virtual.Channel.basic_publish = basic_publish
