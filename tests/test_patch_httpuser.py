"""``ringload-locust --patch-httpuser``: HttpUser locustfiles run on the engine."""

from __future__ import annotations

import pytest
from apiserver import ApiServer
from conftest import LOCUSTFILES
from locust_runner import require_mode, run_locust

# Imported at collection, before any test starts a server thread: importing Locust (which
# monkey-patches with gevent) while another OS thread runs can deadlock on the import lock.
httpuser = pytest.importorskip("ringload.httpuser")


def test_httpuser_locustfile_runs_on_ringload(api_server: ApiServer, tmp_path) -> None:
    require_mode("launcher")
    users = 4
    result = run_locust(
        LOCUSTFILES / "httpuser_api.py",
        api_server.url,
        mode="launcher",
        users=users,
        spawn_rate=100,
        run_time="3s",
        extra_args=("--patch-httpuser",),
        workdir=tmp_path,
    )
    assert result.requests("GET", "engine:ringload") == users, result.describe()
    assert result.total_failures() == 0, result.describe()
    counts = api_server.counts()
    # Named by path and query, as Locust's HttpSession names requests made with params=. The
    # server may have served one request per user more: a user killed at the stop while its
    # request was out (Locust's own semantics, see test_locust_runs).
    products, me = result.requests("GET", "/v1/products?page=2"), result.requests("GET", "/v1/me")
    assert 0 < products <= counts[("GET", "/v1/products")]
    assert 0 < me <= counts[("GET", "/v1/me")]
    assert counts[("GET", "/v1/products")] + counts[("GET", "/v1/me")] - products - me <= users, result.describe()
    assert result.requests("POST", "/v1/login") == counts[("POST", "/v1/login")] == users
    assert "ringload: on the ringload engine: ApiClient" in result.stderr, result.describe()
    assert "running on requests" not in result.stderr, result.describe()


@pytest.mark.parametrize("mode", ["stock", "launcher"])
def test_httpuser_stopped_mid_request_reports_nothing_as_in_stock(api_server: ApiServer, tmp_path, mode: str) -> None:
    # -t kills every user in its 0.2 s request (no --stop-timeout); the locustfile accepts the
    # 429, so neither stock HttpUser nor the patched one may report a failure.
    require_mode(mode)
    result = run_locust(
        LOCUSTFILES / "httpuser_stopped_mid_request.py",
        api_server.url,
        mode=mode,
        users=20,
        spawn_rate=100,
        run_time="2s",
        extra_args=("--stop-timeout", "0", *(("--patch-httpuser",) if mode == "launcher" else ())),
        workdir=tmp_path,
    )
    assert result.returncode == 0, result.describe()
    assert result.total_failures() == 0, result.describe()
    assert result.requests("GET", "/v1/slow-limited") > 0, result.describe()


def test_the_launcher_says_which_users_still_run_on_requests(api_server: ApiServer, tmp_path) -> None:
    require_mode("launcher")
    result = run_locust(
        LOCUSTFILES / "httpuser_api.py",
        api_server.url,
        mode="launcher",
        users=1,
        spawn_rate=100,
        run_time="1s",
        workdir=tmp_path,
    )
    assert (
        "ringload: HttpUser classes running on requests, not on ringload: ApiClient; "
        "add --patch-httpuser to run them on the engine"
    ) in result.stderr, result.describe()
    assert "ringload: no user class runs on the ringload engine" in result.stderr, result.describe()


def test_what_runs_where_names_each_kind_of_user_class() -> None:
    from locust import HttpUser as StockHttpUser
    from locust import User
    from ringload.contrib.fasthttp import FastHttpUser
    from ringload.locust import what_runs_where

    class Fast(FastHttpUser):
        host = "http://127.0.0.1:9"

    class Patched(httpuser.HttpUser):
        host = "http://127.0.0.1:9"

    class Stock(StockHttpUser):
        host = "http://127.0.0.1:9"

    class Plain(User):
        pass

    assert what_runs_where([Fast, Patched, Stock, Plain]) == [
        "ringload: on the ringload engine: Fast, Patched",
        "ringload: HttpUser classes running on requests, not on ringload: Stock; "
        "add --patch-httpuser to run them on the engine",
    ]
    assert what_runs_where([Plain]) == ["ringload: no user class runs on the ringload engine"]


def test_unsupported_requests_arguments_are_refused() -> None:
    session = httpuser.HttpSession("http://127.0.0.1:9", request_event=None, user=None)
    with pytest.raises(TypeError, match="hooks= is not supported"):
        session.get("/", hooks={"response": []})
