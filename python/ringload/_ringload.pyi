"""The private extension module: the Rust engine behind ``ringload``. Import from ``ringload``."""

import os
import pathlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, TypeAlias, final

from typing_extensions import disjoint_base

__all__ = [
    "Endpoint",
    "Engine",
    "ErrorKind",
    "HostileServer",
    "Latency",
    "MissingSchemeError",
    "NativeRun",
    "Outcomes",
    "Progress",
    "Proxies",
    "RawError",
    "RawResponse",
    "ResponseStream",
    "Result",
    "ScheduleLag",
    "Session",
    "TimelineEntry",
    "StopHandle",
    "TlsConfig",
    "TargetServer",
    "__version__",
    "check_request",
    "cli_main",
    "merge_headers",
    "run_load",
]

__version__: str

@final
class Engine:
    """The engine thread of this process: ``Session.send`` queues requests and parks their
    waiters, ``flush()`` wakes the engine for the batch, and ``drain()`` hands each finished
    request back to its waiter once ``fileno()`` is readable."""

    def __new__(cls, io: str = "auto") -> Engine:
        """Starts the engine thread. ``io`` is ``"auto"``, ``"uring"`` or ``"epoll"``.

        Raises ValueError for another ``io`` and OSError when the engine cannot start."""
    @property
    def io(self) -> str:
        """The I/O driver in use: ``"uring"`` or ``"epoll"``."""
    def fileno(self) -> int:
        """A descriptor that is readable while completions wait."""
    def flush(self) -> None:
        """Wakes the engine for every request queued so far."""
    def drain(self) -> list[tuple[Any, RawResponse | RawError]]:
        """Every request finished now, as ``(waiter, result)`` pairs; results whose waiter was
        forgotten are dropped. Never blocks."""
    def forget(self, token: int) -> None:
        """Drops the waiter of a request whose result can no longer be delivered; a request not yet
        handed to the engine thread is not sent at all."""
    @property
    def idle(self) -> bool:
        """No request is waiting for a result."""

@final
class Session:
    """The native half of a ``FastHttpSession``: its own keep-alive pools on an engine, its
    connect timeout and the origins it has used."""

    def __new__(cls, engine: Engine, *, connect_timeout: float) -> Session:
        """Raises ValueError for a non-positive ``connect_timeout``."""
    @property
    def id(self) -> int:
        """The id the engine pools this session's connections under."""
    @property
    def engine(self) -> Engine: ...
    @property
    def connect_timeout(self) -> float:
        """Seconds a new connection may take."""
    @connect_timeout.setter
    def connect_timeout(self, value: float) -> None: ...
    @property
    def max_connections(self) -> int:
        """At most this many connections per origin, busy or idle; more concurrent requests wait
        for one (within their timeout). 0 (the default): no limit."""
    @max_connections.setter
    def max_connections(self, value: int) -> None: ...
    def send(
        self,
        waiter: Any,
        method: str,
        url: str,
        defaults: dict[str, str],
        headers: dict[str, str] | None,
        extra: Sequence[tuple[str, str, int]] | None,
        body: bytes | None,
        timeout: float,
        verify: bool | TlsConfig,
        proxies: Proxies | None,
        stream: bool,
        /,
    ) -> int:
        """Validates, encodes and queues one request and parks ``waiter`` until its result is
        drained; returns the request's token.

        ``defaults`` are the session's headers, ``headers`` the request's (the same name in any
        case: the request's wins), ``extra`` ``(name, value, how)`` applied after them: 0
        replaces, 1 only if absent, 2 appends to a Cookie field with "; ".

        Raises ValueError for a request that cannot be sent (an unsupported scheme, a bad port,
        CR/LF/NUL in the method, target or headers, a non-positive timeout), its subclass
        MissingSchemeError for a URL without any scheme, and TypeError for header names or
        values that are not str. ``verify`` is True (the system's roots), False
        (any certificate) or a ``TlsConfig``; ``proxies`` the HTTP proxies to go through. With ``stream`` the request
        completes at its response head and the body follows through ``RawResponse.stream``."""
    def close(self) -> None:
        """Closes this session's pooled connections."""

