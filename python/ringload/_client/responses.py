"""What a request returns: ``FastRequest``, ``FastResponse``, ``ErrorResponse``, the
``catch_response`` context managers, and the cookie adapter for Set-Cookie."""

from __future__ import annotations

import codecs
import json as _json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed
from locust.exception import CatchResponseError, LocustError, ResponseError
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from ringload._client.errors import _exception_for
from ringload._client.streaming import _detect_encoding, _lines, _stream_decoder, _streamed
from ringload._dispatch import wait_body
from ringload._ringload import (
    RawError,
    merge_headers,
)


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
