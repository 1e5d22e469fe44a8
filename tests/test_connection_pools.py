"""Connection pools as Locust's FastHttpUser has them: ``concurrency`` bounds one user's
connections per host, a ``client_pool`` is shared by the users given it, and
``self.client.client.clientpool.close()`` makes the next requests open new connections. The
server counts connections by the client's port."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent.pywsgi import WSGIServer

fasthttp = pytest.importorskip("ringload.contrib.fasthttp")

from geventhttpclient.client import HTTPClientPool  # noqa: E402
from locust.event import Events  # noqa: E402

DELAY = 0.2


class Recorder:
    def __init__(self):
        self.ports: list[str] = []
        self.active = 0
        self.most_active = 0

    def __call__(self, environ, start_response):
        self.ports.append(environ["REMOTE_PORT"])
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if environ["PATH_INFO"] == "/delay":
                gevent.sleep(DELAY)
        finally:
            self.active -= 1
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]


@pytest.fixture
def server():
    recorder = Recorder()
    srv = WSGIServer(("127.0.0.1", 0), recorder, log=None)
    srv.start()
    recorder.url = f"http://127.0.0.1:{srv.server_port}"
    yield recorder
    srv.stop(timeout=1)


def session(base, **kwargs):
    events = Events()
    failures: list = []
    events.request.add_listener(lambda **kw: kw["exception"] and failures.append(kw["exception"]))
    created = fasthttp.FastHttpSession(base, request_event=events.request, user=None, **kwargs)
    created.failures = failures
    return created


def concurrently(sessions_and_counts, path="/delay"):
    started = time.perf_counter()
    greenlets = [gevent.spawn(s.get, path) for s, count in sessions_and_counts for _ in range(count)]
    gevent.joinall(greenlets, timeout=10, raise_error=True)
    return time.perf_counter() - started, [g.value.status_code for g in greenlets]


@pytest.mark.parametrize(("concurrency", "rounds"), [(10, 2), (20, 1)])
def test_concurrency_bounds_one_users_connections_per_host(server, concurrency, rounds):
    user = session(server.url, concurrency=concurrency)
    elapsed, statuses = concurrently([(user, 20)])
    assert statuses == [200] * 20
    assert len(set(server.ports)) == concurrency
    assert server.most_active == concurrency
    # 20 greenlets of one user, `concurrency` connections, 0.2 s each: `rounds` waves.
    assert DELAY * rounds - 0.02 <= elapsed < DELAY * rounds + 0.25, elapsed
    assert user.failures == []


def test_a_waiting_request_gives_up_at_its_timeout(server):
    user = session(server.url, concurrency=1)
    slow = gevent.spawn(user.get, "/delay")  # holds the one connection for 0.2 s
    gevent.sleep(0.01)
    started = time.perf_counter()
    waiting = user.get("/", timeout=0.1)
    # The wait counts toward the request's timeout, as in Locust, and says why it waited.
    assert waiting.status_code == 0
    assert 0.09 <= time.perf_counter() - started < 0.19
    assert "concurrency" in str(user.failures[0].original)
    assert slow.get(timeout=5).status_code == 200
    assert user.get("/").status_code == 200, "the connection is free again"


def test_a_shared_client_pool_is_one_set_of_connections(server):
    pool = HTTPClientPool(concurrency=5)
    first, second = session(server.url, client_pool=pool), session(server.url, client_pool=pool)
    elapsed, statuses = concurrently([(first, 5), (second, 5)])
    assert statuses == [200] * 10
    assert len(set(server.ports)) == 5, "both users' requests went over the pool's 5 connections"
    assert DELAY * 2 - 0.02 <= elapsed < DELAY * 2 + 0.25, elapsed
    # Users with their own pools do not share.
    server.ports.clear()
    concurrently([(session(server.url), 1), (session(server.url), 1)], path="/")
    assert len(set(server.ports)) == 2


def test_clientpool_close_forces_new_connections(server):
    user = session(server.url)
    user.get("/")
    user.get("/")
    assert len(set(server.ports)) == 1, "kept alive"
    user.client.clientpool.close()  # as Locust documents it
    user.get("/")
    assert len(set(server.ports)) == 2


def test_a_shared_pools_close_forces_new_connections_for_all_its_users(server):
    pool = HTTPClientPool(concurrency=1)
    first, second = session(server.url, client_pool=pool), session(server.url, client_pool=pool)
    first.get("/")
    second.get("/")
    assert len(set(server.ports)) == 1
    assert first.client.clientpool is pool
    pool.close()
    second.get("/")
    assert len(set(server.ports)) == 2


def test_a_client_pool_of_another_kind_is_refused():
    with pytest.raises(TypeError, match="HTTPClientPool"):
        fasthttp.FastHttpSession("http://127.0.0.1:1", request_event=Events().request, user=None, client_pool=object())
