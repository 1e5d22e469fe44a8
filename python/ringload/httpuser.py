"""``HttpUser`` on the ringload engine, for ``ringload-locust --patch-httpuser``.

Locustfiles written for ``HttpUser`` pass requests-style arguments; these are honoured:
``params``, ``data``, ``json``, ``headers``, ``cookies``, ``files``, ``auth`` (a tuple),
``timeout`` (seconds, or ``(connect, read)``), ``allow_redirects``, ``stream`` and ``verify``.
``proxies``, ``cert`` and ``hooks`` raise ``TypeError`` naming the argument, since silently
ignoring them would change what is measured. Certificates are verified by default, as requests
does.
"""

from __future__ import annotations

from typing import Any

from ringload.contrib.fasthttp import FastHttpSession, FastHttpUser

_UNSUPPORTED = {
    "proxies": "HTTP proxies are not supported by ringload's engine",
    "cert": "client certificates are not supported by ringload's engine",
    "hooks": "requests hooks do not exist in ringload; use Locust's events.request instead",
}


class HttpSession(FastHttpSession):
    """Accepts requests-style keyword arguments; refuses the ones it cannot honour."""

    def request(self, method: str, url: str, name: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        for argument, reason in _UNSUPPORTED.items():
            if kwargs.get(argument) is not None:
                raise TypeError(f"HttpUser.client.request(): {argument}= is not supported: {reason}")
            kwargs.pop(argument, None)
        auth = kwargs.get("auth")
        if auth is not None and not isinstance(auth, tuple):
            raise TypeError("HttpUser.client.request(): auth= must be a (username, password) tuple")
        return super().request(method, url, name=name, **kwargs)


class HttpUser(FastHttpUser):
    """Drop-in for ``locust.HttpUser`` running on ringload."""

    insecure = False  # requests verifies certificates by default
    abstract = True
    session_class = HttpSession
