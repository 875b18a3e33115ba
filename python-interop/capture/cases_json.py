"""json-type fixtures: kombu's JSON codec (kombu.utils.json.dumps / loads) on single values."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone  # noqa: F401  (used by eval'd inputs)
from decimal import Decimal  # noqa: F401
from uuid import UUID  # noqa: F401

DUMPS_CASES = [
    ("datetime-aware", "datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)"),
    ("datetime-offset", "datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5, minutes=30)))"),
    ("datetime-naive", "datetime(2024, 1, 2, 3, 4, 5, 678901)"),
    ("datetime-no-micro", "datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)"),
    ("date", "date(2024, 1, 2)"),
    ("time", "time(3, 4, 5, 120000)"),
    ("decimal", "Decimal('1.10')"),
    ("uuid", "UUID('44444444-4444-4444-8444-444444444444')"),
    ("bytes-utf8", "b'raw-bytes'"),
    ("bytes-non-utf8", "b'\\xff\\xfe'"),
    ("set", "{1, 2}"),
    ("nested", "{'when': datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc), 'amount': Decimal('2.50'), "
               "'ids': [UUID('44444444-4444-4444-8444-444444444444')], 'text': 'caf\\u00e9'}"),
]

LOADS_CASES = [
    ("loads-datetime-z", '{"__type__": "datetime", "__value__": "2024-01-02T03:04:05Z"}'),
    ("loads-unknown-marker", '{"__type__": "set", "__value__": [1, 2]}'),
    ("loads-marker-extra-key", '{"__type__": "date", "__value__": "2024-01-02", "x": 1}'),
]


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)}


def capture_json_cases(env) -> list[tuple[str, dict]]:
    from kombu.utils.json import dumps, loads

    out = []
    for name, expr in DUMPS_CASES:
        value = eval(expr)  # noqa: S307 - fixed expressions above
        try:
            text = dumps(value)
            try:
                loaded = repr(loads(text))
            except Exception as exc:  # noqa: BLE001
                loaded = _error(exc)
            output = {"json": text, "value": json.loads(text), "loads_repr": loaded}
        except Exception as exc:  # noqa: BLE001 - kombu 5.2 raises TypeError for bytes
            output = {"error": _error(exc)}
        record = env.record("json-type", name, {"direction": "dumps", "python": expr}, output, {},
                            capture="kombu.utils.json.dumps(value), then kombu.utils.json.loads of the text")
        out.append((f"json-type/{name}.json", record))
    for name, text in LOADS_CASES:
        try:
            output = {"json": text, "value": json.loads(text), "loads_repr": repr(loads(text))}
        except Exception as exc:  # noqa: BLE001
            output = {"json": text, "value": json.loads(text), "loads_repr": None, "error": _error(exc)}
        record = env.record("json-type", name, {"direction": "loads", "text": text}, output, {},
                            capture="kombu.utils.json.loads(text)")
        out.append((f"json-type/{name}.json", record))
    return out
