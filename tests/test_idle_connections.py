"""Kept-alive connections the server ends while they are idle, on every face: the drop-in's
FastHttpSession, ``--patch-httpuser``'s HttpSession and ``ringload.run``.

Servers end idle connections all the time (a ``keepalive_timeout``, a connection limit, a load
balancer's idle timeout). Stock Locust's clients look at a pooled socket before reusing it, so
such a close costs them nothing, not even for a POST; ringload must do the same: no failure, no
request sent twice, and nothing written into a connection the server had already ended (the
target counts those as ``late_requests``).
"""

from __future__ import annotations

import random

import gevent
import pytest
import ringload
from locust.contrib.fasthttp import FastHttpSession as LocustFastHttpSession
from locust.event import Events
from ringload.contrib.fasthttp import FastHttpSession
from ringload.httpuser import HttpSession
from ringload.testing import TargetServer

SESSIONS = {
    "fasthttp": lambda base, events: FastHttpSession(base, events.request, None, insecure=True),
    "httpuser": lambda base, events: _verify_off(HttpSession(base, request_event=events.request, user=None)),
    # Stock Locust, the reference: the same counts must hold for it.
    "locust": lambda base, events: LocustFastHttpSession(base, events.request, None, insecure=True),
}


def _verify_off(session: HttpSession) -> HttpSession:
    session.verify = False
    return session


def _users(server: TargetServer, face: str, users: int, rounds: int, think: tuple[float, float]) -> list[dict]:
    """``users`` sessions (one connection each), each sending ``rounds`` JSON POSTs with a think
    time between them, as Locust users with ``between(*think)``; the events they fired."""
    events = Events()
    fired: list[dict] = []
    events.request.add_listener(lambda **kw: fired.append(kw))

    def user() -> None:
        session = SESSIONS[face](server.url, events)
        for _ in range(rounds):
            session.post("/echo", json={"product_id": 1042, "quantity": 1})
            gevent.sleep(random.uniform(*think))

    gevent.joinall([gevent.spawn(user) for _ in range(users)], raise_error=True)
    return fired


def _failures(fired: list[dict]) -> list:
    return [event["exception"] for event in fired if event["exception"] is not None]


@pytest.mark.parametrize("face", list(SESSIONS))
@pytest.mark.parametrize(
    ("how", "tls"),
    [("close", False), ("reset", False), ("408", False), ("close", True)],
    ids=["fin", "rst", "408", "tls-close-notify"],
)
def test_an_idle_timeout_costs_no_failure_and_no_resend(face: str, how: str, tls: bool) -> None:
    # Each user idles 0.3-0.4 s; the server ends a connection idle for 0.15 s.
    with TargetServer(tls=tls, idle_timeout=0.15, idle_close=how) as server:
        fired = _users(server, face, users=8, rounds=4, think=(0.3, 0.4))
        assert len(fired) == 32
        assert _failures(fired) == []
        assert server.requests() == 32, "each request reached the server exactly once"
        assert server.late_requests() == 0, "nothing was written into an ended connection"
        assert server.idle_closes() >= 24, "the server did end the idle connections"


@pytest.mark.parametrize("face", ["fasthttp", "httpuser"])
def test_a_connection_limit_costs_at_most_stock_locusts_failure_rate(face: str) -> None:
    # 500 users with Locust's usual think time, a server that keeps 450 connections: a user whose
    # connection was taken opens a new one, which ends the one idle longest, as nginx does at
    # worker_connections. Only a close that races the send can fail a POST: stock FastHttpUser
    # loses about 0.01-0.03% of requests so (benches/scripts/idle_close.py); at most 0.1% here.
    with TargetServer(max_connections=450) as server:
        fired = _users(server, face, users=500, rounds=5, think=(0.5, 1.5))
        assert len(fired) == 2500
        failures = _failures(fired)
        assert len(failures) * 1000 <= len(fired), failures[:3]
        assert server.idle_closes() > 50, "the limit did end connections"
        assert server.requests() == len(fired) - len(failures), "nothing sent twice, nothing lost"


def test_the_library_api_replaces_connections_the_server_ended_while_idle() -> None:
    with TargetServer(idle_timeout=0.2) as server:
        result = ringload.run(
            f"{server.url}/echo", method="POST", body=b'{"a":1}', rate=20, connections=10, duration=2.0
        )
        assert result.ok == 40, result
        assert result.failed_total == 0, result.failed
        assert result.retries == 0
        assert server.idle_closes() >= 20
        assert server.late_requests() == 0
