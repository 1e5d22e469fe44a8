"""Cooperative waiting on the Rust engine under gevent.

A greenlet that sends a request never blocks the OS thread: it parks on a ``gevent.hub.Waiter``
and switches to the hub. The engine signals an eventfd when results are ready; one io watcher on
the hub drains every finished result at once and switches to each waiting greenlet. A gevent
server running in the same thread keeps serving meanwhile.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import gevent
from gevent.hub import Waiter
from greenlet import GreenletExit

from ringload import _ringload

_READ = 1  # libev/libuv io watcher event mask for "readable"


class Dispatcher:
    """One per process and thread (gevent hubs are per thread)."""

    def __init__(self) -> None:
        # RINGLOAD_IO=auto|uring|epoll picks the engine's I/O driver (default auto).
        self.pid = os.getpid()
        self.engine = _ringload.Engine(os.environ.get("RINGLOAD_IO", "auto"))
        self._waiters: dict[int, Waiter] = {}
        self._tokens = itertools.count(1)
        self._loop = gevent.get_hub().loop
        self._flush_scheduled = False
        self._watcher = self._loop.io(self.engine.fileno(), _READ)
        # Only keep the hub's loop alive while a greenlet is waiting on us.
        self._watcher.ref = False
        self._watcher.start(self._on_ready)

    def call(self, **request: Any) -> tuple[Any, BaseException | None]:
        """Submits a request and waits cooperatively for its RawResponse or RawError.

        Returns ``(result, deferred_exit)``. Locust stops a user by killing its greenlet, which
        can land while a request is already on the wire: the server has it, so dropping it would
        lose it from the statistics. The request is allowed to finish (bounded by its timeout)
        and the ``GreenletExit`` comes back for the caller to raise after firing the event.
        """
        token = next(self._tokens)
        waiter = Waiter()
        self.engine.submit(token=token, **request)
        if not self._flush_scheduled:
            # Runs once the greenlets that are ready now have run and parked: the engine is
            # woken once for the whole batch of their requests.
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        self._waiters[token] = waiter
        if len(self._waiters) == 1:
            self._watcher.ref = True
        deferred_exit: BaseException | None = None
        try:
            while True:
                try:
                    return waiter.get(), deferred_exit
                except GreenletExit as exit_request:
                    if token not in self._waiters:
                        raise
                    deferred_exit = exit_request
                    waiter.clear()
        finally:
            # A result that can no longer be delivered (another exception, e.g. gevent.Timeout)
            # is dropped when it arrives.
            if self._waiters.pop(token, None) is not None and not self._waiters:
                self._watcher.ref = False

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.engine.flush()

    def _on_ready(self) -> None:
        waiters = self._waiters
        for token, result in self.engine.drain():
            waiter = waiters.pop(token, None)
            if waiter is not None:
                waiter.switch(result)
        if not waiters:
            self._watcher.ref = False


def dispatcher() -> Dispatcher:
    """The dispatcher of the calling thread's gevent hub, created on first use (and again after a
    fork, whose child has no engine thread).

    It is kept on the hub rather than in ``threading.local``: gevent's monkey-patching (which
    Locust applies) makes ``threading.local`` greenlet-local, which would give every user its
    own engine thread.
    """
    hub = gevent.get_hub()
    current = getattr(hub, "_ringload_dispatcher", None)
    if current is None or current.pid != os.getpid():
        current = Dispatcher()
        hub._ringload_dispatcher = current  # type: ignore[attr-defined]
    return current


_sessions = itertools.count(1)


def new_session_id() -> int:
    return next(_sessions)
