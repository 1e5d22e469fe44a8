"""Cooperative waiting on the Rust engine under gevent.

A greenlet that sends a request never blocks the OS thread: it parks in the hub (as a
``gevent.hub.Waiter`` would, without one per request). The engine signals an eventfd when results
are ready; one io watcher on the hub drains every finished result at once and switches to each
waiting greenlet. A gevent server running in the same thread keeps serving meanwhile.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any

import gevent
from gevent._hub_local import get_hub_if_exists
from greenlet import GreenletExit, getcurrent

from ringload import _ringload

_READ = 1  # libev/libuv io watcher event mask for "readable"


class Dispatcher:
    """One per process and thread (gevent hubs are per thread)."""

    def __init__(self) -> None:
        # RINGLOAD_IO=auto|uring|epoll picks the engine's I/O driver (default auto).
        self.engine = _ringload.Engine(os.environ.get("RINGLOAD_IO", "auto"))
        #: Set in a forked child, where no engine thread stands behind this object; sessions that
        #: kept it ask ``dispatcher()`` for a new one.
        self.stale = False
        self.route = self.engine.route
        self._submit = self.engine.submit
        #: token -> the greenlet parked on it (the hub switches the result straight into it).
        self._waiting: dict[int, Any] = {}
        self._tokens = itertools.count(1)
        self._hub = gevent.get_hub()
        self._loop = self._hub.loop
        self._flush_scheduled = False
        self._watcher = self._loop.io(self.engine.fileno(), _READ)
        # Only keep the hub's loop alive while a greenlet is waiting on us.
        self._watcher.ref = False
        self._watcher.start(self._on_ready)

    def call(
        self, session: int, route: Any, method: str, target: str, headers: list, body: bytes | None, timeout: float
    ) -> tuple[Any, BaseException | None]:
        """Submits a request and waits cooperatively for its RawResponse or RawError.

        Returns ``(result, deferred_exit)``. Locust stops a user by killing its greenlet, which
        can land while a request is already on the wire: the server has it, so dropping it would
        lose it from the statistics. The request is allowed to finish (bounded by its timeout)
        and the ``GreenletExit`` comes back for the caller to raise after firing the event.
        """
        token = next(self._tokens)
        self._submit(token, session, route, method, target, headers, body, timeout)
        if not self._flush_scheduled:
            # Runs once the greenlets that are ready now have run and parked: the engine is
            # woken once for the whole batch of their requests.
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        waiting = self._waiting
        waiting[token] = getcurrent()
        if len(waiting) == 1:
            self._watcher.ref = True
        deferred_exit: BaseException | None = None
        switch_to_hub = self._hub.switch
        try:
            while True:
                try:
                    # What a gevent Waiter does, without an object per request: park in the
                    # hub until _on_ready switches the result back.
                    return switch_to_hub(), deferred_exit
                except GreenletExit as exit_request:
                    if token not in waiting:
                        raise
                    deferred_exit = exit_request
        finally:
            # A result that can no longer be delivered (another exception, e.g. gevent.Timeout)
            # is dropped when it arrives.
            if waiting.pop(token, None) is not None and not waiting:
                self._watcher.ref = False

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.engine.flush()

    def _on_ready(self) -> None:
        waiting = self._waiting
        for token, result in self.engine.drain():
            parked = waiting.pop(token, None)
            if parked is not None:
                try:
                    parked.switch(result)
                except BaseException:
                    self._hub.handle_error(parked, *sys.exc_info())
        if not waiting:
            self._watcher.ref = False


def _forget_dispatcher_after_fork() -> None:
    # A forked child has no engine thread: its first request makes a new dispatcher.
    hub = get_hub_if_exists()
    current = getattr(hub, "_ringload_dispatcher", None) if hub is not None else None
    if current is not None:
        current.stale = True
        hub._ringload_dispatcher = None  # type: ignore[attr-defined]


os.register_at_fork(after_in_child=_forget_dispatcher_after_fork)


def dispatcher() -> Dispatcher:
    """The dispatcher of the calling thread's gevent hub, created on first use (and again after a
    fork, whose child has no engine thread).

    It is kept on the hub rather than in ``threading.local``: gevent's monkey-patching (which
    Locust applies) makes ``threading.local`` greenlet-local, which would give every user its
    own engine thread.
    """
    hub = gevent.get_hub()
    current = getattr(hub, "_ringload_dispatcher", None)
    if current is None:
        current = Dispatcher()
        hub._ringload_dispatcher = current  # type: ignore[attr-defined]
    return current


_sessions = itertools.count(1)


def new_session_id() -> int:
    return next(_sessions)
