"""Locust's ``FastHttpUser`` on the ringload engine.

Mirrors ``locust.contrib.fasthttp`` (Locust 2.x): the same class attributes, session methods,
response objects, ``catch_response`` semantics and ``events.request`` keys, so a locustfile needs
at most ``from ringload import FastHttpUser``. The HTTP exchange runs in Rust; this module only
prepares requests, follows redirects, applies cookies and fires Locust's events.

Deliberate differences from Locust's client (see README):
- a request that may have reached the server is never resent, unless it is idempotent and went
  out on a reused keep-alive connection that the server had already closed (then once);
- CR, LF and NUL in the method, URL or headers raise ``ValueError`` before anything is sent;
- ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped on redirects to another
  origin;
- ``network_timeout`` bounds the whole response, so a trickling server still times out;
- ``response_time`` is measured by the engine thread (connect, send, receive), so it does not
  include time a busy Python process takes to get back to the greenlet;
- of a streamed body the locustfile does not take, at most 1 MiB is held: then the socket is
  not read (and ``network_timeout`` does not run) until the locustfile takes half of it.
"""

from __future__ import annotations

import codecs
import json as _json
import ssl
import time
import uuid
import weakref
import zlib
from base64 import b64encode
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from errno import ECONNREFUSED, ECONNRESET, ETIMEDOUT
from http.cookiejar import CookieJar
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import Request as _CookieRequest

import gevent.ssl
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.client import HTTPClientPool
from geventhttpclient.response import HTTPConnectionClosed
from geventhttpclient.useragent import RetriesExceeded
from locust.contrib.fasthttp import LocustBadStatusCode, insecure_ssl_context_factory
from locust.exception import CatchResponseError, LocustError, ResponseError, StopTest
from locust.user import User
from locust.user.users import RestMixin
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from ringload._dispatch import Dispatcher, dispatcher, wait_body
from ringload._ringload import (
    ErrorKind,
    MissingSchemeError,
    Proxies,
    RawError,
    RawResponse,
    Session,
    TlsConfig,
    merge_headers,
)
from ringload._tls import ssl_context_from_factory, tls_from_ssl_context

__all__ = [
    "ErrorResponse",
    "FastHttpSession",
    "FastHttpUser",
    "FastRequest",
    "FastResponse",
    "LocustBadStatusCode",
    "ResponseContextManager",
    "RestResponseContextManager",
    "TooManyRedirects",
]

VALID_RESPONSE_CODES = frozenset([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 301, 302, 303, 304, 307, 308])
REDIRECT_RESPONSE_CODES = frozenset([301, 302, 303, 307, 308])
#: Headers never forwarded to another origin on a redirect.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
#: requests-style keyword arguments accepted by ``request()`` besides its named ones.
_EXTRA_KWARGS = frozenset(["params", "timeout", "verify", "cookies", "files", "proxies"])

_absolute_url = ("http://", "https://")


class TooManyRedirects(ConnectionError):
    """More redirects than ``max_redirects``."""


def _basic_auth(username: str | bytes, password: str | bytes) -> str:
    if isinstance(username, str):
        username = username.encode("latin1")
    if isinstance(password, str):
        password = password.encode("latin1")
    return "Basic " + b64encode(b":".join((username, password))).strip().decode("ascii")


def _split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without ``user:password@`` and the Basic header that userinfo asks for, if any.

    Credentials never travel in URLs past this point, so they cannot reach events, stats names or
    error messages. As in Locust, a Basic header needs both a user name and a password."""
    if "@" not in url:  # the common case, without parsing: this runs on every request
        return url, None
    parsed = urlsplit(url)
    if "@" not in parsed.netloc:
        return url, None
    netloc = parsed.netloc.rpartition("@")[2]
    bare = urlunsplit((parsed.scheme, netloc, parsed.path, parsed.query, parsed.fragment))
    if parsed.username is not None and parsed.password is not None:
        return bare, _basic_auth(unquote(parsed.username), unquote(parsed.password))
    return bare, None


def _exception_for(error: RawError, through_proxy: bool = False) -> Exception:
    """The Python exception a user of Locust's client would see for an engine error. Through a
    proxy, the engine's message says that it was the proxy that could not be reached."""
    kind, errno, message = error.kind, error.errno, error.message
    if kind == ErrorKind.CONNECT:
        if errno == ECONNREFUSED:
            return ConnectionRefusedError(errno, message if through_proxy else "Connection refused")
        if errno == ETIMEDOUT:
            return TimeoutError(message if through_proxy else "timed out connecting")
        return ConnectionError(message)
    if kind == ErrorKind.TLS:
        return ssl.SSLError(message)
    if kind == ErrorKind.TIMEOUT:
        return TimeoutError(message)
    if kind == ErrorKind.CLOSED:
        return HTTPConnectionClosed(message)
    if kind in (ErrorKind.READ, ErrorKind.WRITE):
        return ConnectionResetError(errno or ECONNRESET, message)
    return HTTPParseError(message)


#: How an extra header joins the merged ones (``Session.send``).
_REPLACE, _IF_ABSENT, _APPEND = 0, 1, 2
_NO_HEADERS: dict = {}
_JSON_HEADERS = (("Content-Type", "application/json", _IF_ABSENT), ("Accept", "application/json", _IF_ABSENT))


