"""Plain annotations (no `from __future__ import annotations`)."""

from typing import Any, Dict, List, Literal, Optional, Tuple, Union

from celery import Task

from .celery import app


@app.task(name="stubs.add")
def add(x: int, y: int) -> int:
    """Adds two integers."""
    return x + y


@app.task(name="stubs.untyped")
def untyped(a, b=2, *rest, flag=False, **extra):
    return {"a": a, "b": b, "rest": list(rest), "flag": flag, "extra": extra}


@app.task(name="stubs.scalars")
def scalars(i: int, f: float, s: str, b: bool, n: None = None) -> Tuple[int, float, str, bool, None]:
    return (i, f, s, b, n)


@app.task(name="stubs.containers")
def containers(
    xs: List[int],
    m: Dict[str, float],
    pair: Tuple[int, str],
    many: Tuple[str, ...],
    maybe: Optional[str] = None,
    either: Union[int, str] = 0,
    newer: "int | None" = None,
    mode: Literal["fast", "slow"] = "fast",
    anything: Any = None,
) -> Dict[str, Any]:
    return {"xs": xs, "m": m, "pair": list(pair), "many": list(many), "maybe": maybe,
            "either": either, "newer": newer, "mode": mode}


@app.task(name="stubs.keyword_only")
def keyword_only(text: str, *, times: int, sep: str = " ") -> str:
    return sep.join([text] * times)


@app.task(name="stubs.bound", bind=True)
def bound(self, label: str) -> str:
    return "%s:%s" % (label, self.request.id is not None)


class Multiply(Task):
    name = "stubs.multiply"

    def run(self, a: float, b: float) -> float:
        return a * b


app.register_task(Multiply())
