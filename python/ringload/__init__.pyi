"""ringload: a Rust io_uring HTTP/1.1 load engine for Python (load tests in-process, scenarios,
pytest SLO checks, and Locust's FastHttpUser on the engine)."""

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from ringload._native.user import NativeUser as NativeUser
from ringload._ringload import Endpoint as Endpoint
from ringload._ringload import Latency as Latency
from ringload._ringload import Outcomes as Outcomes
from ringload._ringload import Progress as Progress
from ringload._ringload import Result as Result
from ringload._ringload import ScheduleLag as ScheduleLag
from ringload._ringload import StopHandle as StopHandle
from ringload._ringload import TargetServer as TargetServer
from ringload._ringload import TimelineEntry as TimelineEntry
from ringload._ringload import __version__ as __version__
from ringload.contrib.fasthttp import ErrorResponse as ErrorResponse
from ringload.contrib.fasthttp import FastHttpSession as FastHttpSession
from ringload.contrib.fasthttp import FastHttpUser as FastHttpUser
from ringload.contrib.fasthttp import FastResponse as FastResponse
from ringload.contrib.fasthttp import ResponseContextManager as ResponseContextManager
from ringload.contrib.fasthttp import RestResponseContextManager as RestResponseContextManager

#: The Locust names loaded lazily, and replaced in locust.contrib.fasthttp by the launcher.
_LOCUST_NAMES: frozenset[str]

__all__ = [
    "Endpoint",
    "ErrorResponse",
    "FastHttpSession",
    "FastHttpUser",
    "NativeUser",
    "FastResponse",
    "Latency",
    "Outcomes",
    "Progress",
    "Request",
    "ResponseContextManager",
    "RestResponseContextManager",
    "Result",
    "ScheduleLag",
    "StopHandle",
    "TargetServer",
    "TimelineEntry",
    "__version__",
    "run",
    "run_async",
]

_HeadersArg: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]] | None

class Request:
    """One request of a scenario, picked by ``weight`` inside the engine and counted under
    ``name`` (default: ``path_or_url`` as given). Requests with the same method and name share a
    statistics row.

    ``path_or_url`` is a path appended to the run's host, or an absolute URL on the same origin.
    ``json`` is serialized with ``json.dumps`` and sets ``Content-Type: application/json`` unless
    ``headers`` set one; ``json=None`` means no JSON body, as in requests. Raises TypeError for a
    wrong type and ValueError for a value that cannot be sent (CR, LF or NUL in the method, path
    or headers; a weight below 1)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    name: str | None
    weight: int
    def __init__(
        self,
        method: str,
        path_or_url: str,
        headers: _HeadersArg = None,
        body: bytes | str | None = None,
        json: Any = None,
        name: str | None = None,
        weight: int = 1,
    ) -> None: ...

def run(
    url: str | None = None,
    *,
    method: str | None = None,
    headers: _HeadersArg = None,
    body: bytes | str | None = None,
    scenario: Sequence[Request] | None = None,
    host: str | None = None,
    connections: int | None = None,
    threads: int | None = None,
    duration: float | None = None,
    requests: int | None = None,
    rate: float | None = None,
    stages: Sequence[tuple[float, float]] | None = None,
    connection_stages: Sequence[tuple[float, int]] | None = None,
    template: bool = False,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
    insecure: bool = False,
    cacert: str | os.PathLike[str] | None = None,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    pipeline: int = 1,
    disable_keepalive: bool = False,
    http2: bool = False,
    streams: int | None = None,
    io: str = "auto",
    stop: StopHandle | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Result:
    """Runs a load test in this process and returns its :class:`Result`; ``help(ringload.run)``
    gives every argument (the docstring lives with the code, in ``ringload/_load.py``)."""

async def run_async(
    url: str | None = None,
    *,
    method: str | None = None,
    headers: _HeadersArg = None,
    body: bytes | str | None = None,
    scenario: Sequence[Request] | None = None,
    host: str | None = None,
    connections: int | None = None,
    threads: int | None = None,
    duration: float | None = None,
    requests: int | None = None,
    rate: float | None = None,
    stages: Sequence[tuple[float, float]] | None = None,
    connection_stages: Sequence[tuple[float, int]] | None = None,
    template: bool = False,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
    insecure: bool = False,
    cacert: str | os.PathLike[str] | None = None,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    pipeline: int = 1,
    disable_keepalive: bool = False,
    http2: bool = False,
    streams: int | None = None,
    io: str = "auto",
    stop: StopHandle | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Result:
    """:func:`run` for asyncio: runs in the loop's default executor; cancelling the awaiting task
    stops the run at once (requests in flight are counted aborted) and raises CancelledError."""
