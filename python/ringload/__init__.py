"""ringload: Locust's FastHttpUser on a Rust io_uring engine.

``from ringload import FastHttpUser`` is the one-line change for an existing locustfile;
``python -m ringload.locust`` (or ``ringload-locust``) runs Locust itself with its FastHttpUser
replaced, so untouched locustfiles run on the engine.
"""

from ringload._ringload import __version__
from ringload.contrib.fasthttp import (
    ErrorResponse,
    FastHttpSession,
    FastHttpUser,
    FastResponse,
    ResponseContextManager,
    RestResponseContextManager,
)

__all__ = [
    "ErrorResponse",
    "FastHttpSession",
    "FastHttpUser",
    "FastResponse",
    "ResponseContextManager",
    "RestResponseContextManager",
    "__version__",
]