class FastRequest:
    """What was sent: ``url``, ``method``, ``headers``, ``body``."""

    __slots__ = ("url", "method", "body", "_headers", "_parts")

    def __init__(self, url: str, method: str, parts: tuple, body: bytes | None) -> None:
        self.url = url
        self.method = method
        self.body: bytes | str | None = body
        #: ``(defaults, headers, extra)`` as ``Session.send`` merged them; the dict is made when read.
        self._parts = parts
        self._headers: dict | None = None

    @property
    def headers(self) -> dict:
        if self._headers is None:
            self._headers = merge_headers(*self._parts)
        return self._headers

    @headers.setter
    def headers(self, value: dict) -> None:
        self._headers = value

    @property
    def payload(self) -> bytes | str | None:
        return self.body


class FastResponse:
    """A response, as ``locust.contrib.fasthttp.FastResponse``."""

    error: Exception | None = None
    encoding: str | None = None
    """Set it before reading ``.text`` to override the detected charset."""
    history: list = []  # noqa: RUF012 (never mutated: a redirected response gets its own list)
    """The redirects followed to this response, oldest first."""

    def __init__(self, raw: Any, request: FastRequest | None, url: str) -> None:
        self._raw = raw
        self.request = request
        self._url = url
        self._headers: CaseInsensitiveDict | None = None
        #: Read once here: Locust's bookkeeping and most locustfiles read both.
        self.status_code: int = raw.status
        self.content: bytes | None = raw.body
        if self.content is None:  # stream=True: the body arrives later; ``content`` reads the rest
            del self.content
            self._body_stream = raw.stream
            self.__class__ = _streamed(type(self))

    def _chunks(self, chunk_size: int | None) -> Iterator[bytes]:
        """The body's bytes as they arrive, up to ``chunk_size`` taken at a time (decoded when the
        server compressed it): the rest of a streamed body, or the chunks of one already read.
        The greenlet waits in the hub."""
        body_stream = self.__dict__.get("_body_stream")
        if body_stream is None or "_content" in self.__dict__:
            content = self.content or b""
            step = max(1, chunk_size or len(content) or 1)
            for start in range(0, len(content), step):
                yield content[start : start + step]
            return
        decoder = _stream_decoder(self.headers)
        while True:
            taken = body_stream.take(chunk_size)
            if taken is None:
                wait_body(body_stream)
            elif type(taken) is RawError:
                raise self._body_error(taken)
            elif not taken:
                if decoder is not None and (tail := decoder.flush()):
                    yield tail
                return
            elif decoder is None:
                yield taken
            elif decoded := decoder.decompress(taken):
                yield decoded

    def _body_error(self, error: RawError) -> Exception:
        """What reading a streamed body that broke off raises."""
        return _exception_for(error)

    def read(self, n: int | None = None) -> bytes:
        """Up to ``n`` bytes of the body (all that is left when None), as soon as some have
        arrived; ``b""`` at its end. Reads advance, as a file's do."""
        if "_body_stream" not in self.__dict__ or "_content" in self.__dict__:
            content = self.content or b""
            at = self.__dict__.get("_read_at", 0)
            end = len(content) if n is None else at + n
            self._read_at = min(end, len(content))
            return content[at:end]
        if n is None:
            return b"".join(self._chunks(None))
        return next(self._chunks(n), b"")

    def close(self) -> None:
        """Done with the response: the unread rest of a streamed body is dropped and its
        connection closed (a whole body read already went back to the pool)."""
        body_stream = self.__dict__.get("_body_stream")
        if body_stream is not None:
            body_stream.close()

    @property
    def stream(self) -> FastResponse:
        """The body as a file-like object: ``r.stream.read(n)``."""
        return self

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def elapsed(self) -> timedelta | None:
        """From sending the request to its response head (None when no response arrived)."""
        return timedelta(seconds=self._raw.head_time) if self._raw is not None else None

    @property
    def headers(self) -> CaseInsensitiveDict | None:
        """Case-insensitive mapping; repeated fields are joined with ", "."""
        if self._headers is None and self._raw is not None:
            headers: CaseInsensitiveDict = CaseInsensitiveDict()
            for name, value in self._raw.headers:
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            self._headers = headers
        return self._headers

    @property
    def text(self) -> str | None:
        content = self.content
        if content is None:
            return None
        if self.encoding is None:
            headers = self.headers
            from_headers = get_encoding_from_headers(headers) if headers is not None else None
            self.encoding = from_headers or _detect_encoding(content)
        if self.encoding is None:
            return None
        return str(content, self.encoding, errors="replace")

    @property
    def url(self) -> str:
        """The final URL, after redirects."""
        return self._url

    def json(self) -> Any:
        return _json.loads(self.text)  # type: ignore[arg-type]

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise self.error

    def iter_content(self, chunk_size: int = 1024, decode_content: bool = True) -> Iterator[bytes | str]:
        """The body in chunks of up to ``chunk_size`` as they arrive (text where it is UTF-8), as
        Locust's; a connection that breaks off ends the iteration, as there."""
        try:
            for raw_chunk in self._chunks(chunk_size):
                chunk: bytes | str = raw_chunk
                if decode_content:
                    try:
                        chunk = raw_chunk.decode("utf-8")
                    except UnicodeDecodeError:
                        pass
                yield chunk
        except (HTTPConnectionClosed, ConnectionError):
            return

    def iter_lines(self) -> Iterator[str]:
        """The body's lines (split at "\\n") as each one completes."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            # Decoded across chunks, so a character split between two arrivals stays whole.
            yield from _lines(decoder.decode(chunk) for chunk in self._chunks(1024))
        except (HTTPConnectionClosed, ConnectionError):
            return

    def success(self) -> None:
        raise LocustError(
            "If you want to change the state of the request, you must pass catch_response=True. "
            "See http://docs.locust.io/en/stable/writing-a-locustfile.html#validating-responses"
        )

    def failure(self, *_args: Any, **_kwargs: Any) -> None:
        self.success()

    # Locust 2.47 returns a context manager from every call; entering one that was not asked for
    # with catch_response=True raises LocustError. The response class itself carries that rule,
    # so the common path builds no wrapper per request.
    def __enter__(self) -> FastResponse:
        raise LocustError("In order to use a with-block for requests, you must also pass catch_response=True")

    def __exit__(self, exc: Any, value: Any, traceback: Any) -> bool | None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code}]>"


class _BrotliStream:
    def __init__(self) -> None:
        import brotli  # type: ignore[import-untyped]

        self._decompressor = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._decompressor.process(data)

    def flush(self) -> bytes:
        return b""


def _stream_decoder(headers: CaseInsensitiveDict | None) -> Any:
    """An incremental decoder for a streamed body's Content-Encoding (the engine hands streamed
    bodies on as received), or None when it is not encoded."""
    coding = (headers.get("content-encoding") or "" if headers is not None else "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # with a zlib header, as servers send it
    if coding == "br":
        return _BrotliStream()
    return None


_streamed_classes: dict[type, type] = {}
_Response = TypeVar("_Response", bound="FastResponse")


def _streamed(cls: type[_Response]) -> type[_Response]:
    """``cls`` with ``content`` read from the body stream on first use. Streamed responses get
    their own class so that the common one keeps ``content`` a plain attribute (a class-wide
    ``__getattr__`` or property would slow every attribute read of every response)."""
    variant = _streamed_classes.get(cls)
    if variant is None:

        def read_content(self: FastResponse) -> bytes:
            if "_content" not in self.__dict__:
                self.__dict__["_content"] = b"".join(self._chunks(None))
            return self.__dict__["_content"]

        def set_content(self: FastResponse, value: bytes | None) -> None:
            self.__dict__["_content"] = value

        content = property(read_content, set_content, doc="The rest of the body, read when first used.")
        namespace = {"content": content, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        variant = _streamed_classes[cls] = type(cls.__name__, (cls,), namespace)
    return variant


def _lines(chunks: Iterator[bytes | str]) -> Iterator[str]:
    """Text lines from chunks as they arrive (Locust's FastHttpSession.iter_lines). ``iter_content``
    leaves a chunk as bytes when it does not decode alone, as when a character is split between
    two arrivals: those are decoded together, so the character stays whole."""
    buffer = ""
    decoder = None
    for chunk in chunks:
        if isinstance(chunk, bytes):
            decoder = decoder or codecs.getincrementaldecoder("utf-8")(errors="replace")
            buffer += decoder.decode(chunk)
        else:
            if decoder is not None:
                buffer += decoder.decode(b"", final=True)  # what it holds came before this text
            buffer += chunk
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            yield line
    if decoder is not None:
        buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer


def _detect_encoding(content: bytes) -> str | None:
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import detect

        return detect(content)["encoding"]


class ErrorResponse(FastResponse):
    """Stands in for a response when none arrived: ``status_code`` 0, no content."""

    text = None  # type: ignore[assignment]
    headers = None  # type: ignore[assignment]

    def __init__(self, request: FastRequest, error: Exception) -> None:
        self._raw = None
        self.request = request
        self._url = request.url
        self.error = error
        self.status_code = 0
        self.content = None

    def raise_for_status(self) -> None:
        raise self.error  # type: ignore[misc]


class ResponseContextManager(FastResponse):
    """Returned under ``catch_response=True``: decide the outcome inside the ``with`` block."""

    request_meta: dict
    """What ``events.request`` will be fired with."""

    _manual_result: bool | Exception | None = None
    _entered = False

    def __init__(self, response: FastResponse, request_event: Any, request_meta: dict, catch_response: bool):
        self.__dict__.update(response.__dict__)
        if "_body_stream" in self.__dict__:
            self.__class__ = _streamed(type(self))
        self._request_event = request_event
        self.request_meta = request_meta
        self._catch_response = catch_response

    def __enter__(self) -> ResponseContextManager:
        if not self._catch_response:
            raise LocustError("In order to use a with-block for requests, you must also pass catch_response=True")
        self._entered = True
        return self

    def __exit__(self, exc: Any, value: Any, traceback: Any) -> bool:
        if self._manual_result is not None:
            if self._manual_result is True:
                self.request_meta["exception"] = None
                self._report_request()
            elif isinstance(self._manual_result, Exception):
                self.request_meta["exception"] = self._manual_result
                self._report_request()
            return exc is None
        if exc:
            if isinstance(value, ResponseError):
                self.request_meta["exception"] = value
                self._report_request()
            else:
                # Any other exception propagates, and no event is fired for this request.
                return False
        else:
            try:
                self.raise_for_status()
            except Exception as e:
                self.request_meta["exception"] = self._reported_error(e)
            self._report_request()
        return True

    def _report_request(self) -> None:
        self._request_event.fire(**self.request_meta)

    def _reported_error(self, error: Exception) -> Exception:
        """What ``events.request`` reports when the block left the outcome to the status."""
        return error

    def success(self) -> None:
        if not self._entered:
            raise LocustError(
                "Tried to set status on a request that has not yet been made. Make sure you use a with-block, "
                "like this:\n\nwith self.client.request(..., catch_response=True) as response:\n"
                "    response.success()"
            )
        self._manual_result = True

    def failure(self, exc: Any) -> None:  # type: ignore[override]
        if not self._entered:
            raise LocustError(
                "Tried to set status on a request that has not yet been made. Make sure you use a with-block, "
                "like this:\n\nwith self.client.request(..., catch_response=True) as response:\n"
                "    response.failure(...)"
            )
        if not isinstance(exc, Exception):
            exc = CatchResponseError(exc)
        self._manual_result = exc

    def raise_for_status(self) -> None:
        if not self._manual_result:
            super().raise_for_status()
        elif isinstance(self._manual_result, Exception):
            raise self._manual_result


class RestResponseContextManager(ResponseContextManager):
    js: dict
    error: Exception | None


class _CookieHeaders:
    """The ``info()`` object ``CookieJar.extract_cookies`` reads Set-Cookie from."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def info(self) -> _CookieHeaders:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self._raw.header_values(name) or default


def _encode_multipart(files: dict, fields: dict | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode()
        )
    for name, spec in files.items():
        filename, content, content_type = name, spec, "application/octet-stream"
        if isinstance(spec, tuple):
            filename, content = spec[0], spec[1]
            if len(spec) > 2:
                content_type = spec[2]
        elif hasattr(spec, "read"):
            filename = getattr(spec, "name", name)
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode()
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
        )
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


