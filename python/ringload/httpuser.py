"""``HttpUser`` on the ringload engine, for ``ringload-locust --patch-httpuser``.

The session behaves as requests' ``Session`` does for what locustfiles use: ``headers``,
``cookies`` (a ``RequestsCookieJar``), ``auth``, ``params`` and ``verify`` apply to every request,
and each request takes ``params``, ``data``, ``json``, ``headers``, ``cookies``, ``files``,
``auth`` (a tuple, or any ``requests.auth.AuthBase`` such as ``AWS4Auth``, applied to exactly the
request that is sent), ``timeout`` (seconds, or ``(connect, read)``), ``allow_redirects``,
``stream``, ``verify`` (a bool or a CA bundle path) and ``cert`` (``"both.pem"`` or
``(cert, key)``, for servers that ask for a client certificate). Responses carry ``reason``,
``elapsed`` and ``cookies``, and
``raise_for_status()`` raises ``requests.HTTPError``; engine errors are requests' exceptions.
Failures are reported as Locust's ``HttpSession`` reports them (``HTTPError`` for 4xx and 5xx,
stats named by the request's path and query).

``proxies`` takes HTTP proxies (CONNECT for https://); environment proxy variables are not
read. ``hooks`` raises ``TypeError``, since silently ignoring it would change what is measured.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import Request as _CookieRequest

import locust  # noqa: F401 (first: it monkey-patches with gevent before requests loads ssl)
import requests
from requests.cookies import RequestsCookieJar
from requests.exceptions import HTTPError

from ringload._client.bodies import _IF_ABSENT
from ringload._client.errors import _http_error, _innermost, _requests_body_error, _requests_exception_for
from ringload._client.flavor import FASTHTTP
from ringload._client.responses import ErrorResponse, FastResponse, ResponseContextManager, _CookieHeaders
from ringload._client.session import FastHttpSession
from ringload._ringload import RawError
from ringload._tls import tls_for_requests
from ringload.contrib.fasthttp import FastHttpUser

_UNSUPPORTED = {
    "hooks": "requests hooks do not exist in ringload; use Locust's events.request instead",
}


class HttpResponse(FastResponse):
    """A response with the ``requests.Response`` members locustfiles use."""

    @property
    def reason(self) -> str:
        """The reason phrase as the server sent it; ``None`` when no response arrived."""
        return self._raw.reason if self._raw is not None else None  # type: ignore[return-value]

    @property
    def elapsed(self) -> timedelta:
        """From sending the request to its response head, as requests measures it."""
        return timedelta(seconds=self._raw.head_time if self._raw is not None else 0.0)

    @property
    def cookies(self) -> RequestsCookieJar:
        """The cookies this response set."""
        jar = RequestsCookieJar()
        if self._raw is not None and self._raw.sets_cookie:
            jar.extract_cookies(_CookieHeaders(self._raw), _CookieRequest(self.url))  # type: ignore[arg-type]
        return jar

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise _http_error(self, self.url)
        if self.error is not None:
            raise self.error

    @property
    def request_meta(self) -> dict:
        """What ``events.request`` was (or, under ``catch_response``, will be) fired with."""
        meta = self.__dict__.get("_request_meta")
        if meta is None:  # a redirect hop, or the response inside a catch_response block
            raise AttributeError("this response was not reported on its own: it has no request_meta")
        return meta if "response" in meta else {**meta, "response": self}

    @request_meta.setter
    def request_meta(self, value: dict) -> None:
        self.__dict__["_request_meta"] = value

    @property
    def raw(self) -> HttpResponse:
        """The body as a file-like object, as urllib3's: ``r.raw.read(n)``."""
        return self

    def iter_content(  # type: ignore[override]
        self, chunk_size: int | None = 1, decode_unicode: bool = False
    ) -> Iterator[bytes | str]:
        """requests': the body in chunks of up to ``chunk_size`` bytes as they arrive."""
        if decode_unicode:
            decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")(errors="replace")
            for chunk in self._chunks(chunk_size):
                if text := decoder.decode(chunk):
                    yield text
            if tail := decoder.decode(b"", final=True):
                yield tail
            return
        yield from self._chunks(chunk_size)

    def iter_lines(  # type: ignore[override]
        self, chunk_size: int | None = 512, decode_unicode: bool = False, delimiter: bytes | str | None = None
    ) -> Iterator[bytes | str]:
        """requests': the body's lines as each one completes."""
        pending: Any = None
        chunk: Any
        for chunk in self.iter_content(chunk_size=chunk_size, decode_unicode=decode_unicode):
            if pending is not None:
                chunk = pending + chunk
            lines = chunk.split(delimiter) if delimiter else chunk.splitlines()
            pending = lines.pop() if lines and lines[-1] and chunk and lines[-1][-1] == chunk[-1] else None
            yield from lines
        if pending is not None:
            yield pending

    def _body_error(self, error: RawError) -> Exception:
        return _requests_body_error(error)


