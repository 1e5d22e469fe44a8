"""What an engine failure raises, as Locust's FastHttpSession (geventhttpclient) raises it."""

from __future__ import annotations

import ssl
from errno import ECONNREFUSED, ECONNRESET, ETIMEDOUT

from geventhttpclient._parser import HTTPParseError
from geventhttpclient.response import HTTPConnectionClosed

from ringload._ringload import (
    ErrorKind,
    RawError,
)


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
