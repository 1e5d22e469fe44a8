"""Connections shared or owned: proxies, ``client_pool`` sharing, and what Locust's
``self.client.client.clientpool`` exposes."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import gevent.ssl
from geventhttpclient.client import HTTPClientPool
from locust.contrib.fasthttp import insecure_ssl_context_factory

from ringload._dispatch import Dispatcher
from ringload._ringload import (
    Proxies,
    Session,
)

if TYPE_CHECKING:
    from ringload._client.session import FastHttpSession


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
