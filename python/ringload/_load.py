"""``ringload.run()``: a whole load run on the Rust engine, from plain Python, threads, gevent or
asyncio.

The engine runs its own pinned worker threads and releases the GIL for the whole run, so other
Python threads keep running. Under gevent the call goes to gevent's thread pool and the calling
greenlet waits cooperatively: the hub (and a gevent server in the same process) keeps serving.
"""

from __future__ import annotations

import contextlib
import functools
import json as _json
import math
import operator
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ringload import _ringload
from ringload._ringload import Progress, Result, StopHandle

HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class Request:
    """One request of a scenario: picked by ``weight`` inside the engine, counted under ``name``.

    ``path_or_url`` is a path appended to the run's ``host`` (as Locust appends paths to its host),
    or an absolute URL on the same origin. ``json`` is serialized with ``json.dumps`` and sets
    ``Content-Type: application/json`` unless ``headers`` set one; ``json=None`` means no JSON body,
    as in requests (send ``body="null"`` for a literal JSON null). Requests with the same method
    and name share a statistics row, as in Locust's stats table.
    """

    __slots__ = ("body", "headers", "method", "name", "path", "weight")

    def __init__(
        self,
        method: str,
        path_or_url: str,
        headers: HeadersArg = None,
        body: bytes | str | None = None,
        json: Any = None,
        name: str | None = None,
        weight: int = 1,
    ) -> None:
        self.method: str = _text("method", method)
        self.path: str = _text("path_or_url", path_or_url)
        self.headers: list[tuple[str, str]] = _headers("headers", headers)
        if body is not None and json is not None:
            raise TypeError("Request() takes body= or json=, not both")
        if json is not None:
            try:
                body = _json.dumps(json)
            except (TypeError, ValueError) as e:
                raise TypeError(f"json is not JSON-serializable: {e}") from None
            if not any(k.lower() == "content-type" for k, _ in self.headers):
                self.headers.append(("Content-Type", "application/json"))
        self.body: bytes = _body("body", body)
        self.name: str | None = None if name is None else _text("name", name)
        self.weight: int = _positive_int("weight", weight, maximum=2**32 - 1)
        try:
            _ringload.check_request(self._as_tuple())
        except ValueError as e:
            raise ValueError(f"Request({self.method!r}, {self.path!r}): {e}") from None

    def _as_tuple(self) -> tuple[str | None, str, str, list[tuple[str, str]], bytes, int]:
        return (self.name, self.method, self.path, self.headers, self.body, self.weight)

    def __repr__(self) -> str:
        extra = "" if self.name is None else f", name={self.name!r}"
        return f"Request({self.method!r}, {self.path!r}{extra}, weight={self.weight})"


