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

from collections.abc import Callable
from typing import Any

# Names locust.contrib.fasthttp also has, which this module had before the split: still here
# for locustfiles that import them from it.
from geventhttpclient._parser import HTTPParseError as HTTPParseError
from geventhttpclient.client import HTTPClientPool as HTTPClientPool
from geventhttpclient.response import HTTPConnectionClosed as HTTPConnectionClosed
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.contrib.fasthttp import insecure_ssl_context_factory as insecure_ssl_context_factory
from locust.exception import CatchResponseError as CatchResponseError
from locust.exception import LocustError as LocustError
from locust.exception import ResponseError as ResponseError
from locust.exception import StopTest
from locust.user import User
from locust.user.users import RestMixin

from ringload._client.errors import TooManyRedirects
from ringload._client.flavor import VALID_RESPONSE_CODES as VALID_RESPONSE_CODES
from ringload._client.pools import native_proxies as native_proxies
from ringload._client.responses import (
    ErrorResponse,
    FastRequest,
    FastResponse,
    ResponseContextManager,
    RestResponseContextManager,
)
from ringload._client.session import REDIRECT_RESPONSE_CODES as REDIRECT_RESPONSE_CODES
from ringload._client.session import FastHttpSession

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
