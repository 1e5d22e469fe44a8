"""Run Locust with its FastHttpUser replaced by ringload's: ``python -m ringload.locust [ARGS]``.

Every Locust argument works as it does with ``locust`` (``--headless``, ``-u/-r/-t``, ``--csv``,
``--html``, ``--json``, the web UI, ``--processes``, ``--master``/``--worker``), because this is
Locust's own entry point; only the classes behind ``locust.FastHttpUser`` and
``locust.contrib.fasthttp`` change, before the locustfile is imported. ``--patch-httpuser`` also
replaces ``HttpUser`` (see ``ringload.httpuser``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ringload import _LOCUST_NAMES  # the names replaced in locust.contrib.fasthttp

logger = logging.getLogger("ringload")

#: The launcher's own option; everything else goes to Locust untouched.
PATCH_HTTPUSER = "--patch-httpuser"


def install(patch_httpuser: bool = False) -> None:
    """Make ``locust`` hand out ringload's classes. Idempotent."""
    import locust
    import locust.contrib.fasthttp as locust_fasthttp

    from ringload.contrib import fasthttp

    for name in sorted(_LOCUST_NAMES):
        setattr(locust_fasthttp, name, getattr(fasthttp, name))
    locust.FastHttpUser = fasthttp.FastHttpUser  # type: ignore[misc,assignment]
    if patch_httpuser:
        import locust.user
        import locust.user.users

        from ringload.httpuser import HttpUser

        locust.HttpUser = HttpUser  # type: ignore[misc,assignment]
        locust.user.HttpUser = HttpUser  # type: ignore[misc,assignment]
        locust.user.users.HttpUser = HttpUser  # type: ignore[misc,assignment]
    if _say_what_runs_where not in locust.events.init._handlers:
        locust.events.init.add_listener(_say_what_runs_where)


def what_runs_where(user_classes: list[type]) -> list[str]:
    """One line naming the user classes on ringload's engine, and one naming the ``HttpUser``
    classes that still run on requests with how to switch them."""
    from ringload.contrib.fasthttp import FastHttpUser

    on_engine = [cls.__name__ for cls in user_classes if issubclass(cls, FastHttpUser)]
    on_requests = [cls.__name__ for cls in user_classes if _is_stock_httpuser(cls)]
    lines = []
    if on_engine:
        lines.append(f"ringload: on the ringload engine: {', '.join(on_engine)}")
    else:
        lines.append("ringload: no user class runs on the ringload engine")
    if on_requests:
        lines.append(
            f"ringload: HttpUser classes running on requests, not on ringload: {', '.join(on_requests)}; "
            f"add {PATCH_HTTPUSER} to run them on the engine"
        )
    return lines


def _is_stock_httpuser(cls: type) -> bool:
    # By name: after --patch-httpuser, locust.user.users.HttpUser is ringload's class.
    return any(base.__module__ == "locust.user.users" and base.__name__ == "HttpUser" for base in cls.__mro__)


def _say_what_runs_where(environment: Any, **_kwargs: Any) -> None:
    from locust.runners import WorkerRunner

    # Workers run the master's classes: the master (or the single process) says it once.
    if isinstance(environment.runner, WorkerRunner):
        return
    for line in what_runs_where(list(environment.user_classes)):
        logger.info(line)


def ringload_version_line() -> str:
    import os
    import platform

    from ringload import __version__

    where = os.path.dirname(os.path.abspath(__file__))
    return f"ringload {__version__} from {where} (Python {platform.python_version()})"


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    patch_httpuser = PATCH_HTTPUSER in args
    args = [a for a in args if a != PATCH_HTTPUSER]
    if "--version" in args or "-V" in args:
        # Locust prints its own version next and exits.
        print(ringload_version_line(), flush=True)
    install(patch_httpuser=patch_httpuser)
    from locust.main import main as locust_main

    sys.argv = ["locust", *args]
    locust_main()


if __name__ == "__main__":
    main()