#: Validated proxies, one per distinct choice (connections are pooled per proxy).
_proxies_cache: dict[tuple, Proxies] = {}


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def native_proxies(proxies: dict | None) -> Proxies | None:
    """requests' ``proxies`` dict (``http``, ``https`` or ``all`` keys, ``http://`` proxy URLs) as
    the engine's; ``None`` or an empty dict: no proxy. Raises ValueError for other keys or URLs."""
    if not proxies:
        return None
    unknown = proxies.keys() - {"http", "https", "all"}
    if unknown:
        raise ValueError(
            f"proxies keyed by {', '.join(sorted(unknown))} are not supported: use 'http', 'https' or 'all'"
        )
    chosen = (proxies.get("http") or proxies.get("all"), proxies.get("https") or proxies.get("all"))
    if chosen == (None, None):
        return None
    native = _proxies_cache.get(chosen)
    if native is None:
        native = _proxies_cache[chosen] = Proxies(http=chosen[0], https=chosen[1])
    return native


class _SessionPool:
    """``clientpool`` of a user without a shared pool: its own connections."""

    def __init__(self, session: FastHttpSession) -> None:
        self._session = session

    @property
    def client_args(self) -> dict[str, Any]:
        """What Locust's FastHttpUser gives its own ``HTTPClientPool``; locustfiles and tests read
        ``ssl_context_factory`` here (Locust's default factory when the user set none)."""
        session = self._session
        factory = session.ssl_context_factory
        if factory is None:
            factory = insecure_ssl_context_factory if session.insecure else gevent.ssl.create_default_context
        args: dict[str, Any] = {
            "ssl_context_factory": factory,
            "network_timeout": session.network_timeout,
            "connection_timeout": session.connection_timeout,
            "concurrency": session.concurrency,
            "proxy_host": session._proxy_host,
            "proxy_port": session._proxy_port,
        }
        if session.insecure:
            args["insecure"] = True
        return args

    def close(self) -> None:
        native = self._session._native
        if native is not None:
            native.close()


