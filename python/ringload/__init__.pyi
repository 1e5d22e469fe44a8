"""ringload: a Rust io_uring HTTP/1.1 load engine for Python (load tests in-process, scenarios,
pytest SLO checks, and Locust's FastHttpUser on the engine)."""

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

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

__all__ = [
    "Endpoint",
    "ErrorResponse",
    "FastHttpSession",
    "FastHttpUser",
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
    io: str = "auto",
    stop: StopHandle | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Result:
    """Runs a load test in this process on the engine's pinned workers and returns its result.

    - ``url``: the URL to load; with ``scenario=``, the base URL (or give ``host=``).
    - ``method``: default GET, or POST when ``body`` is given; ``headers`` and ``body`` are
      sent with every request (not with ``scenario=``: each :class:`Request` has its own).
    - ``scenario``: a list of :class:`Request` picked by weight; the result has a row per name.
    - ``connections``: concurrent connections (default 64), split across ``threads`` workers
      (default: one per core this process may use).
    - ``duration`` (seconds) and ``requests`` (a count): give one or both; with both, whichever
      ends first. ``requests=N`` sends exactly N requests. With stages, the run lasts the
      stages unless ``duration`` is given.
    - ``rate``: open model, requests per second in total on a constant schedule; latency is
      measured from when each request was due.
    - ``stages``: open-model ramp, ``[(seconds, rate), ...]``: the rate moves linearly from the
      previous target (the first from ``rate``, or 0) to each stage's over its seconds.
    - ``connection_stages``: closed-model ramp, ``[(seconds, connections), ...]``: the
      connections in use move from 0 through each target (not with ``connections=``).
    - ``template``: the URL's path and query, ``headers`` values and ``body`` are templates,
      rendered for every request: ``{{seq}}``, ``{{rand_int LO HI}}``, ``{{uuid}}``,
      ``{{choice A B C}}``, ``{{line FILE}}``, ``{{rand_line FILE}}`` (``\\{{`` is a literal
      ``{{``). A ``scenario``'s requests are always templates.
    - ``timeout``: limit for a whole request, send to last body byte; ``connect_timeout``: for TCP
      and TLS set-up (seconds).
    - ``insecure`` skips TLS verification; ``cacert`` trusts extra PEM certificates.
    - ``cert`` and ``key``: mTLS, the client certificate (PEM chain) and its private key (PEM;
      default: in the ``cert`` file) for servers that ask for one. A file that cannot be read or
      a key that does not go with the certificate raises ValueError before any connection.
    - ``pipeline``: requests written per connection before reading (HTTP/1.1 pipelining).
    - ``disable_keepalive``: a new connection (and TLS handshake) for every request, with
      ``Connection: close`` sent; latency then includes the connect. Not with ``pipeline`` > 1.
    - ``io``: ``auto``, ``uring`` or ``epoll``.
    - ``stop``: a :class:`StopHandle` another thread may set to end the run early.
    - ``on_progress``: called once a second with a :class:`Progress`, on the thread that runs the
      load (under gevent and asyncio a pool thread); an exception it raises stops the run and is
      re-raised.

    Raises TypeError or ValueError naming the argument before any connection is made, OSError
    when the host does not resolve or ``io="uring"`` is unavailable. Blocks the calling thread with
    the GIL released; under gevent only the calling greenlet waits (the run goes to gevent's
    thread pool, and killing the greenlet stops the run). Ctrl-C in the main thread stops the run
    and raises KeyboardInterrupt."""

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
    io: str = "auto",
    stop: StopHandle | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Result:
    """:func:`run` for asyncio: runs in the loop's default executor; cancelling the awaiting task
    stops the run at once (requests in flight are counted aborted) and raises CancelledError."""
