"""``FastHttpSession``: the Locust-compatible client on the engine (redirects, cookies, TLS
choice, events); ``ringload.httpuser.HttpSession`` subclasses it."""

from __future__ import annotations

import json as _json
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import Request as _CookieRequest

from geventhttpclient.client import HTTPClientPool
from geventhttpclient.useragent import RetriesExceeded
from greenlet import getcurrent
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.user import User

from ringload._client.bodies import (
    _APPEND,
    _IF_ABSENT,
    _NO_HEADERS,
    _REPLACE,
    _basic_auth,
    _encode_multipart,
    _split_userinfo,
)
from ringload._client.errors import TooManyRedirects, _exception_for
from ringload._client.flavor import FASTHTTP, Flavor
from ringload._client.pools import _bracketed, _SessionPool, _shared_session, _UserAgent, native_proxies
from ringload._client.responses import (
    FastRequest,
    FastResponse,
    _CookieHeaders,
)
from ringload._client.streaming import _lines
from ringload._dispatch import Dispatcher, dispatcher
from ringload._ringload import (
    MissingSchemeError,
    Proxies,
    RawError,
    RawResponse,
    Session,
    TlsConfig,
)
from ringload._tls import ssl_context_from_factory, tls_from_ssl_context

REDIRECT_RESPONSE_CODES = frozenset([301, 302, 303, 307, 308])
#: Headers never forwarded to another origin on a redirect.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
#: requests-style keyword arguments accepted by ``request()`` besides its named ones.
_EXTRA_KWARGS = frozenset(["params", "timeout", "verify", "cookies", "files", "proxies"])

_absolute_url = ("http://", "https://")


class FastHttpSession:
    """The ``client`` of a FastHttpUser: one cookie jar and one keep-alive pool per session."""

    auth_header: str | None = None
    #: What differs between the faces: Locust's FastHttpSession here, requests' in HttpSession.
    _flavor: Flavor = FASTHTTP

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
            self.base_url, userinfo_auth = _split_userinfo(base_url, self._flavor.userinfo_needs_both)
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
            jar = self._cookiejar = self._flavor.cookiejar_type()
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
        token = native.send(getcurrent(), method, url, defaults, headers, extra, body, timeout, verify, proxies, stream)
        raw = engine.wait(token)
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
                default_type = self._flavor.form_content_type
            elif isinstance(data, str):
                body = data.encode()
                default_type = self._flavor.text_content_type
            else:
                body = bytes(data)
                default_type = self._flavor.bytes_content_type
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
                return self._with_history(self._flavor.response_type(raw, request, current_url), hops), elapsed
            redirects += 1
            if self._flavor.keeps_history:
                hops.append(self._flavor.response_type(raw, request, current_url))
            if redirects > self.max_redirects:
                error = self._too_many_redirects(first_url)
                return self._with_history(self._flavor.error_response_type(request, error), hops), elapsed
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
                failed = self._flavor.error_response_type(request, exception)
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
        flavor = self._flavor
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
            built_url, url_auth = _split_userinfo(given_url, flavor.userinfo_needs_both)
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
                body_headers += flavor.json_headers
            request_url, body = self._prepare(built_url, body_headers, data, params, files, cookies)
            extra = body_headers
        elif json is not None:
            payload = _json.dumps(json)
            body = payload.encode()
            extra = flavor.json_headers if extra is None else [*extra, *flavor.json_headers]

        if stream:  # the body is handed on as received, so ask for it as it is
            extra = [*(extra or ()), ("Accept-Encoding", "identity", _IF_ABSENT)]
        defaults = self.default_headers
        try:
            raw = self._send_once(method, request_url, defaults, headers, extra, body, timeout, verify, proxies, stream)
        except MissingSchemeError as no_scheme:
            if not flavor.records_missing_scheme:
                raise
            raw = no_scheme.with_traceback(None)  # kept by the response: no frame cycle
        request = FastRequest(request_url, method, (defaults, headers, extra), body)
        # The engine measured the time: all hops, to the end of the last body (its head with stream).
        if type(raw) is not RawResponse:
            response: FastResponse
            if type(raw) is MissingSchemeError:
                # Nothing was sent: a failure that took no time, saying which URL was meant.
                response, elapsed = flavor.error_response_type(request, raw), 0.0
            else:
                # Until the failure, as Locust reports a refused or timed-out request's time.
                exception = self._exception_for(raw, request_url, proxies is not None)
                response = flavor.error_response_type(request, exception)
                elapsed = raw.elapsed
        elif allow_redirects and raw.status in REDIRECT_RESPONSE_CODES:
            response, elapsed = self._follow_redirects(raw, request, stream, timeout, verify, proxies)
        else:
            response = flavor.response_type(raw, request, request_url)
            elapsed = raw.head_time if stream else raw.total_time
        if payload is not None and flavor.request_body_as_given:
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
            if response.status_code not in flavor.valid_codes:
                error = response.error = self._bad_status(response, built_url, stats_name)
        elif response.status_code == 0:
            error = self._reported_error(error)
        request_meta["exception"] = error

        if catch_response:
            return flavor.context_type(response, self.request_event, request_meta, catch_response)
        self.request_event.fire(**request_meta)
        if flavor.keeps_request_meta:
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