class MissingSchemeError(ValueError):
    """A URL without http:// or https:// (``127.0.0.1:8080/``); the message names the URL it most
    likely meant. Raised before anything is sent."""

@final
class Proxies:
    """The HTTP proxies a session's requests go through, per scheme: ``http://`` requests in
    absolute form, ``https://`` ones through a CONNECT tunnel."""

    def __new__(cls, *, http: str | None = None, https: str | None = None) -> Proxies:
        """Each an ``http://[user:password@]host[:port]`` URL or None. Raises ValueError for
        anything else (an https:// or socks proxy, no host, a bad port)."""

@final
class TlsConfig:
    """A TLS client configuration (trusted CAs, server checks, a client certificate), made once
    and passed as ``Session.send``'s ``verify``; connections are pooled per configuration."""

    def __new__(
        cls,
        *,
        verify: bool = True,
        check_hostname: bool = True,
        ca_certs: list[bytes] | None = None,
        ca_path: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        minimum_version: str | None = None,
        maximum_version: str | None = None,
    ) -> TlsConfig:
        """``ca_certs`` (DER) or ``ca_path`` (a PEM file or a directory of them) replace the
        system's roots; ``cert_file``/``key_file`` are the client certificate chain and its key
        (PEM; the key may be in ``cert_file``); versions are "TLSv1.2" or "TLSv1.3".

        Raises ValueError for a file that cannot be read, a key that is not the certificate's,
        or versions that leave nothing to negotiate."""
    @property
    def verify(self) -> bool:
        """Whether the server's certificate is checked."""
    @property
    def has_client_cert(self) -> bool:
        """Whether a client certificate is presented to servers that ask for one."""

def cli_main(argv: Sequence[str]) -> int:
    """Runs the ``ringload`` command line (``argv[0]`` is the program's name) and returns its exit
    status; the ``ringload`` command and ``python -m ringload`` call it."""

def merge_headers(
    defaults: dict[str, str], headers: dict[str, str] | None, extra: Sequence[tuple[str, str, int]] | None, /
) -> dict[str, str]:
    """The headers ``Session.send`` would send for these arguments."""

@final
class RawResponse:
    """A complete response as the engine received it."""

    @property
    def status(self) -> int:
        """The status code of the final response (1xx responses are skipped)."""
    @property
    def reason(self) -> str:
        """The reason phrase as the server sent it ("Not Found"; may be empty)."""
    @property
    def body(self) -> bytes | None:
        """The body, with Content-Encoding (gzip, deflate, br) undone; None when it is streamed."""
    @property
    def head_time(self) -> float:
        """Seconds from the start of the request (before connecting) to the complete head."""
    @property
    def total_time(self) -> float:
        """Seconds from the start of the request to the end of the body."""
    @property
    def wire_length(self) -> int:
        """Body bytes as received, before decoding."""
    @property
    def sets_cookie(self) -> bool:
        """The response has at least one ``Set-Cookie`` field."""
    @property
    def reused_connection(self) -> bool:
        """The request went out on a kept-alive connection."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """Header fields in order (values decoded as Latin-1)."""
    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
    def header_values(self, name: str) -> list[str]:
        """Every value of a header (case-insensitive), e.g. each Set-Cookie."""
    @property
    def stream(self) -> ResponseStream | None:
        """A streamed request's body, still arriving (``body`` is empty then); None otherwise."""

@final
class ResponseStream:
    """A streamed body as it arrives: ``take`` what is there, or ``wait`` to be drained with
    None once there is more."""

    def take(self, max: int | None = None, /) -> bytes | RawError | None:
        """Up to ``max`` bytes of what has arrived (all when None); b"" once the body is complete
        and taken; None when nothing is there yet; a RawError when it broke off."""
    def wait(self, waiter: Any) -> int | None:
        """Parks ``waiter`` until more arrives; the token, or None when there is something to take
        already (nothing is parked then)."""
    def forget(self, token: int) -> None:
        """The waiter of ``token`` gave up."""
    @property
    def received(self) -> int:
        """Bytes received so far, taken or not. The engine stops reading while 1 MiB
        (``MAX_UNREAD_STREAM_BYTES``) waits untaken, and reads on once half of it is taken."""
    @property
    def engine(self) -> Engine:
        """The engine that delivers the body: only its thread's waiters are woken."""
    def close(self) -> None:
        """Nobody will read the rest: the engine drops it and closes the connection (unless the
        body has already ended). Dropping the object does the same."""