class _UserAgent:
    """The part of Locust's ``LocustUserAgent`` locustfiles reach: ``clientpool``."""

    def __init__(self, clientpool: Any) -> None:
        self.clientpool = clientpool


#: Per shared ``client_pool``: its native session on each dispatcher (one per thread).
_shared_sessions: weakref.WeakKeyDictionary[HTTPClientPool, dict[Dispatcher, Session]] = weakref.WeakKeyDictionary()


def _shared_session(pool: HTTPClientPool, engine: Dispatcher, connect_timeout: float) -> Session:
    """The native session of the users given ``pool``, at most ``concurrency`` connections per host
    between them (geventhttpclient's default for a pool is 1). The pool's ``close()`` closes them."""
    sessions = _shared_sessions.get(pool)
    if sessions is None:
        sessions = _shared_sessions[pool] = {}
        original_close = pool.close

        def close() -> None:
            for native in sessions.values():
                native.close()
            original_close()

        pool.close = close  # type: ignore[method-assign]
    native = sessions.get(engine)
    if native is None:
        native = sessions[engine] = engine.session(connect_timeout)
        native.max_connections = int(pool.client_args.get("concurrency", 1))
    return native


class FastHttpSession:
    """The ``client`` of a FastHttpUser: one cookie jar and one keep-alive pool per session."""

    auth_header: str | None = None
    #: What the session builds; ``ringload.httpuser.HttpSession`` swaps in requests-style ones.
    _response_type: type[FastResponse] = FastResponse
    _error_response_type: type[ErrorResponse] = ErrorResponse
    _context_type: type[ResponseContextManager] = ResponseContextManager
    #: Statuses reported as successes (Locust's FastHttpSession list).
    _valid_codes: frozenset[int] = VALID_RESPONSE_CODES
    #: The Content-Type a body gets unless the caller set one: a form, text, bytes (None: none).
    _form_content_type: str | None = "application/x-www-form-urlencoded; charset=utf-8"
    _text_content_type: str | None = "text/plain; charset=utf-8"
    _bytes_content_type: str | None = "application/octet-stream"
    #: Headers a ``json=`` body adds unless the caller set them.
    _json_headers: tuple = _JSON_HEADERS
    #: ``response.request.body`` of a ``json=`` request is its text, as in Locust's
    #: FastHttpSession (other bodies are bytes); requests-style sessions keep the bytes.
    _request_body_as_given: bool = True
    #: Whether plain responses carry ``request_meta`` (Locust's HttpSession's do; FastHttpSession's
    #: only under ``catch_response``).
    _keeps_request_meta: bool = False
    #: Whether a followed redirect keeps its hops as ``response.history`` (both Locust clients do).
    _keeps_history: bool = True
    #: The class of ``cookiejar``; requests-style sessions use requests' jar.
    _cookiejar_type: type[CookieJar] = CookieJar
    #: A URL without a scheme (``--host 127.0.0.1:8080``) is a failed request, recorded as Locust's
    #: FastHttpSession records its ``gaierror``; requests-style sessions raise at the call instead.
    _records_missing_scheme: bool = True

    def __init__(
        self,
        base_url: str | None,
        request_event: Any,
        user: User | None,
        insecure: bool = True,
        client_pool: Any = None,
        ssl_context_factory: Callable | None = None,
        network_timeout: float = 60.0,
        connection_timeout: float = 60.0,
        max_redirects: int = 30,
        max_retries: int = 0,
        concurrency: int = 10,
        headers: dict | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"FastHttpSession got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if (proxy_host is None) != (proxy_port is None):
            raise ValueError("give both proxy_host and proxy_port, or neither")
        #: Every request goes through this HTTP proxy (CONNECT for https://); environment variables
        #: such as HTTP_PROXY are not read, as in Locust's FastHttpUser.
        self._proxies: Proxies | None = None
        self._proxy_host, self._proxy_port = proxy_host, proxy_port
        if proxy_host is not None:
            proxy = f"http://{_bracketed(proxy_host)}:{int(proxy_port)}"  # type: ignore[arg-type]
            self._proxies = native_proxies({"http": proxy, "https": proxy})
        if client_pool is not None and not isinstance(client_pool, HTTPClientPool):
            raise TypeError(
                "client_pool must be a geventhttpclient.client.HTTPClientPool (as in Locust), "
                f"not {type(client_pool).__name__}"
            )
        #: Shared by the users that were given the same pool: one set of connections.
        self.client_pool = client_pool
        self.base_url = base_url
        self.request_event = request_event
        self.user = user
        self._cookiejar: CookieJar | None = None
        self.request_name: str | None = None
        self.insecure = insecure
        #: Called at the first https:// request, as Locust calls it; its SSLContext decides TLS.
        self.ssl_context_factory = ssl_context_factory
        self._factory_tls: TlsConfig | None = None
        self.network_timeout = network_timeout
        #: The native half, made on the first request by this thread's dispatcher.
        self._native: Session | None = None
        self._dispatcher: Dispatcher | None = None
        self.connection_timeout = connection_timeout
        self.max_redirects = max_redirects
        self.max_retries = max_retries
        self._concurrency = concurrency
        self.default_headers = dict(headers) if headers else {}
        if base_url:
            self.base_url, userinfo_auth = _split_userinfo(base_url)
            if userinfo_auth:
                self.auth_header = userinfo_auth

    def __del__(self) -> None:
        # The engine that holds this session's connections: the one its requests went to (a
        # session that sent nothing has none, and the collector may run on another thread).
        native, engine = getattr(self, "_native", None), getattr(self, "_dispatcher", None)
        if native is None or engine is None or engine.stale or getattr(self, "client_pool", None) is not None:
            return  # nothing sent, a forked child's copy, or connections other users share
        try:
            native.close()
        except Exception:  # interpreter shutdown, or the engine is already gone
            pass

    @property
    def cookiejar(self) -> CookieJar:
        """The session's cookies, sent with every request they match (Locust's ``CookieJar``). Made
        when first used: most users never get a cookie, and thousands would each hold an empty jar."""
        jar = self._cookiejar
        if jar is None:
            jar = self._cookiejar = self._cookiejar_type()
        return jar

    @cookiejar.setter
    def cookiejar(self, value: CookieJar) -> None:
        self._cookiejar = value

    @property
    def connection_timeout(self) -> float:
        return self._connection_timeout

    @connection_timeout.setter
    def connection_timeout(self, value: float) -> None:
        if self._native is not None and self.client_pool is None:
            self._native.connect_timeout = value
        self._connection_timeout = value

    @property
    def concurrency(self) -> int:
        """At most this many connections per host for this user (Locust's FastHttpUser); more
        concurrent requests from its greenlets wait for one. A ``client_pool``'s own
        ``concurrency`` applies to the users sharing it instead."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        self._concurrency = value
        if self._native is not None and self.client_pool is None:
            self._native.max_connections = value

    @property
    def client(self) -> _UserAgent:
        """What Locust's ``self.client.client`` is: ``.clientpool.close()`` closes this user's
        connections (or its shared ``client_pool``'s), so the next requests open new ones."""
        return _UserAgent(self.client_pool if self.client_pool is not None else _SessionPool(self))

    def _build_url(self, path: str) -> str:
        # A path under the base URL is the common case: only other strings can be absolute.
        if path[:1] != "/" and (path.startswith(_absolute_url) or path[:8].lower().startswith(_absolute_url)):
            return path
        return f"{self.base_url}{path}"

    @contextmanager
    def rename_request(self, name: str) -> Generator[None, None, None]:
        """Group requests made in the ``with`` block under ``name``."""
        self.request_name = name
        try:
            yield
        finally:
            self.request_name = None

    def _connect(self) -> tuple[Dispatcher, Session]:
        """This thread's dispatcher and a native session on it, kept from the first request (and
        made again after a fork, whose child has no engine thread)."""
        engine = self._dispatcher = dispatcher()
        if self.client_pool is not None:
            native = self._native = _shared_session(self.client_pool, engine, self._connection_timeout)
        else:
            native = self._native = engine.session(self._connection_timeout)
            native.max_connections = self._concurrency
        return engine, native

    def _send_once(
        self,
        method: str,
        url: str,
        defaults: dict,
        headers: dict | None,
        extra: Sequence | None,
        body: bytes | None,
        timeout: float,
        verify: bool | TlsConfig | None,
        proxies: Proxies | None,
        stream: bool = False,
    ) -> Any:
        """One HTTP exchange (no redirects): the engine's RawResponse or RawError. ``verify``
        None: the session's default for this URL (``ssl_context_factory``'s TLS for https)."""
        if verify is None:
            verify = self._tls_for(url, not self.insecure)
        engine, native = self._dispatcher, self._native
        if engine is None or engine.stale or native is None:
            engine, native = self._connect()
        jar = self._cookiejar
        # Cookies the server set, or the locustfile put in the jar: looked at, not remembered.
        if jar is not None and jar._cookies:  # type: ignore[attr-defined]
            cookie_request = _CookieRequest(url)
            jar.add_cookie_header(cookie_request)
            cookie = cookie_request.unredirected_hdrs.get("Cookie")
            if cookie:
                extra = [*(extra or ()), ("Cookie", cookie, _APPEND)]
        raw = engine.send(native, method, url, defaults, headers, extra, body, timeout, verify, proxies, stream)
        if type(raw) is RawResponse and raw.sets_cookie:
            self.cookiejar.extract_cookies(_CookieHeaders(raw), _CookieRequest(url))  # type: ignore[arg-type]
        return raw

    @staticmethod
    def _exception_for(error: RawError, url: str, through_proxy: bool = False) -> Exception:
        exception = _exception_for(error, through_proxy)
        if isinstance(exception, TimeoutError):
            # Locust's client reports a timeout as geventhttpclient's RetriesExceeded with the
            # socket.timeout as ``original`` (ringload does not retry it: it may have been served).
            return RetriesExceeded(url, original=exception)
        return exception

    @staticmethod
    def _bad_status(response: FastResponse, url: str, name: str) -> Exception:
        """The failure reported for a status outside ``_valid_codes``."""
        return LocustBadStatusCode(url, code=response.status_code)

    @staticmethod
    def _reported_error(error: Exception) -> Exception:
        """What ``events.request`` reports for a request that got no response."""
        return error

    def _prepare(
        self, url: str, extra: list, data: Any, params: Any, files: Any, cookies: Any
    ) -> tuple[str, bytes | None]:
        """Applies ``params``, ``data``, ``files`` and ``cookies``: the URL and body to send; the
        headers they need go into ``extra``."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, doseq=True)}"
        body: bytes | None = None
        if files:
            body, content_type = _encode_multipart(files, data if isinstance(data, dict) else None)
            extra.append(("Content-Type", content_type, _REPLACE))
        elif data:
            if isinstance(data, dict):
                body = urlencode(data).encode()
                default_type = self._form_content_type
            elif isinstance(data, str):
                body = data.encode()
                default_type = self._text_content_type
            else:
                body = bytes(data)
                default_type = self._bytes_content_type
            if default_type is not None:
                extra.append(("Content-Type", default_type, _IF_ABSENT))
        if cookies:
            extra.append(("Cookie", "; ".join(f"{k}={v}" for k, v in dict(cookies).items()), _REPLACE))
        return url, body

    def _follow_redirects(
        self,
        raw: Any,
        request: FastRequest,
        stream: bool,
        timeout: float,
        verify: bool | TlsConfig | None,
        proxies: Proxies | None,
    ) -> tuple[FastResponse, float]:
        """``raw`` is a redirect: follows it and any after it, each hop with the headers the
        previous one was sent with (credentials dropped across origins)."""
        elapsed = 0.0
        redirects = 0
        hops: list[FastResponse] = []  # the redirects, for sessions that keep a history
        first_url = current_url = request.url
        current_method, sent_body = request.method, request.body
        current_body = sent_body.encode() if isinstance(sent_body, str) else sent_body
        headers = request.headers
        while True:
            last_hop = raw.status not in REDIRECT_RESPONSE_CODES
            elapsed += raw.head_time if (stream and last_hop) else raw.total_time
            location = None if last_hop else raw.header("location")
            if location is None:
                return self._with_history(self._response_type(raw, request, current_url), hops), elapsed
            redirects += 1
            if self._keeps_history:
                hops.append(self._response_type(raw, request, current_url))
            if redirects > self.max_redirects:
                error = self._too_many_redirects(first_url)
                return self._with_history(self._error_response_type(request, error), hops), elapsed
            next_url = urljoin(current_url, location)
            if urlsplit(next_url)[:2] != urlsplit(current_url)[:2]:
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
            if raw.status == 303 or (raw.status in (301, 302) and current_method == "POST"):
                current_method = "HEAD" if current_method == "HEAD" else "GET"
                current_body = None
                headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
            current_url = next_url
            raw = self._send_once(
                current_method, current_url, _NO_HEADERS, headers, None, current_body, timeout, verify, proxies, stream
            )
            request = FastRequest(current_url, current_method, (_NO_HEADERS, headers, None), current_body)
            if type(raw) is not RawResponse:
                exception = self._exception_for(raw, current_url, proxies is not None)
                failed = self._error_response_type(request, exception)
                return self._with_history(failed, hops), elapsed + raw.elapsed

    def _tls_for(self, url: str, verify: bool) -> bool | TlsConfig:
        """``ssl_context_factory``'s TLS for an https:// URL, the factory called at the first one
        (as Locust calls it, so its exceptions reach the request's caller); ``verify`` otherwise."""
        if url[:6].lower() != "https:":
            return verify
        if self._factory_tls is None:
            context = ssl_context_from_factory(self.ssl_context_factory, self.insecure)  # type: ignore[arg-type]
            self._factory_tls = tls_from_ssl_context(context)
        return self._factory_tls

    def _too_many_redirects(self, first_url: str) -> Exception:
        return TooManyRedirects(f"more than {self.max_redirects} redirects from {first_url}")

    @staticmethod
    def _with_history(response: FastResponse, hops: list[FastResponse]) -> FastResponse:
        if hops:
            response.history = hops  # type: ignore[attr-defined]
        return response

    def request(
        self,
        method: str,
        url: str,
        name: str | None = None,
        data: Any = None,
        catch_response: bool = False,
        stream: bool = False,
        headers: dict | None = None,
        auth: tuple[str | bytes, str | bytes] | None = None,
        json: Any = None,
        allow_redirects: bool = True,
        context: dict = {},  # noqa: B006 (Locust's signature; never mutated)
        **kwargs: Any,
    ) -> Any:
        """Sends a request and fires ``events.request`` once (after redirects); see Locust's docs."""
        timeout = self.network_timeout
        verify: Any = None
        proxies = self._proxies
        params = files = cookies = None
        if kwargs:
            unknown = kwargs.keys() - _EXTRA_KWARGS
            if unknown:
                raise TypeError(
                    f"request() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; ringload accepts "
                    f"Locust's arguments plus {', '.join(sorted(_EXTRA_KWARGS))}"
                )
            params, files, cookies = kwargs.get("params"), kwargs.get("files"), kwargs.get("cookies")
            timeout = kwargs.get("timeout") or timeout
            if isinstance(timeout, tuple):  # requests' (connect, read)
                timeout = timeout[1] or self.network_timeout
            verify = kwargs.get("verify")
            if "proxies" in kwargs:
                proxies = native_proxies(kwargs["proxies"])
        if self.request_name and not name:
            name = self.request_name
        built_url = f"{self.base_url}{url}" if url[:1] == "/" else self._build_url(url)
        url_auth = None
        if "@" in built_url:
            given_url = built_url
            built_url, url_auth = _split_userinfo(given_url)
            if built_url != given_url and url.lower().startswith(_absolute_url):
                url = built_url  # an absolute URL's userinfo must not become the stats name either
        if verify is None:
            # With a factory, left None: each hop's URL decides (its https:// hops use the factory).
            verify = not self.insecure if self.ssl_context_factory is None else None
        elif type(verify) is not TlsConfig:
            verify = bool(verify)
        start_time = time.time()
        if self.user:
            context = {**self.user.context(), **context}

        # Headers beyond the session's and the request's: credentials, then what the body needs.
        extra: Sequence | None = None
        if auth:
            extra = [("Authorization", _basic_auth(auth[0], auth[1]), _REPLACE)]
        elif url_auth:
            extra = [("Authorization", url_auth, _REPLACE)]
        elif self.auth_header:
            extra = [("Authorization", self.auth_header, _REPLACE)]
        body: bytes | None = None
        payload: str | None = None  # a json= body as text, which Locust's request.body shows
        request_url = built_url  # the event's url is the built URL without params=, as Locust reports it
        if data or params or files or cookies:
            body_headers = list(extra or ())
            if not data and json is not None:
                data = payload = _json.dumps(json)
                body_headers += self._json_headers
            request_url, body = self._prepare(built_url, body_headers, data, params, files, cookies)
            extra = body_headers
        elif json is not None:
            payload = _json.dumps(json)
            body = payload.encode()
            extra = self._json_headers if extra is None else [*extra, *self._json_headers]

        if stream:  # the body is handed on as received, so ask for it as it is
            extra = [*(extra or ()), ("Accept-Encoding", "identity", _IF_ABSENT)]
        defaults = self.default_headers
        try:
            raw = self._send_once(method, request_url, defaults, headers, extra, body, timeout, verify, proxies, stream)
        except MissingSchemeError as no_scheme:
            if not self._records_missing_scheme:
                raise
            raw = no_scheme.with_traceback(None)  # kept by the response: no frame cycle
        request = FastRequest(request_url, method, (defaults, headers, extra), body)
        # The engine measured the time: all hops, to the end of the last body (its head with stream).
        if type(raw) is not RawResponse:
            response: FastResponse
            if type(raw) is MissingSchemeError:
                # Nothing was sent: a failure that took no time, saying which URL was meant.
                response, elapsed = self._error_response_type(request, raw), 0.0
            else:
                # Until the failure, as Locust reports a refused or timed-out request's time.
                exception = self._exception_for(raw, request_url, proxies is not None)
                response = self._error_response_type(request, exception)
                elapsed = raw.elapsed
        elif allow_redirects and raw.status in REDIRECT_RESPONSE_CODES:
            response, elapsed = self._follow_redirects(raw, request, stream, timeout, verify, proxies)
        else:
            response = self._response_type(raw, request, request_url)
            elapsed = raw.head_time if stream else raw.total_time
        if payload is not None and self._request_body_as_given:
            sent = response.request
            if sent is not None and sent.body is body:  # not a redirect that dropped the body
                sent.body = payload
        # A streamed body is not waited for: its length is the one the headers give.
        content = response.content if not stream else None
        stats_name = name or url
        request_meta: dict[str, Any] = {
            "request_type": method,
            "name": stats_name,
            "context": context,
            "response": response,
            "exception": None,
            "start_time": start_time,
            "url": built_url,
            "response_length": len(content) if content else 0,
            "response_time": elapsed * 1000.0,
        }
        if stream:
            length = response.headers.get("content-length") if response.headers else None
            request_meta["response_length"] = int(length) if length and length.isdigit() else 0

        error = response.error
        if error is None:
            if response.status_code not in self._valid_codes:
                error = response.error = self._bad_status(response, built_url, stats_name)
        elif response.status_code == 0:
            error = self._reported_error(error)
        request_meta["exception"] = error

        if catch_response:
            return self._context_type(response, self.request_event, request_meta, catch_response)
        self.request_event.fire(**request_meta)
        if self._keeps_request_meta:
            # Kept without the response itself: a response -> dict -> response cycle would be
            # left to the cyclic collector, a cost on every request.
            del request_meta["response"]
            response._request_meta = request_meta  # type: ignore[attr-defined]
        return response

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Any:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", url, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", url, data=data, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", url, data=data, **kwargs)

    def iter_lines(self, url: str, method: str = "GET", **kwargs: Any) -> Generator[str, None, None]:
        """Streams the response and yields its lines as each one arrives. As Locust's, through
        ``self.request`` and the response's ``iter_content``, which a locustfile may wrap."""
        response = self.request(method, url, stream=True, **kwargs)
        response.raise_for_status()
        yield from _lines(response.iter_content(chunk_size=1024, decode_content=True))


class FastHttpUser(User, RestMixin["RestResponseContextManager"]):
    """Locust's FastHttpUser with ringload's Rust engine underneath; same attributes and defaults."""

    network_timeout: float = 60.0
    connection_timeout: float = 60.0
    max_redirects: int = 30
    max_retries: int = 0
    insecure: bool = True
    """TLS certificates are NOT verified by default (Locust's choice); set False to verify."""
    default_headers: dict | None = None
    concurrency: int = 10
    proxy_host: str | None = None
    proxy_port: int | None = None
    client_pool: Any = None
    ssl_context_factory: Callable | None = None
    abstract = True
    #: The class of ``self.client``; ``ringload.httpuser.HttpUser`` swaps in a requests-style one.
    session_class: type[FastHttpSession] = FastHttpSession

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if self.host is None:
            raise StopTest(
                "You must specify the base host. Either in the host attribute in the User class, "
                "or on the command line using the --host option."
            )
        self.client: FastHttpSession = self.session_class(
            base_url=self.host,
            request_event=self.environment.events.request,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            max_redirects=self.max_redirects,
            max_retries=self.max_retries,
            insecure=self.insecure,
            concurrency=self.concurrency,
            user=self,
            client_pool=self.client_pool,
            ssl_context_factory=self.ssl_context_factory,
            headers=self.default_headers,
            proxy_host=self.proxy_host,
            proxy_port=self.proxy_port,
        )
