"""Cooperative waiting on the Rust engine under gevent.

A greenlet that sends a request never blocks the OS thread: it parks in the hub (as a
``gevent.hub.Waiter`` would, without one per request; the engine keeps who waits for which
request). The engine signals an eventfd when results are ready; one io watcher on the hub drains
every finished result at once and switches each into its waiting greenlet. A gevent server
running in the same thread keeps serving meanwhile.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gevent
from gevent._hub_local import get_hub_if_exists
from greenlet import getcurrent

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
        self._hub = gevent.get_hub()
        self._switch_to_hub = self._hub.switch
        self._loop = self._hub.loop
        self._flush_scheduled = False
        self._watcher = self._loop.io(self.engine.fileno(), _READ)
        # Only keep the hub's loop alive while a greenlet is waiting on us.
        self._watcher.ref = False
        self._watching = False
        self._watcher.start(self._on_ready)

    def session(self, connect_timeout: float) -> _ringload.Session:
        """A native session on this dispatcher's engine (its own keep-alive pools)."""
        return _ringload.Session(self.engine, connect_timeout=connect_timeout)

    def wait(self, token: Any) -> Any:
        """Waits cooperatively for the RawResponse or RawError of the request the calling
        greenlet just sent (``token``, from ``Session.send(getcurrent(), ...)``).

        Locust stops a user by killing its greenlet, which can land while a request is out: as
        with stock Locust (whose greenlet dies in its socket wait), the ``GreenletExit`` ends the
        wait at once, the request is not reported (its ``catch_response`` block never runs), and
        its result is dropped when it arrives.
        """
        if not self._flush_scheduled:
            # Runs once the greenlets that are ready now have run and parked: the engine is
            # woken once for the whole batch of their requests.
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        if not self._watching:
            self._watching = True
            self._watcher.ref = True
        try:
            # What a gevent Waiter does, without an object per request: park in the hub until
            # _on_ready switches the result back.
            return self._switch_to_hub()
        except BaseException:
            # A result that can no longer be delivered (a kill, gevent.Timeout) is dropped when
            # it arrives.
            self.engine.forget(token)
            raise

    def wait_body(self, body: _ringload.ResponseStream) -> None:
        """Waits cooperatively until a streamed body has more to take (or has ended)."""
        token = body.wait(getcurrent())
        if token is None:
            return  # something arrived meanwhile
        if not self._watching:
            self._watching = True
            self._watcher.ref = True
        try:
            self._switch_to_hub()
        except BaseException:
            body.forget(token)
            raise

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.engine.flush()

    def _on_ready(self) -> None:
        for parked, result in self.engine.drain():
            try:
                parked.switch(result)
            except BaseException:
                self._hub.handle_error(parked, *sys.exc_info())
        if self._watching and self.engine.idle:
            self._watching = False
            self._watcher.ref = False


def wait_body(body: _ringload.ResponseStream) -> None:
    """Waits cooperatively until a streamed body has more to take (or has ended). Only in the
    thread that sent the request: its engine wakes that thread's hub alone, so a wait anywhere
    else would never end; it raises RuntimeError at once instead."""
    hub = get_hub_if_exists()
    current = getattr(hub, "_ringload_dispatcher", None) if hub is not None else None
    if current is None or current.engine is not body.engine:
        raise RuntimeError(
            "a streamed response can only be read in the thread that sent its request (the engine "
            "that receives the body wakes that thread's gevent hub); read it there, or use stream=False"
        )
    current.wait_body(body)


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
