"""Servers for tests, running in-process on 127.0.0.1 with a free port.

- :class:`TargetServer`: the built-in target (``ringload serve``) with exact server-side counts.
- :class:`HostileServer`: plays canned byte scripts (send, trickle, sleep, close, reset,
  half-close, hold) to test a client against a misbehaving server.
"""

from ringload._ringload import HostileServer, TargetServer

__all__ = ["HostileServer", "TargetServer"]
