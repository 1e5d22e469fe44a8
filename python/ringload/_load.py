"""``ringload.run()``: a whole load run on the Rust engine, from plain Python, threads, gevent or
asyncio.

The engine runs its own pinned worker threads and releases the GIL for the whole run, so other
Python threads keep running. Under gevent the call goes to gevent's thread pool and the calling
greenlet waits cooperatively: the hub (and a gevent server in the same process) keeps serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The arguments of :func:`run` (which spells them out, for ``help()`` and the stubs) and of
    :func:`run_async` (which forwards them), with their defaults: what the checks read. A test
    keeps the fields and ``run``'s parameters the same."""

    url: str | None = None
    method: str | None = None
    headers: HeadersArg = None
    body: bytes | str | None = None
    scenario: Sequence[Request] | None = None
    host: str | None = None
    connections: int | None = None
    threads: int | None = None
    duration: float | None = None
    requests: int | None = None
    rate: float | None = None
    stages: Sequence[tuple[float, float]] | None = None
    connection_stages: Sequence[tuple[float, int]] | None = None
    template: bool = False
    timeout: float = 30.0
    connect_timeout: float = 10.0
    insecure: bool = False
    cacert: str | os.PathLike[str] | None = None
    cert: str | os.PathLike[str] | None = None
    key: str | os.PathLike[str] | None = None
    pipeline: int = 1
    disable_keepalive: bool = False
    http2: bool = False
    streams: int | None = None
    io: str = "auto"
    stop: StopHandle | None = None
    on_progress: Callable[[Progress], object] | None = None


_OPTION_NAMES = frozenset(field.name for field in dataclasses.fields(RunOptions))


def _options(function: str, given: dict[str, Any]) -> tuple[RunOptions, StopHandle]:
    """``given`` as RunOptions, with a StopHandle of its own when none was given (returned too); an
    unknown keyword raises the TypeError Python raises for a function that does not take it."""
    given = dict(given)
    unknown = given.keys() - _OPTION_NAMES
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {min(unknown)!r}")
    stop = given.get("stop")
    if stop is None:
        stop = given["stop"] = StopHandle()
    return RunOptions(**given), stop


def _prepare(o: RunOptions) -> Callable[[], Result]:
    """Checks every argument and returns the call that runs the load."""
    url = o.url
    if o.scenario is None:
        if o.host is not None:
            raise TypeError("host= is the base URL of a scenario; without scenario= pass the URL as url")
        if url is None:
            raise TypeError("run() needs a url (or scenario= and host=)")
        base = _text("url", url)
        scenario_tuples = []
    else:
        if url is not None and o.host is not None:
            raise TypeError("give the scenario's base URL as url or host=, not both")
        if o.method is not None or _body("body", o.body):
            raise ValueError("method= and body= describe a single URL; give each Request its own")
        if isinstance(o.scenario, (str, bytes)) or not isinstance(o.scenario, Iterable):
            raise TypeError("scenario must be a list of ringload.Request")
        scenario = list(o.scenario)
        if not scenario:
            raise ValueError("scenario must contain at least one Request")
        for item in scenario:
            if not isinstance(item, Request):
                raise TypeError(f"scenario items must be ringload.Request, not {type(item).__name__}")
        scenario_tuples = [r._as_tuple() for r in scenario]
        if url is None and o.host is None:
            raise TypeError("a scenario needs host= (the base URL its paths are appended to)")
        base = _text("url", url) if url is not None else _text("host", o.host)
    if o.duration is None and o.requests is None and not o.stages and not o.connection_stages:
        raise ValueError("give duration= (seconds) or requests= (a count): neither would run forever")
    for flag in ("insecure", "template", "disable_keepalive", "http2"):
        value = getattr(o, flag)
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be a bool, not {type(value).__name__}")
    if o.stop is not None and not isinstance(o.stop, StopHandle):
        raise TypeError("stop must be a ringload.StopHandle")
    if o.on_progress is not None and not callable(o.on_progress):
        raise TypeError("on_progress must be callable")
    if o.streams is not None and not o.http2:
        raise ValueError("streams= is an HTTP/2 option: pass http2=True too")
    if o.http2 and o.disable_keepalive:
        raise ValueError(
            "disable_keepalive needs HTTP/1.1's Connection: close, which HTTP/2 does not have: "
            "drop one of disable_keepalive and http2"
        )
    if o.http2 and o.pipeline != 1:
        raise ValueError("HTTP/2 multiplexes instead of pipelining: use streams=N, not pipeline=")
    if o.io not in ("auto", "uring", "epoll"):
        raise ValueError(f"io must be 'auto', 'uring' or 'epoll', not {o.io!r}")
    return functools.partial(
        _ringload.run_load,
        base,
        # None leaves the default to the engine: POST when there is a body, else GET.
        method=_optional(_text, "method", o.method),
        headers=_headers("headers", o.headers),
        body=_body("body", o.body),
        scenario=scenario_tuples,
        connections=_optional(_positive_int, "connections", o.connections),
        threads=_optional(_positive_int, "threads", o.threads),
        duration=_optional(_positive_number, "duration", o.duration),
        requests=_optional(_positive_int, "requests", o.requests),
        rate=_optional(_rate, "rate", o.rate),
        stages=_stages("stages", o.stages),
        connection_stages=_stages("connection_stages", o.connection_stages),
        template=o.template,
        timeout=_positive_number("timeout", o.timeout),
        connect_timeout=_positive_number("connect_timeout", o.connect_timeout),
        insecure=o.insecure,
        cacert=None if o.cacert is None else os.fspath(o.cacert),
        cert=None if o.cert is None else os.fspath(o.cert),
        key=None if o.key is None else os.fspath(o.key),
        pipeline=_positive_int("pipeline", o.pipeline),
        disable_keepalive=o.disable_keepalive,
        http2=o.http2,
        streams=_optional(_positive_int, "streams", o.streams),
        io=o.io,
        stop=o.stop,
        on_progress=o.on_progress,
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
    http2: bool = False,
    streams: int | None = None,
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
    - ``http2``: HTTP/2, negotiated by ALPN over https (a server that declines gets HTTP/1.1,
      with a warning; ``Result.protocol`` says which), with prior knowledge (h2c) on http.
      ``streams``: requests in flight on each connection at most (default 1), as h2load's ``-m``;
      the closed model refills them once half are free.
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
    options, stop = _options("run", locals())  # the arguments, and nothing else yet
    call = _prepare(options)
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


async def run_async(url: str | None = None, **options: Any) -> Result:
    """:func:`run` for asyncio: the run goes to the loop's default executor, and cancelling the
    awaiting task stops it at once (requests in flight are counted aborted)."""
    checked, stop = _options("run_async", {"url": url, **options})
    call = _prepare(checked)
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