class HttpErrorResponse(ErrorResponse, HttpResponse):
    """No response arrived: status 0, and ``error`` is a ``requests`` exception."""


class HttpResponseContextManager(ResponseContextManager, HttpResponse):
    """``catch_response=True`` in HttpUser mode."""

    def _reported_error(self, error: Exception) -> Exception:
        # As Locust's HttpSession: the stats name in place of the URL, so that failures of one
        # name group together, and the socket-level cause of a connection error.
        if isinstance(error, HTTPError) and error.response is self:
            return _http_error(self, self.request_meta["name"])
        return _innermost(error)


#: requests' Session, where it differs from Locust's FastHttpSession.
REQUESTS = dataclasses.replace(
    FASTHTTP,
    response_type=HttpResponse,
    error_response_type=HttpErrorResponse,
    context_type=HttpResponseContextManager,
    valid_codes=frozenset(range(100, 400)),  # requests' raise_for_status fails 4xx and 5xx only
    # requests labels a form, sends text and bytes without a type, and json= sets only Content-Type.
    form_content_type="application/x-www-form-urlencoded",
    text_content_type=None,
    bytes_content_type=None,
    json_headers=(("Content-Type", "application/json", _IF_ABSENT),),
    request_body_as_given=False,
    keeps_request_meta=True,
    cookiejar_type=RequestsCookieJar,
    records_missing_scheme=False,  # requests raises MissingSchema or InvalidSchema at the call
    userinfo_needs_both=False,  # requests: a user name or a password (``http://:token@host``)
)


