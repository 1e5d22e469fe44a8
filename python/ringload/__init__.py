"""ringload: a Rust io_uring HTTP/1.1 load engine for Python.

- ``ringload.run(url, duration=5, rate=2000)`` runs a load test in this process and returns a
  :class:`Result` (the CLI's ``--json`` data); ``ringload.run(scenario=[Request(...)], host=...)``
  mixes several requests by weight, with per-name statistics.
- ``from ringload import FastHttpUser`` is the one-line change for an existing locustfile;
  ``python -m ringload.locust`` (or ``ringload-locust``) runs Locust itself with its FastHttpUser
  replaced, so untouched locustfiles run on the engine.
- The ``pytest11`` plugin (``ringload.pytest_plugin``) gives tests the ``ringload_run`` and
  ``ringload_target`` fixtures.
"""

from ringload._load import Request, run, run_async
from ringload._ringload import (
    Endpoint,
    Latency,
    Outcomes,
    Progress,
    Result,
    ScheduleLag,
    StopHandle,
    TargetServer,
    TimelineEntry,
    __version__,
)

# Importing Locust monkey-patches the process for gevent, so the Locust face loads only when one
# of its names is used: `import ringload` (and the pytest plugin) stays free of side effects. The
# launcher (ringload.locust) replaces these names in locust.contrib.fasthttp.
_LOCUST_NAMES = frozenset(
    {
        "ErrorResponse",
        "FastHttpSession",
        "FastHttpUser",
        "FastResponse",
        "ResponseContextManager",
        "RestResponseContextManager",
    }
)


def __getattr__(name: str) -> object:
    if name == "NativeUser":
        from ringload._native.user import NativeUser

        return NativeUser
    if name in _LOCUST_NAMES:
        from ringload.contrib import fasthttp

        return getattr(fasthttp, name)
    raise AttributeError(f"module 'ringload' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LOCUST_NAMES, "NativeUser"])


__all__ = [
    "Endpoint",
    "ErrorResponse",
    "FastHttpSession",
    "FastHttpUser",
    "FastResponse",
    "Latency",
    "NativeUser",
    "Outcomes",
    "Progress",
    "Request",
    "ResponseContextManager",
    "RestResponseContextManager",
    "Result",
    "ScheduleLag",
    "StopHandle",
    "TargetServer",
    "TimelineEntry",
    "__version__",
    "run",
    "run_async",
]
