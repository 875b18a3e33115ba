"""Postponed annotations (PEP 563) and structured types: TypedDict, pydantic, dataclass, Enum."""

from __future__ import annotations

import dataclasses
import enum
from typing import List, Optional, TypedDict

from pydantic import BaseModel

from .celery import app


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(TypedDict):
    """A point on the plane."""

    x: float
    y: float


class Labelled(TypedDict, total=False):
    label: str
    color: Color


class Order(BaseModel):
    """An order line."""

    sku: str
    quantity: int = 1
    tags: List[str] = []
    note: Optional[str] = None


class Receipt(BaseModel):
    sku: str
    total: float


@dataclasses.dataclass
class Size:
    width: int
    height: int
    unit: str = "px"


@app.task(name="stubs.centroid")
def centroid(points: List[Point], label: Labelled) -> Point:
    n = len(points)
    return {"x": sum(p["x"] for p in points) / n, "y": sum(p["y"] for p in points) / n}


@app.task(name="stubs.price", pydantic=True)
def price(order: Order, unit_price: float) -> Receipt:
    return Receipt(sku=order.sku, total=order.quantity * unit_price)


@app.task(name="stubs.area")
def area(size: Size) -> int:
    # Arrives as a dict over JSON (a dataclass has no JSON form of its own).
    return size["width"] * size["height"]