class HttpSession(FastHttpSession):
    """requests' ``Session`` surface on the engine; refuses the arguments it cannot honour."""

    _flavor = REQUESTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # requests' Session sends these (User-Agent, Accept, ...) unless the user replaces them.
        self.default_headers = {**requests.utils.default_headers(), **self.default_headers}
        #: Session-wide auth: a ``(user, password)`` tuple or a ``requests.auth.AuthBase``.
        self.auth: Any = None
        #: Query parameters added to every request.
        self.params: dict = {}
        #: requests' ``verify``: a bool, or a CA bundle (file or directory) that replaces the default roots.
        self.verify: Any = not self.insecure
        #: requests' ``cert``: ``"both.pem"`` or ``(cert, key)``, presented to servers that ask (mTLS).
        self.cert: Any = None
        #: requests' ``proxies`` (``{"http": ..., "https": ...}``, http:// proxy URLs). Unlike
        #: requests, HTTP_PROXY and the like are not read: a proxy is used only when given.
        self.proxies: dict = {}

    @property
    def headers(self) -> dict:
        """Headers sent with every request (``self.client.headers.update(...)`` in ``on_start``)."""
        return self.default_headers

    @headers.setter
    def headers(self, value: dict) -> None:
        self.default_headers = dict(value)

    @property
    def cookies(self) -> RequestsCookieJar:
        return self.cookiejar  # type: ignore[return-value]

    @cookies.setter
    def cookies(self, value: RequestsCookieJar) -> None:
        self.cookiejar = value

    @staticmethod
    def _exception_for(error: RawError, url: str, through_proxy: bool = False) -> Exception:
        return _requests_exception_for(error, through_proxy)

    @staticmethod
    def _bad_status(response: FastResponse, url: str, name: str) -> Exception:
        # Locust's HttpSession names the failure by the stats name, so failures group by it.
        return _http_error(response, name)

    @staticmethod
    def _reported_error(error: Exception) -> Exception:
        return _innermost(error)

    def request(self, method: str, url: str, name: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        for argument, reason in _UNSUPPORTED.items():
            if kwargs.get(argument) is not None:
                raise TypeError(f"HttpUser.client.request(): {argument}= is not supported: {reason}")
            kwargs.pop(argument, None)
        proxies = kwargs.pop("proxies", None)
        if proxies or self.proxies:
            # requests' merge: the request's entries over the session's.
            kwargs["proxies"] = {**self.proxies, **(proxies or {})}
        verify = kwargs.get("verify")
        cert = kwargs.pop("cert", None) or self.cert
        kwargs["verify"] = tls_for_requests(self.verify if verify is None else verify, cert)
        auth = kwargs.pop("auth", None) or self.auth
        if auth is not None and not isinstance(auth, tuple):
            return self._request_with_auth_object(method, url, name, auth, kwargs)
        params = {**self.params, **kwargs.pop("params")} if kwargs.get("params") else self.params
        if params:
            # Into the URL here, so that events report it with its query as Locust's HttpSession does.
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, doseq=True)}"
        if not url.isascii() or not (self.base_url or "").isascii():
            # requests IDNA-encodes such a host and percent-encodes such a path, and raises
            # InvalidURL at the call for what it cannot encode ("http://\x94"): send what it sends.
            prepared = requests.PreparedRequest()
            prepared.prepare_url(self._build_url(url), None)
            url = prepared.url  # type: ignore[assignment]
        try:
            if not name and not self.request_name:
                name = self._path_url(url)
            return super().request(method, url, name=name, auth=auth, **kwargs)
        except ValueError as error:
            raise self._as_requests_error(error, url) from error

    def _as_requests_error(self, error: ValueError, url: str) -> ValueError:
        """A URL the engine refused, as requests refuses it at the call (``InvalidURL``,
        ``MissingSchema``, ``InvalidSchema``: ValueErrors too); other ValueErrors (a CR in a
        header) unchanged."""
        full_url = self._build_url(url)
        try:
            requests.PreparedRequest().prepare_url(full_url, None)
        except requests.RequestException as refused:
            if isinstance(refused, ValueError):
                return refused
        if not full_url[:8].lower().startswith(("http://", "https://")):
            # requests finds no transport adapter for any other scheme.
            return requests.exceptions.InvalidSchema(f"No connection adapters were found for {full_url!r}")
        return error

    def _path_url(self, url: str) -> str:
        """The stats name Locust's HttpSession uses: the path and query that were requested."""
        parts = urlsplit(self._build_url(url))
        return f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"

    def _too_many_redirects(self, first_url: str) -> Exception:
        return requests.TooManyRedirects(f"Exceeded {self.max_redirects} redirects.")

    def head(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("allow_redirects", False)  # as requests' Session.head
        return self.request("HEAD", url, **kwargs)

    def _request_with_auth_object(self, method: str, url: str, name: str | None, auth: Any, kwargs: dict) -> Any:
        """``auth`` is a requests auth object (a signer such as AWS4Auth): requests prepares the
        request, the signer sees its final method, URL, headers and body, and that is what is sent."""
        headers = {**self.default_headers, **(kwargs.pop("headers", None) or {})}
        params = {**self.params, **(kwargs.pop("params", None) or {})}
        prepared = requests.Request(
            method,
            self._build_url(url),
            headers=headers,
            params=params,
            data=kwargs.pop("data", None),
            json=kwargs.pop("json", None),
            files=kwargs.pop("files", None),
            auth=auth,
        ).prepare()
        if not name and not self.request_name:
            name = self._path_url(prepared.url or url)
        return super().request(
            prepared.method or method,
            prepared.url or url,
            name=name,
            data=prepared.body,
            headers=dict(prepared.headers),
            **kwargs,
        )


class HttpUser(FastHttpUser):
    """Drop-in for ``locust.HttpUser`` running on ringload."""

    insecure = False  # requests verifies certificates by default
    abstract = True
    session_class = HttpSession
