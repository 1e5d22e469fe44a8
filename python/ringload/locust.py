"""Run Locust with its FastHttpUser replaced by ringload's: ``python -m ringload.locust [ARGS]``.

Every Locust argument works as it does with ``locust`` (``--headless``, ``-u/-r/-t``, ``--csv``,
``--html``, ``--json``, the web UI, ``--processes``, ``--master``/``--worker``), because this is
Locust's own entry point; only the classes behind ``locust.FastHttpUser`` and
``locust.contrib.fasthttp`` change, before the locustfile is imported. ``--patch-httpuser`` also
replaces ``HttpUser`` (see ``ringload.httpuser``).
"""

from __future__ import annotations

import sys

#: The launcher's own option; everything else goes to Locust untouched.
PATCH_HTTPUSER = "--patch-httpuser"

_REPLACED_NAMES = (
    "FastHttpUser",
    "FastHttpSession",
    "FastResponse",
    "ErrorResponse",
    "ResponseContextManager",
    "RestResponseContextManager",
)


def install(patch_httpuser: bool = False) -> None:
    """Make ``locust`` hand out ringload's classes. Idempotent."""
    import locust
    import locust.contrib.fasthttp as locust_fasthttp

    from ringload.contrib import fasthttp

    for name in _REPLACED_NAMES:
        setattr(locust_fasthttp, name, getattr(fasthttp, name))
    locust.FastHttpUser = fasthttp.FastHttpUser  # type: ignore[misc,assignment]
    if patch_httpuser:
        import locust.user
        import locust.user.users

        from ringload.httpuser import HttpUser

        locust.HttpUser = HttpUser  # type: ignore[misc,assignment]
        locust.user.HttpUser = HttpUser  # type: ignore[misc,assignment]
        locust.user.users.HttpUser = HttpUser  # type: ignore[misc,assignment]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    patch_httpuser = PATCH_HTTPUSER in args
    args = [a for a in args if a != PATCH_HTTPUSER]
    install(patch_httpuser=patch_httpuser)
    from locust.main import main as locust_main

    sys.argv = ["locust", *args]
    locust_main()


if __name__ == "__main__":
    main()