@final
class ErrorKind:
    """Why a request got no response, as the engine counts it."""

    CONNECT: ErrorKind
    TLS: ErrorKind
    TIMEOUT: ErrorKind
    CLOSED: ErrorKind
    READ: ErrorKind
    WRITE: ErrorKind
    PARSE: ErrorKind
    FRAMING: ErrorKind
    RESET: ErrorKind
    REFUSED: ErrorKind
    GOAWAY: ErrorKind
    PROTOCOL: ErrorKind
    @property
    def label(self) -> str:
        """The name reports use: ``connect``, ``tls``, ``timeout``, ``closed``, ``read``,
        ``write``, ``parse``, ``framing``, or for HTTP/2 ``reset``, ``refused``, ``goaway`` or
        ``protocol``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...

@final
class RawError:
    """Why no response arrived."""

    @property
    def kind(self) -> ErrorKind:
        """How the engine counts the failure."""
    @property
    def errno(self) -> int | None:
        """The OS error behind it (``errno.ECONNREFUSED``, ``errno.ETIMEDOUT`` for a connect
        timeout, ...), or None."""
    @property
    def message(self) -> str:
        """What went wrong, readable; never contains URL credentials."""
    @property
    def elapsed(self) -> float:
        """Seconds from the start of the request (connecting included) to the failure."""

@final
class TargetServer:
    """The built-in target server (what ``ringload serve`` runs) on 127.0.0.1 with a free port.

    Routes: ``/`` (a 20-byte body), ``/bytes/N``, ``/chunked/N``, ``/delay/MS``, ``/status/CODE``,
    ``/echo``, ``/headers``, ``/close``. A request is counted once it has been read, before its
    response is written. Use it as a context manager, or call :meth:`stop`."""

    def __new__(
        cls,
        *,
        tls: bool = False,
        idle_timeout: float | None = None,
        max_connections: int | None = None,
        idle_close: Literal["close", "reset", "408"] = "close",
        http2: bool = False,
    ) -> TargetServer:
        """Starts listening; ``tls=True`` serves HTTPS with a fresh self-signed certificate for
        127.0.0.1 and localhost; ``http2=True`` also speaks HTTP/2 (h2c with prior knowledge,
        ``h2`` by ALPN with ``tls=True``). Raises OSError when it cannot listen.

        Idle kept-alive connections are ended as production servers do: after ``idle_timeout``
        seconds (nginx's ``keepalive_timeout``), and to stay within ``max_connections`` (the one
        idle longest makes room; with none idle, a new connection waits), with a FIN
        (``"close"``; over TLS a close_notify first), a reset (``"reset"``) or a ``408 Request
        Timeout`` then a close (``"408"``)."""
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
    @property
    def certificate_pem(self) -> str | None:
        """The self-signed certificate (PEM) when serving HTTPS, for ``cacert=``."""
    def requests(self) -> int:
        """Complete requests read so far; each pipelined request counts."""
    def connections(self) -> int:
        """Connections accepted so far."""
    def path_count(self, path: str) -> int:
        """Complete requests to ``path`` (query string excluded)."""
    def idle_closes(self) -> int:
        """Kept-alive connections the server ended while they were idle."""
    def late_requests(self) -> int:
        """Connections on which a request still arrived after the server ended them while idle
        (a client that did not notice the close sent into it)."""
    def stop(self) -> None:
        """Stops the server and closes its connections; calling it again does nothing."""
    def __enter__(self) -> TargetServer: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

@final
class HostileServer:
    """A scriptable hostile server on 127.0.0.1 (a free port) that plays canned steps on every
    connection, for testing clients against misbehaving servers.

    Steps are tuples: ``("read",)`` reads one request (head and body), ``("read_head",)`` only its
    head, ``("send", bytes)``, ``("trickle", bytes, seconds_between_bytes)``, ``("sleep",
    seconds)``, ``("close",)`` (TLS close_notify, then FIN), ``("close_without_notify",)``,
    ``("reset",)`` (RST), ``("half_close",)`` (FIN, then read until the client closes),
    ``("hold",)`` (never answer) and ``("repeat",)`` (start over on the same connection)."""

    def __new__(cls, steps: list[tuple[Any, ...]], *, tls: bool = False) -> HostileServer:
        """Starts listening; ``tls=True`` serves TLS with a fresh self-signed certificate.
        Raises ValueError for an unknown step or wrong arguments."""
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
    @property
    def certificate_pem(self) -> str | None:
        """The self-signed certificate (PEM) when serving TLS, for ``cacert=``."""
    def connections(self) -> int:
        """Connections accepted so far."""
    def requests(self) -> int:
        """Requests read completely so far (``read``) or by head (``read_head``)."""
    def stop(self) -> None:
        """Stops the server, cuts live connections and waits for every script."""
    def __enter__(self) -> HostileServer: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

@final
class StopHandle:
    """Ends a run early from another thread or task: at once, as its deadline would, with the
    requests in flight counted ``aborted``; the run returns its result, whose ``interrupted`` is
    True. A handle serves one run: once set (by you, or by an exception in ``on_progress``) it
    stays set."""

    def __init__(self) -> None: ...
    def set(self) -> None:
        """Asks the run to stop."""
    @property
    def is_set(self) -> bool:
        """True once :meth:`set` was called or ``on_progress`` raised."""

@final
class Progress:
    """The live view passed to ``on_progress`` once a second, on the thread that runs the load
    (the caller's, or under gevent and asyncio a pool thread: use thread-safe calls there)."""

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
    @property
    def requests(self) -> int:
        """Requests accounted for so far."""
    @property
    def ok(self) -> int:
        """Complete responses so far, whatever their status."""
    @property
    def failed(self) -> int:
        """Failed requests so far, every kind together."""
    @property
    def current_rps(self) -> float:
        """Complete responses per second over the last second."""
    @property
    def p99_us(self) -> int | None:
        """p99 latency so far, microseconds."""

@final
class Latency:
    """A latency distribution in microseconds; every field is None when no request completed.

    In the open model (``rate=``) it is measured from when each request was due, so a stalled
    server shows up here (coordinated-omission correction)."""

    @property
    def min(self) -> int | None:
        """Fastest response, microseconds."""
    @property
    def mean(self) -> float | None:
        """Mean, microseconds."""
    @property
    def stdev(self) -> float | None:
        """Standard deviation, microseconds."""
    @property
    def max(self) -> int | None:
        """Slowest response, microseconds."""
    @property
    def p50(self) -> int | None:
        """Median, microseconds."""
    @property
    def p75(self) -> int | None:
        """75th percentile, microseconds."""
    @property
    def p90(self) -> int | None:
        """90th percentile, microseconds."""
    @property
    def p99(self) -> int | None:
        """99th percentile, microseconds: the usual SLO figure."""
    @property
    def p999(self) -> int | None:
        """99.9th percentile, microseconds."""
    @property
    def p9999(self) -> int | None:
        """99.99th percentile, microseconds."""
    def to_dict(self) -> dict[str, int | float | None]:
        """The ``latency_us`` object of the CLI's ``--json``."""

@final
class ScheduleLag:
    """Open model: how late sends were compared with the constant-rate schedule."""

    @property
    def target_rps(self) -> float:
        """The requested constant rate, requests per second."""
    @property
    def mean_us(self) -> float:
        """Mean delay of a send behind its scheduled time, microseconds."""
    @property
    def p50_us(self) -> int:
        """Median delay of a send behind its scheduled time, microseconds."""
    @property
    def p99_us(self) -> int:
        """99th percentile of that delay, microseconds."""
    @property
    def max_us(self) -> int:
        """Largest delay of a send behind its scheduled time, microseconds."""
    @property
    def unsent(self) -> int:
        """Requests due before the run ended that were never sent: every connection was busy."""
    @property
    def behind(self) -> bool:
        """More than 1% of the requests due were never sent: the connections could not carry
        the rate, and ``rps`` is below ``target_rps``."""
    @property
    def wakeups(self) -> int:
        """Rounds in which the pacer released requests that waited for their due time: an
        expiry of its timer, or a moment a worker was awake anyway (a response had arrived)."""
    @property
    def timer_expiries(self) -> int:
        """Expiries of the pacer's timer (each an interrupt), including those that found
        nothing left to send."""
    @property
    def requests_per_wakeup(self) -> float:
        """Requests released per wake-up (0 when none waited); above 1 when due times come
        closer together than the worker wakes."""

@final
class TimelineEntry:
    """One second of the run (the last entry covers the rest); the CLI's ``timeline``."""

    @property
    def t(self) -> float:
        """Seconds since the start when this entry begins."""
    @property
    def duration_s(self) -> float:
        """How long it lasts: 1.0, except the last entry."""
    @property
    def requests(self) -> int:
        """Requests whose outcome was recorded in this entry; the entries add up to the run's."""
    @property
    def ok(self) -> int:
        """Complete responses, whatever their status."""
    @property
    def failed(self) -> dict[str, int]:
        """Failed requests by kind; every kind is present."""
    @property
    def failed_total(self) -> int:
        """Failed requests of every kind."""
    @property
    def aborted(self) -> int:
        """In flight when the run ended."""
    @property
    def status(self) -> dict[int, int]:
        """Responses by status code."""
    @property
    def rps(self) -> float:
        """Complete responses per second during this entry."""
    @property
    def target_rps(self) -> float | None:
        """Open model only: the rate the schedule asked for during this entry (with
        ``stages``, it follows the ramp)."""
    @property
    def latency_us(self) -> Latency:
        """Latency of the responses completed in this entry (corrected in the open model)."""
    @property
    def latency_uncorrected_us(self) -> Latency | None:
        """Open model only: the same responses measured from their actual send."""
    @property
    def connects(self) -> int:
        """Connections established during this entry."""
    @property
    def connections_open(self) -> int:
        """Connections open at its end."""

@disjoint_base
class Outcomes:
    """What a set of requests amounted to: the base of :class:`Result` (the whole run) and
    :class:`Endpoint` (one statistics row). ``requests == ok + failed_total + aborted``."""

    @property
    def requests(self) -> int:
        """Every request accounted for."""
    @property
    def ok(self) -> int:
        """Complete responses, whatever their status."""
    @property
    def failed(self) -> dict[str, int]:
        """Failed requests by kind: connect, tls, timeout, closed, read, write, parse, framing,
        and HTTP/2's reset, refused, goaway, protocol."""
    @property
    def failed_total(self) -> int:
        """Failed requests, every kind together (the sum of :attr:`failed`)."""
    @property
    def aborted(self) -> int:
        """In flight when the run ended."""
    @property
    def aborted_connecting(self) -> int:
        """Of :attr:`aborted`: still waiting for their connection when the run ended."""
    @property
    def retries(self) -> int:
        """Idempotent requests resent once after a kept-alive connection closed unanswered (a close
        that raced the send; one the server ended while idle is replaced before sending)."""
    @property
    def body_bytes(self) -> int:
        """Response body bytes received (chunked framing removed, any content encoding kept):
        what Locust's average content size divides by its requests."""
    @property
    def status(self) -> dict[int, int]:
        """Responses by status code."""
    @property
    def rps(self) -> float:
        """Complete responses per second."""
    @property
    def latency_us(self) -> Latency:
        """Latency of complete responses; in the open model corrected for coordinated omission."""
    @property
    def latency_uncorrected_us(self) -> Latency | None:
        """Open model only: latency measured from the actual send."""
    def percentile(self, q: float) -> int | None:
        """Latency at percentile ``q`` (0 to 100) in microseconds; None when nothing completed.
        Raises ValueError for ``q`` outside 0..100."""

@final
class Endpoint(Outcomes):
    """One statistics row: the requests of one method and name, like a line of Locust's table."""

    @property
    def name(self) -> str:
        """The row's name: ``name=`` of its requests, or the path as given."""
    @property
    def method(self) -> str:
        """The HTTP method of the row's requests."""
    def to_dict(self) -> dict[str, Any]:
        """This row as in the ``endpoints`` list of the CLI's ``--json``."""

@final
class Result(Outcomes):
    """The result of :func:`ringload.run`: the same data as the CLI's ``--json`` object.
    ``str()`` (and ``print()``) is the CLI's summary; ``repr()`` is one line
    (``<Result GET URL: requests=... ok=... failed=... aborted=... p50_us=... p99_us=...>``)."""

    @property
    def url(self) -> str:
        """Target URL without credentials (with a scenario, its base URL)."""
    @property
    def method(self) -> str:
        """The method of every request, or ``MIXED``."""
    @property
    def connections(self) -> int:
        """Connections the run kept open (``connections=``)."""
    @property
    def threads(self) -> int:
        """Engine worker threads, one per CPU core used."""
    @property
    def io(self) -> str:
        """``uring`` or ``epoll``."""
    @property
    def model(self) -> str:
        """``closed`` (next request when the previous completes) or ``open`` (``rate=``)."""
    @property
    def protocol(self) -> str:
        """``http/1.1``, or ``h2`` with ``http2=True`` (unless the server declined HTTP/2 in the
        TLS handshake: the run then used HTTP/1.1, with a warning)."""
    @property
    def streams(self) -> int | None:
        """HTTP/2: requests in flight per connection at most (``streams=``); None for HTTP/1.1."""
    @property
    def connects(self) -> int:
        """Connections established."""
    @property
    def interrupted(self) -> bool:
        """The run was stopped before its end (a :class:`StopHandle`, Ctrl-C): it covers what was
        measured until then, and the requests in flight are counted in ``aborted``."""
    @property
    def error_examples(self) -> dict[str, str]:
        """The first error message of each failed kind."""
    @property
    def duration_s(self) -> float:
        """Seconds the run took; ``rps`` is ``ok`` divided by it."""
    @property
    def bytes_read(self) -> int:
        """HTTP bytes received: heads and bodies as sent (TLS records not counted)."""
    @property
    def bytes_written(self) -> int:
        """HTTP bytes sent: request heads and bodies (TLS records not counted)."""
    @property
    def schedule_lag(self) -> ScheduleLag | None:
        """Open model only (``rate=``): how late sends were; None in the closed model."""
    @property
    def connect_us(self) -> Latency:
        """Time to establish each new TCP connection (:attr:`connects` of them), microseconds."""
    @property
    def tls_us(self) -> Latency | None:
        """https only: time of each new connection's TLS handshake, microseconds."""
    @property
    def ttfb_us(self) -> Latency:
        """Time from sending each completed request to the first byte of its response
        (with ``disable_keepalive``, from before the connect), microseconds."""
    @property
    def warnings(self) -> list[str]:
        """What a reader of the numbers must know (too few open files, a schedule that fell
        behind, requests aborted while connecting, no request that got a response); also
        printed on stderr during the run."""
    @property
    def endpoints(self) -> list[Endpoint]:
        """Per method and name, in the order the requests were given."""
    def endpoint(self, name: str, method: str | None = None) -> Endpoint:
        """The row named ``name`` (and ``method`` when several share it); KeyError if none."""
    @property
    def timeline(self) -> list[TimelineEntry]:
        """The run second by second (the CLI's ``timeline``)."""
    def to_html(self, path: str | os.PathLike[str]) -> None:
        """Writes the CLI's ``--html`` report: one self-contained page with the summary,
        per-endpoint table, charts over time and the latency spectrum. OSError if it cannot."""
    def to_csv(self, prefix: str | os.PathLike[str]) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
        """Writes the CLI's ``--csv`` files in Locust's format: ``PREFIX_stats.csv`` (per
        endpoint, then ``Aggregated``), ``PREFIX_stats_history.csv`` (per second) and
        ``PREFIX_failures.csv``; returns their paths. Locust's columns come first (milliseconds),
        ringload's own (microseconds, per second) after them."""
    def to_dict(self) -> dict[str, Any]:
        """Exactly the CLI's ``--json`` object: same keys, same units."""
    def to_json(self) -> str:
        """The CLI's ``--json`` text."""

def check_request(request: tuple[str | None, str, str, list[tuple[str, str]], bytes, int]) -> None:
    """Validates ``(name, method, path_or_url, headers, body, weight)``; raises ValueError."""

def run_load(
    url: str,
    *,
    method: str | None,
    headers: list[tuple[str, str]],
    body: bytes,
    scenario: list[tuple[str | None, str, str, list[tuple[str, str]], bytes, int]],
    connections: int | None,
    threads: int | None,
    duration: float | None,
    requests: int | None,
    rate: float | None,
    stages: list[tuple[float, float]],
    connection_stages: list[tuple[float, float]],
    template: bool,
    timeout: float,
    connect_timeout: float,
    insecure: bool,
    cacert: str | None,
    cert: str | None,
    key: str | None,
    pipeline: int,
    disable_keepalive: bool,
    http2: bool,
    streams: int | None,
    io: str,
    stop: StopHandle | None,
    on_progress: Callable[[Progress], object] | None,
) -> Result:
    """Runs the load with the GIL released (``ringload.run`` checks the arguments first)."""

#: One statistics row's share of one epoch second: (row, epoch second, first and last completion,
#: latency pairs in ms, failed requests' latency pairs, (status, count), (kind, count, example),
#: body bytes).
_RowSecond: TypeAlias = tuple[
    int,
    int,
    float,
    float,
    list[tuple[float, int]],
    list[tuple[float, int]],
    list[tuple[int, int]],
    list[tuple[str, int, str]],
    int,
]
#: An arrival rate's schedule: requests sent, of them a whole interval late, never sent, largest lag µs.
_Schedule: TypeAlias = tuple[int, int, int, int]

@final
class NativeRun:
    """The engine's native-users run behind ``ringload.NativeUser`` (``ringload/_native``):
    users added with their own headers and removed while it runs, drained by epoch second."""

    def __new__(
        cls,
        url: str,
        *,
        headers: list[tuple[str, str]],
        scenario: list[tuple[str | None, str, str, list[tuple[str, str]], bytes, int]],
        sequence: bool,
        wait: tuple[str, float, float],
        threads: int | None,
        timeout: float,
        connect_timeout: float,
        insecure: bool,
        io: str,
        http2: bool = False,
        streams: int = 1,
    ) -> NativeRun: ...
    @property
    def rows(self) -> list[tuple[str, str]]:
        """``(method, name)`` of each statistics row, as drains number them."""
    @property
    def threads(self) -> int:
        """Engine worker threads."""
    @property
    def user_count(self) -> int:
        """Users in the run now."""
    def add_user(self, headers: list[tuple[str, str]]) -> int:
        """Adds a user with ``headers`` instead of the class's; returns its slot."""
    def remove_user(self, slot: int) -> bool:
        """Removes a user: it starts no new request; one in flight is counted."""
    def drain(self) -> tuple[list[_RowSecond], list[str], _Schedule]:
        """What completed since the last drain, per row and epoch second, new warnings, and an
        arrival rate's schedule: requests sent, of them a whole interval late, never sent, and the
        largest send lag in µs."""
    def stop(self) -> tuple[list[_RowSecond], _Schedule, Result] | None:
        """Ends the run (requests in flight are dropped) and returns what was not drained, the
        schedule as ``drain`` gives it, and the whole run's result; ``None`` once stopped."""