def _text(arg: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{arg} must be a str, not {type(value).__name__}")
    return value


def _body(arg: str, value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{arg} must be bytes or str, not {type(value).__name__}")


def _headers(arg: str, value: HeadersArg) -> list[tuple[str, str]]:
    if value is None:
        return []
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        result = [(k, v) for k, v in pairs]
    except (TypeError, ValueError):
        raise TypeError(f"{arg} must be a mapping or (name, value) pairs") from None
    for k, v in result:
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{arg}: names and values must be str, got {k!r}: {v!r}")
    return result


def _positive_int(arg: str, value: Any, maximum: int = 2**63 - 1) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{arg} must be an int, not bool")
    try:
        number = operator.index(value)  # an int, or an integer type such as numpy's
    except TypeError:
        raise TypeError(f"{arg} must be an int, not {type(value).__name__}") from None
    if number <= 0:
        raise ValueError(f"{arg} must be greater than zero, got {number}")
    if number > maximum:
        raise ValueError(f"{arg} must be at most {maximum}, got {number}")
    return number


def _positive_number(arg: str, value: object, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a number of {unit}, not {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{arg} must be a positive number of {unit}, got {value}")
    return number


def _rate(arg: str, value: object) -> float:
    return _positive_number(arg, value, "requests per second")


def _stages(arg: str, stages: object) -> list[tuple[float, float]]:
    """``[(seconds, target), ...]`` as floats; the engine checks the values."""
    if stages is None:
        return []
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Iterable):
        raise TypeError(f"{arg} must be a list of (seconds, target) pairs")
    result = []
    for i, stage in enumerate(stages):
        if not (isinstance(stage, tuple) and len(stage) == 2):
            raise TypeError(f"{arg}[{i}] must be a (seconds, target) pair, not {stage!r}")
        seconds, target = stage
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise TypeError(f"{arg}[{i}]: the target must be a number, not {type(target).__name__}")
        result.append((_positive_number(f"{arg}[{i}] duration", seconds), float(target)))
    return result


def _optional(check: Callable[[str, object], Any], arg: str, value: object) -> Any:
    return None if value is None else check(arg, value)


def _prepare(
    url: str | None,
    *,
    method: str | None,
    headers: HeadersArg,
    body: bytes | str | None,
    scenario: Sequence[Request] | None,
    host: str | None,
    connections: int | None,
    threads: int | None,
    duration: float | None,
    requests: int | None,
    rate: float | None,
    stages: Sequence[tuple[float, float]] | None,
    connection_stages: Sequence[tuple[float, int]] | None,
    template: bool,
    timeout: float,
    connect_timeout: float,
    insecure: bool,
    cacert: str | os.PathLike[str] | None,
    cert: str | os.PathLike[str] | None,
    key: str | os.PathLike[str] | None,
    pipeline: int,
    disable_keepalive: bool,
    io: str,
    stop: StopHandle | None,
    on_progress: Callable[[Progress], object] | None,
) -> Callable[[], Result]:
    """Checks every argument and returns the call that runs the load."""
    if scenario is None:
        if host is not None:
            raise TypeError("host= is the base URL of a scenario; without scenario= pass the URL as url")
        if url is None:
            raise TypeError("run() needs a url (or scenario= and host=)")
        base = _text("url", url)
        scenario_tuples = []
    else:
        if url is not None and host is not None:
            raise TypeError("give the scenario's base URL as url or host=, not both")
        if method is not None or _body("body", body):
            raise ValueError("method= and body= describe a single URL; give each Request its own")
        if isinstance(scenario, (str, bytes)) or not isinstance(scenario, Iterable):
            raise TypeError("scenario must be a list of ringload.Request")
        scenario = list(scenario)
        if not scenario:
            raise ValueError("scenario must contain at least one Request")
        for item in scenario:
            if not isinstance(item, Request):
                raise TypeError(f"scenario items must be ringload.Request, not {type(item).__name__}")
        scenario_tuples = [r._as_tuple() for r in scenario]
        if url is None and host is None:
            raise TypeError("a scenario needs host= (the base URL its paths are appended to)")
        base = _text("url", url) if url is not None else _text("host", host)
    if duration is None and requests is None and not stages and not connection_stages:
        raise ValueError("give duration= (seconds) or requests= (a count): neither would run forever")
    if not isinstance(insecure, bool):
        raise TypeError(f"insecure must be a bool, not {type(insecure).__name__}")
    if not isinstance(template, bool):
        raise TypeError(f"template must be a bool, not {type(template).__name__}")
    if not isinstance(disable_keepalive, bool):
        raise TypeError(f"disable_keepalive must be a bool, not {type(disable_keepalive).__name__}")
    if stop is not None and not isinstance(stop, StopHandle):
        raise TypeError("stop must be a ringload.StopHandle")
    if on_progress is not None and not callable(on_progress):
        raise TypeError("on_progress must be callable")
    if io not in ("auto", "uring", "epoll"):
        raise ValueError(f"io must be 'auto', 'uring' or 'epoll', not {io!r}")
    return functools.partial(
        _ringload.run_load,
        base,
        # None leaves the default to the engine: POST when there is a body, else GET.
        method=_optional(_text, "method", method),
        headers=_headers("headers", headers),
        body=_body("body", body),
        scenario=scenario_tuples,
        connections=_optional(_positive_int, "connections", connections),
        threads=_optional(_positive_int, "threads", threads),
        duration=_optional(_positive_number, "duration", duration),
        requests=_optional(_positive_int, "requests", requests),
        rate=_optional(_rate, "rate", rate),
        stages=_stages("stages", stages),
        connection_stages=_stages("connection_stages", connection_stages),
        template=template,
        timeout=_positive_number("timeout", timeout),
        connect_timeout=_positive_number("connect_timeout", connect_timeout),
        insecure=insecure,
        cacert=None if cacert is None else os.fspath(cacert),
        cert=None if cert is None else os.fspath(cert),
        key=None if key is None else os.fspath(key),
        pipeline=_positive_int("pipeline", pipeline),
        disable_keepalive=disable_keepalive,
        io=io,
        stop=stop,
        on_progress=on_progress,
    )


def _gevent_hub() -> Any:
    """This thread's gevent hub when gevent is in use here, else None (without creating one)."""
    if "gevent" not in sys.modules:
        return None
    from gevent._hub_local import get_hub_if_exists

    return get_hub_if_exists()


def run(
    url: str | None = None,
    *,
    method: str | None = None,
    headers: HeadersArg = None,
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

    - ``url``: the URL to load; with ``scenario=``, the base URL of its relative paths, also
      given as ``host``.
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
    stop = stop if stop is not None else StopHandle()
    call = _prepare(
        url,
        method=method,
        headers=headers,
        body=body,
        scenario=scenario,
        host=host,
        connections=connections,
        threads=threads,
        duration=duration,
        requests=requests,
        rate=rate,
        stages=stages,
        connection_stages=connection_stages,
        template=template,
        timeout=timeout,
        connect_timeout=connect_timeout,
        insecure=insecure,
        cacert=cacert,
        cert=cert,
        key=key,
        pipeline=pipeline,
        disable_keepalive=disable_keepalive,
        io=io,
        stop=stop,
        on_progress=on_progress,
    )
    hub = _gevent_hub()
    if hub is None:
        return call()
    # Under gevent a native thread of a pool of its own blocks in the engine while this greenlet
    # parks on the hub (the hub's shared pool also serves gevent's DNS resolver). If the greenlet
    # is killed or times out, the run is stopped rather than left running unobserved.
    from gevent.threadpool import ThreadPool

    pool = ThreadPool(1)
    try:
        return pool.apply(call)
    except BaseException:
        stop.set()
        raise
    finally:
        pool.kill()


async def run_async(
    url: str | None = None,
    *,
    method: str | None = None,
    headers: HeadersArg = None,
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
    """:func:`run` for asyncio: the run goes to the loop's default executor, and cancelling the
    awaiting task stops it at once (requests in flight are counted aborted)."""
    stop = stop if stop is not None else StopHandle()
    call = _prepare(
        url,
        method=method,
        headers=headers,
        body=body,
        scenario=scenario,
        host=host,
        connections=connections,
        threads=threads,
        duration=duration,
        requests=requests,
        rate=rate,
        stages=stages,
        connection_stages=connection_stages,
        template=template,
        timeout=timeout,
        connect_timeout=connect_timeout,
        insecure=insecure,
        cacert=cacert,
        cert=cert,
        key=key,
        pipeline=pipeline,
        disable_keepalive=disable_keepalive,
        io=io,
        stop=stop,
        on_progress=on_progress,
    )
    import asyncio

    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        # Wait for the run to wind down, even through further cancellations.
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({future})
        raise
