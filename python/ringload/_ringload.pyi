"""The private extension module: the Rust engine behind ``ringload``. Import from ``ringload``."""

__version__: str

class Engine:
    """The engine thread of this process: requests go in with ``submit`` and ``flush``, results
    come out of ``drain`` once ``fileno()`` is readable."""

    def __init__(self, io: str = "auto") -> None:
        """Starts the engine thread. ``io`` is ``"auto"``, ``"uring"`` or ``"epoll"``.

        Raises ValueError for another ``io`` and OSError when the engine cannot start."""
    @property
    def io(self) -> str:
        """The I/O driver in use: ``"uring"`` or ``"epoll"``."""
    def fileno(self) -> int:
        """A descriptor that is readable while completions wait."""
    def submit(
        self,
        token: int,
        session: int,
        https: bool,
        host: str,
        port: int,
        authority: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        connect_timeout: float,
        timeout: float,
        verify: bool,
        decode: bool,
    ) -> None:
        """Validates, encodes and queues one request; ``flush()`` sends the batch.

        Raises ValueError for a request that cannot be sent (CR/LF/NUL in the method, target or
        headers, an invalid header name, a non-positive timeout)."""
    def flush(self) -> None:
        """Wakes the engine for every request submitted so far."""
    def drain(self) -> list[tuple[int, RawResponse | RawError]]:
        """Every completion waiting now, as ``(token, result)`` pairs. Never blocks."""
    def close_session(self, session: int) -> None:
        """Closes a session's pooled connections."""

class RawResponse:
    """A complete response as the engine received it."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes:
        """The body, with Content-Encoding (gzip, deflate, br) undone."""
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
    def reused_connection(self) -> bool:
        """The request went out on a kept-alive connection."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """Header fields in order (values decoded as Latin-1)."""
    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
    def header_values(self, name: str) -> list[str]:
        """Every value of a header (case-insensitive), e.g. each Set-Cookie."""

class RawError:
    """Why no response arrived."""

    @property
    def kind(self) -> str:
        """connect, tls, timeout, closed, read, write, parse or framing."""
    @property
    def os_error(self) -> str:
        """The I/O error kind behind it, e.g. ``ConnectionRefused`` or ``TimedOut``."""
    @property
    def message(self) -> str: ...
