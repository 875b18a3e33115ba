"""Python side of python-crosscheck.test.ts: real kombu decodes what Celeriac encoded, and
encodes values for Celeriac to decode. Run with python-interop/.venv-5.7/bin/python.

stdin: {"decode": [{"body": b64, "content_type", "content_encoding", "compression"}...],
        "encode": [{"serializer", "compression"}...]}
stdout: {"kombu": version, "compressions": [...],
         "decoded": [{"canon": ..., "redump": str|None} | {"error": str}...],
         "encoded": [{"serializer", "compression", "cases": [{"name", "canon", "body", ...}]}...]}

`canon` is a tagged, order-independent description of a Python value that the TypeScript test
rebuilds from its own values, so neither side's expectations are written down by hand.
"""

import base64
import datetime
import decimal
import json
import struct
import sys
import uuid

import kombu
from kombu import compression, serialization
from kombu.utils.json import dumps as kombu_json_dumps


def canon(v):
    if v is None:
        return {"t": "none"}
    if isinstance(v, bool):
        return {"t": "bool", "v": v}
    if isinstance(v, int):
        if -(2**53) < v < 2**53:
            return num(float(v))
        return {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return num(v)
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, (bytes, bytearray)):
        return {"t": "bytes", "v": bytes(v).hex()}
    if isinstance(v, datetime.datetime):
        return {"t": "datetime", "v": v.isoformat()}
    if isinstance(v, datetime.date):
        return {"t": "date", "v": v.isoformat()}
    if isinstance(v, datetime.time):
        return {"t": "time", "v": v.isoformat()}
    if isinstance(v, decimal.Decimal):
        return {"t": "decimal", "v": str(v)}  # PyDecimal normalizes to str(Decimal(text))
    if isinstance(v, uuid.UUID):
        return {"t": "uuid", "v": str(v)}
    if isinstance(v, (list, tuple)):
        return {"t": "list", "v": [canon(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"t": "set", "v": sorted((canon(x) for x in v), key=json.dumps)}
    if isinstance(v, dict):
        items = [[canon(k), canon(x)] for k, x in v.items()]
        return {"t": "dict", "v": sorted(items, key=lambda kv: json.dumps(kv[0]))}
    raise TypeError(f"no canonical form for {type(v).__name__}")


def num(f):
    if f != f:
        return {"t": "num", "v": "nan"}
    return {"t": "num", "v": struct.pack(">d", f).hex()}


UTC = datetime.timezone.utc
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))

COMMON = {
    "args": [2, 3, "text", -7, 2**53 + 1, 1.5, 1e100, -0.0, 0.1],
    "unicode": "héllo wörld ✓ 😀 \x00\x7f \x85 \u2028 \ufffe \x9f",
    "nested": {"a": [1, {"b": [None, True, False]}], "empty": {}, "list": []},
    "bytes": b"raw-bytes",
    "binary": b"\xff\x00\xfe",
}

CASES = {
    "json": {
        **COMMON,
        "specials": [float("nan"), float("inf"), float("-inf")],
        "bigints": [-(2**70), 2**100],
        "datetime_aware": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "datetime_offset": datetime.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=IST),
        "datetime_naive": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "date": datetime.date(2024, 1, 2),
        "time": datetime.time(3, 4, 5, 120000),
        "decimal": decimal.Decimal("1.10"),
        "uuid": uuid.UUID("44444444-4444-4444-8444-444444444444"),
        "task_body": [[2, 3], {"when": datetime.datetime(2030, 1, 1, tzinfo=UTC)}, {"callbacks": None}],
    },
    "msgpack": {
        **COMMON,
        "int64": [2**63 - 1, -(2**63), 2**64 - 1, 2**40],
        "specials": [float("nan"), float("inf"), float("-inf")],
    },
    "yaml": {
        **COMMON,
        "specials": [float("nan"), float("inf"), float("-inf")],
        "bigints": [-(2**70), 2**100],
        "datetime_aware": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "datetime_offset": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=IST),
        "datetime_naive": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "date": datetime.date(2024, 1, 2),
        "set": {"a", "b"},
        "tricky_strings": ["y", "n", "1e3", "yes", "null", "012", "0o17", "1_000", "1:30", "2024-01-02", "~", ""],
    },
}


def decode_one(req):
    body = base64.b64decode(req["body"])
    if req.get("compression"):
        body = compression.decompress(body, req["compression"])
    ct = req["content_type"]
    value = serialization.loads(body, ct, req["content_encoding"], accept={ct})
    redump = kombu_json_dumps(value) if ct == "application/json" else None
    return {"canon": canon(value), "redump": redump}


def encode_set(req):
    serializer, comp = req["serializer"], req.get("compression")
    out = []
    for name, value in CASES[serializer].items():
        content_type, content_encoding, body = serialization.dumps(value, serializer=serializer)
        if isinstance(body, str):
            body = body.encode("utf-8")
        mime = None
        if comp:
            body, mime = compression.compress(body, comp)
        out.append({
            "name": name,
            "canon": canon(value),
            "body": base64.b64encode(body).decode("ascii"),
            "content_type": content_type,
            "content_encoding": content_encoding,
            "compression": mime,
        })
    return {"serializer": serializer, "compression": comp, "cases": out}


def main():
    request = json.load(sys.stdin)
    decoded = []
    for req in request["decode"]:
        try:
            decoded.append(decode_one(req))
        except Exception as exc:  # reported to the TS side, which fails the case with it
            decoded.append({"error": f"{type(exc).__name__}: {exc}"})
    encoded = [encode_set(req) for req in request["encode"]]
    json.dump({
        "kombu": kombu.__version__,
        "compressions": sorted(compression.encoders()),
        "decoded": decoded,
        "encoded": encoded,
    }, sys.stdout)


if __name__ == "__main__":
    main()
