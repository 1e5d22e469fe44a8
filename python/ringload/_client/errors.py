"""What an engine failure raises: as Locust's FastHttpSession (geventhttpclient) raises it, and as
requests raises it (for ``HttpUser``)."""

from __future__ import annotations

import ssl
from errno import ECONNREFUSED, ECONNRESET, ETIMEDOUT
from typing import TYPE_CHECKING

import requests
import urllib3
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.response import HTTPConnectionClosed
from requests.exceptions import ConnectTimeout, HTTPError, ProxyError, ReadTimeout, SSLError

from ringload._ringload import ErrorKind, RawError

if TYPE_CHECKING:
    from ringload._client.responses import FastResponse


class TooManyRedirects(ConnectionError):
    """More redirects than ``max_redirects``."""


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


# As requests raises them, for ringload.httpuser (HttpUser):


def _http_error(response: FastResponse, url: str) -> HTTPError:
    kind = "Client" if response.status_code < 500 else "Server"
    reason = response.reason  # type: ignore[attr-defined]
    return HTTPError(f"{response.status_code} {kind} Error: {reason} for url: {url}", response=response)


def _innermost(error: Exception) -> Exception:
    """The cause Locust's HttpSession reports for a requests ConnectionError."""
    while isinstance(error, requests.ConnectionError) and error.__context__ is not None:
        error = error.__context__  # type: ignore[assignment]
    return error


def _requests_exception_for(error: RawError, through_proxy: bool = False) -> Exception:
    """An engine error as requests raises it, with the socket-level error as its cause."""
    original = _exception_for(error, through_proxy)
    wrapped: Exception
    if through_proxy and error.kind == ErrorKind.CONNECT and error.errno is not None:
        wrapped = ProxyError(original)  # the proxy itself could not be reached, as requests says
    elif error.kind == ErrorKind.TIMEOUT:
        wrapped = ReadTimeout(original)
    elif error.kind == ErrorKind.CONNECT and isinstance(original, TimeoutError):
        wrapped = ConnectTimeout(original)
    elif error.kind == ErrorKind.TLS:
        # requests wraps urllib3's SSLError, which is what Locust's HttpSession reports.
        tls_error = urllib3.exceptions.SSLError(original)
        tls_error.__cause__ = tls_error.__context__ = original
        wrapped = SSLError(tls_error)
        wrapped.__cause__ = wrapped.__context__ = tls_error
        return wrapped
    else:
        wrapped = requests.ConnectionError(original)
    wrapped.__cause__ = wrapped.__context__ = original
    return wrapped


def _requests_body_error(error: RawError) -> Exception:
    """What reading a streamed body that broke off raises under requests."""
    original = _exception_for(error)
    if error.kind == ErrorKind.TIMEOUT:
        wrapped: Exception = requests.ConnectionError(original)
    else:
        wrapped = requests.exceptions.ChunkedEncodingError(original)
    wrapped.__cause__ = wrapped.__context__ = original
    return wrapped
