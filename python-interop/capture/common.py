"""Shared pieces of the capture: deterministic ids, volatile-value normalization, JSON helpers.

Normalization rules are the ones documented in protocol-fixtures/README.md and implemented again
in test/support/fixtures.ts (normalize / normalizeRawJson): a volatile value is replaced by
"<FORMAT>" only after it matched FORMAT's pattern from protocol-fixtures/normalization.json.
"""
from __future__ import annotations

import base64
import json
import os
import re
import uuid as uuid_mod
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "protocol-fixtures", "normalization.json")) as _fh:
    FORMATS = json.load(_fh)["formats"]


def matches(fmt: str, value) -> bool:
    spec = FORMATS[fmt]
    if spec["type"] == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        value = str(value)
    elif not isinstance(value, str):
        return False
    return re.fullmatch(spec["pattern"], value) is not None


# ---------------------------------------------------------------- deterministic uuids

class UuidCounter:
    """Replaces kombu.utils.uuid.uuid's uuid4 (its default argument, shared by every importer:
    celery.utils.uuid is the same function) with a counter, restarted for every fixture."""

    def __init__(self) -> None:
        self.n = 0
        self.handed_out: list[str] = []

    def reset(self) -> None:
        self.n = 0
        self.handed_out = []

    def __call__(self) -> uuid_mod.UUID:
        self.n += 1
        value = uuid_mod.UUID(f"00000000-0000-4000-8000-{self.n:012x}")
        self.handed_out.append(str(value))
        return value


UUIDS = UuidCounter()


def install_uuid_counter() -> None:
    import importlib

    importlib.import_module("kombu.utils.uuid").uuid.__defaults__ = (UUIDS,)


# ---------------------------------------------------------------- JSON-able conversion

def jsonable(value):
    """Python value (as a decoder returned it) -> plain JSON value; tuples become lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return {"$bytes_base64": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"$repr": repr(value)}


def to_python(value):
    """Input JSON -> Python call arguments: {"$datetime": iso} becomes an aware/naive datetime."""
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def text_or_none(data: bytes):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def assert_no_index_keys(value, where="output") -> None:
    """JS reorders integer-like keys; the corpus promises Object.keys() == Celery's order."""
    if isinstance(value, dict):
        for k, v in value.items():
            if re.fullmatch(r"0|[1-9]\d*", k):
                raise AssertionError(f"integer-like key {k!r} in {where}: JS would reorder it")
            assert_no_index_keys(v, f"{where}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_no_index_keys(v, f"{where}/{i}")


# ---------------------------------------------------------------- normalization

class RawJson(str):
    """A raw JSON text in the output; normalized textually with the rules of its parsed twin."""

    def __new__(cls, text: str, twin: str):
        obj = super().__new__(cls, text)
        obj.twin = twin  # JSON Pointer of the parsed copy inside the output
        return obj


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Volatile:
    """Collects the volatile values of one capture, then replaces them everywhere in the output."""

    def __init__(self) -> None:
        self.values: dict[object, str] = {}

    def add(self, value, fmt: str) -> None:
        if value is None:
            return
        if not matches(fmt, value):
            raise AssertionError(f"volatile value {value!r} does not match format {fmt}")
        self.values[(type(value).__name__, value)] = fmt

    def fmt_of(self, value):
        if isinstance(value, bool):
            return None
        return self.values.get((type(value).__name__, value))

    def apply(self, output):
        formats: dict[str, str] = {}
        raws: list[tuple[list, object, RawJson, str]] = []

        def walk(value, pointer, parent, key):
            if isinstance(value, RawJson):
                raws.append((parent, key, value, pointer))
                return value
            if isinstance(value, dict):
                return {k: walk(v, f"{pointer}/{_escape(k)}", None, None) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, f"{pointer}/{i}", None, None) for i, v in enumerate(value)]
            fmt = self.fmt_of(value)
            if fmt is not None:
                formats[pointer] = fmt
                return f"<{fmt}>"
            return value

        normalized = walk(output, "", None, None)
        normalized = self._raw_pass(normalized)
        return normalized, formats

    def _raw_pass(self, value):
        if isinstance(value, RawJson):
            text = str(value)
            for (_, original), fmt in self.values.items():
                if isinstance(original, str):
                    text = text.replace(json.dumps(original), json.dumps(f"<{fmt}>"))
                else:
                    text = re.sub(rf"(?<=[:\[,] ){re.escape(str(original))}(?=[,}}\]])", json.dumps(f"<{fmt}>"), text)
            return text
        if isinstance(value, dict):
            return {k: self._raw_pass(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._raw_pass(v) for v in value]
        return value


def write_fixture(out_dir: str, relpath: str, record: dict) -> str:
    assert_no_index_keys(record["output"])
    path = os.path.join(out_dir, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return relpath
