"""Recognise Locust's own `wait_time` helpers, so that the engine can honour them natively.

Locust's helpers return closures (`constant(1)` is `lambda instance: 1`), which the engine
cannot call. Each helper's closures share one code object, and their closure cells hold the
arguments, so a `wait_time` is recognised when its code is the helper's and its cells say what
the helper was called with. A lookalike (another lambda, a ringload-specific marker) is not
accepted: only what Locust itself builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust.user import wait_time as _locust_wait

#: What each kind tells the engine: `(kind, a, b)` seconds.
WaitSpec = tuple[str, float, float]

SUPPORTED = "constant(s), between(a, b), constant_pacing(s) and constant_throughput(n) from locust"


def _cells(function: Callable[..., Any]) -> dict[str, Any]:
    names = function.__code__.co_freevars
    cells = function.__closure__ or ()
    return {name: cell.cell_contents for name, cell in zip(names, cells, strict=True)}


def _code_of(factory: Callable[..., Callable[..., float]], *args: float) -> Any:
    return factory(*args).__code__


_CONSTANT = _code_of(_locust_wait.constant, 0)
_BETWEEN = _code_of(_locust_wait.between, 0, 1)
_PACING = _code_of(_locust_wait.constant_pacing, 1)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    if not value >= 0 or value == float("inf"):
        raise ValueError
    return float(value)


def recognise(wait_time: Any) -> WaitSpec | None:
    """`(kind, a, b)` for one of Locust's helpers with usable arguments, else None."""
    code = getattr(wait_time, "__code__", None)
    if code is None or getattr(wait_time, "__closure__", None) is None:
        return None
    try:
        cells = _cells(wait_time)
        if code is _CONSTANT:
            return ("constant", _seconds(cells["wait_time"]), 0.0)
        if code is _BETWEEN:
            low, high = _seconds(cells["min_wait"]), _seconds(cells["max_wait"])
            return ("between", min(low, high), max(low, high))
        if code is _PACING:
            # constant_throughput(n) is constant_pacing(1 / n): the same closure.
            return ("pacing", _seconds(cells["wait_time"]), 0.0)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None
