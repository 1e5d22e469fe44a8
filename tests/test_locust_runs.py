"""Real Locust runs (headless subprocesses) against the in-process API server.

Each test runs in every mode (stock Locust, ringload's launcher, the one-line import change) and
compares what Locust reported per (method, name) with what the server counted per route.

Why the counts (nearly) match: Locust stops at ``-t`` with ``--stop-timeout 5``, so every user
that is running a task finishes the request (and task) it is in; the stats are Locust's final
``--json`` document, printed after all users stopped; FastHttpUser does not retry
(``max_retries = 0``) and the server keeps connections open, so one Locust request is exactly one
request on the wire (a followed redirect is one Locust request and one server request per hop).
What is left is Locust's own race: a user that was waiting when the stop came is killed, and if
it woke first and sent its next request, that request reaches the server but not the statistics
(stock Locust's greenlet dies in its socket wait; ringload does the same, see
``test_users_stopped_mid_request_report_nothing_as_in_stock``). So the server may count up to one
request per user more than Locust, never fewer.
"""

from __future__ import annotations

from apiserver import ApiServer
from locust_runner import LocustResult

RUN_TIME = "3s"


def assert_counts_match(result: LocustResult, server: ApiServer, names: dict[tuple[str, str], str], users: int) -> None:
    """Locust's per-name request counts equal the server's per-route counts, for every name, but
    for at most one request per user that a user killed at the stop had out (module docstring).

    ``names`` maps each Locust (method, name) to the server's route name; nothing else may have
    been requested (no stray routes on the server, no extra names in Locust).
    """
    counts = server.counts()
    locust_names = set(result.stats)
    assert locust_names == set(names), f"Locust names {sorted(locust_names)} != {sorted(names)}" + result.describe()
    expected_routes = {(method, route) for (method, _), route in names.items()}
    assert set(counts) == expected_routes, f"server routes {sorted(counts)}" + result.describe()
    unreported = 0
    for (method, name), route in names.items():
        reported, served = result.requests(method, name), counts[(method, route)]
        assert reported <= served, f"{method} {name}: Locust {reported} > server {served}" + result.describe()
        unreported += served - reported
        assert reported > 0, f"{method} {name} never ran" + result.describe()
    assert unreported <= users, f"{unreported} requests served but not reported, {users} users" + result.describe()


def assert_clean(result: LocustResult, server: ApiServer) -> None:
    assert result.returncode == 0, "locust exited non-zero" + result.describe()
    assert result.total_failures() == 0, "failures reported" + result.describe()
    assert result.worker_leftovers == [], "a worker kept stats it never reported" + result.describe()
    assert server.errors() == [], server.errors()


def only_statuses(server: ApiServer, allowed: set[int]) -> dict[tuple[str, str, int], int]:
    return {key: n for key, n in server.statuses().items() if key[2] not in allowed}


# --- personas -----------------------------------------------------------------------------------

PERSONA_NAMES = {
    ("GET", "/v1/products/{id}"): "/v1/products/{id}",
    ("GET", "/v1/products"): "/v1/products",
    ("POST", "/v1/products"): "/v1/products",
}


def check_personas(result: LocustResult, server: ApiServer, users: int) -> None:
    assert_clean(result, server)
    assert_counts_match(result, server, PERSONA_NAMES, users)
    # Every request carried the API key and the writer's JSON was accepted.
    assert only_statuses(server, {200, 201}) == {}, server.statuses()
    # Locust's dispatcher splits users by weight exactly: 3:1 of 8 is 6 readers and 2 writers.
    assert result.users_spawned() == {"ReaderUser": users * 3 // 4, "WriterUser": users // 4}, result.describe()
    # The request ratio follows the user ratio only roughly: every user loops with no wait, so
    # each user's rate is whatever the scheduler gives it (readers and writers cost about the
    # same per request). Measured ~3.0; a factor of 2 either way still catches a persona that
    # did not run or a weight that was ignored (1:1 or 1:3).
    reads = result.requests("GET", "/v1/products/{id}") + result.requests("GET", "/v1/products")
    writes = result.requests("POST", "/v1/products")
    assert 1.5 <= reads / writes <= 6.0, f"reader:writer requests {reads}:{writes}" + result.describe()
    # Readers pick view_product 3:1 over list_products (@task(3) / @task(1)); with thousands
    # of requests per run, 2..4.5 is many standard deviations wide.
    views, lists = result.requests("GET", "/v1/products/{id}"), result.requests("GET", "/v1/products")
    assert 2.0 <= views / lists <= 4.5, f"view:list {views}:{lists}" + result.describe()


def test_personas(locust, api_server: ApiServer) -> None:
    result = locust("personas.py", users=8, spawn_rate=100, run_time=RUN_TIME)
    check_personas(result, api_server, users=8)


def test_personas_processes(locust, api_server: ApiServer) -> None:
    """Locust's own multi-process mode: a master and 2 forked workers in one command."""
    result = locust("personas.py", users=8, spawn_rate=100, run_time=RUN_TIME, extra_args=("--processes", "2"))
    check_personas(result, api_server, users=8)


def test_personas_master_and_workers(locust_distributed, api_server: ApiServer) -> None:
    """--master and 2 --worker processes on a loopback port; the master's stats are complete."""
    result = locust_distributed("personas.py", users=8, spawn_rate=100, workers=2, run_time=RUN_TIME)
    check_personas(result, api_server, users=8)


# --- login --------------------------------------------------------------------------------------


def test_login_then_bearer(locust, api_server: ApiServer) -> None:
    users = 5
    result = locust("login.py", users=users, spawn_rate=100, run_time=RUN_TIME)
    assert_clean(result, api_server)
    names = {("POST", "/v1/login"): "/v1/login", ("GET", "/v1/me"): "/v1/me"}
    assert_counts_match(result, api_server, names, users)
    # on_start runs exactly once per user, and a user stopped during on_start still finishes it.
    assert result.requests("POST", "/v1/login") == users, result.describe()
    # Every /v1/me carried its user's bearer token: the server answered 200 to all of them.
    statuses = api_server.statuses()
    assert statuses.get(("POST", "/v1/login", 200)) == users, statuses
    assert statuses.get(("GET", "/v1/me", 200)) == api_server.counts()[("GET", "/v1/me")], statuses
    assert only_statuses(api_server, {200}) == {}, statuses


# --- checkout (SequentialTaskSet) ---------------------------------------------------------------

CHECKOUT_STEPS = [
    ("GET", "/v1/products/{id}"),
    ("GET", "/v1/inventory/{id}"),
    ("GET", "/v1/pricing/{id}"),
    ("POST", "/v1/cart"),
    ("POST", "/v1/orders"),
]


def test_checkout_flow(locust, api_server: ApiServer) -> None:
    users = 6
    result = locust("checkout.py", users=users, spawn_rate=100, run_time=RUN_TIME)
    assert_clean(result, api_server)
    names = {step: step[1] for step in CHECKOUT_STEPS} | {("POST", "/v1/login"): "/v1/login"}
    assert_counts_match(result, api_server, names, users)
    assert result.requests("POST", "/v1/login") == users, result.describe()
    assert only_statuses(api_server, {200, 201}) == {}, api_server.statuses()
    # A graceful stop ends a user between two steps of its SequentialTaskSet (the task loop
    # checks for "stopping" before each task), so each user has done every step k times or
    # one step 1..j one time more. Summed over users: the step counts never increase along the
    # flow, and the first step leads the last by at most one per user.
    steps = [result.requests(*step) for step in CHECKOUT_STEPS]
    assert steps == sorted(steps, reverse=True), f"steps {steps}" + result.describe()
    assert steps[0] - steps[-1] <= users, f"steps {steps}" + result.describe()


# --- rate limit with catch_response -------------------------------------------------------------


def test_rate_limited_429_accepted(locust, api_server: ApiServer) -> None:
    result = locust("ratelimited.py", users=4, spawn_rate=100, run_time=RUN_TIME)
    assert_clean(result, api_server)
    assert_counts_match(result, api_server, {("GET", "/v1/limited"): "/v1/limited"}, users=4)
    n = api_server.counts()[("GET", "/v1/limited")]
    statuses = api_server.statuses()
    # The server's limiter is a counter: exactly every 3rd request got a 429.
    assert statuses.get(("GET", "/v1/limited", 429)) == n // 3 > 0, statuses
    assert statuses.get(("GET", "/v1/limited", 200)) == n - n // 3, statuses
    # ...and resp.success() turned every one of them into a success in Locust.
    assert result.failures("GET", "/v1/limited") == 0, result.describe()


# --- stopping users mid-request ------------------------------------------------------------------


def test_users_stopped_mid_request_report_nothing_as_in_stock(locust, api_server: ApiServer) -> None:
    # Without --stop-timeout (Locust's default 0), -t kills every user in its 0.2 s request. Stock
    # Locust's greenlet dies in its socket wait and reports nothing for that request; the
    # locustfile accepts every 429, so the run has no failure and exits 0, in every mode.
    result = locust(
        "stopped_mid_request.py", users=20, spawn_rate=100, run_time="2s", extra_args=("--stop-timeout", "0")
    )
    assert result.returncode == 0, "locust exited non-zero" + result.describe()
    assert result.total_failures() == 0, "a stop turned accepted requests into failures" + result.describe()
    reported = result.requests("GET", "/v1/slow-limited")
    assert reported > 0, result.describe()
    # The requests in flight at the stop reached the server but are not in the statistics.
    assert reported <= api_server.counts()[("GET", "/v1/slow-limited")] <= reported + 20


def test_run_time_ends_the_run_on_time_with_a_hung_backend(locust) -> None:
    # Every request hangs for 20 s (network_timeout is 60 s): -t 2s must still end at about 2 s.
    result = locust("hung_backend.py", users=4, spawn_rate=100, run_time="2s", extra_args=("--stop-timeout", "0"))
    assert result.returncode == 0, result.describe()
    assert result.wall_s < 6, f"took {result.wall_s:.1f}s" + result.describe()


# --- redirects, gzip, cookies -------------------------------------------------------------------


def test_redirects_gzip_cookies(locust, api_server: ApiServer) -> None:
    result = locust("redirects_gzip.py", users=4, spawn_rate=100, run_time=RUN_TIME)
    assert_clean(result, api_server)
    chains = result.requests("GET", "/redirect/3")
    # Locust reports a followed redirect chain once, under the name of the first request; the
    # server saw every hop: /redirect/3 -> /2 -> /1 -> /0 -> /v1/landing, once per chain.
    counts = api_server.counts()
    assert counts == {
        ("GET", "/redirect/3"): chains,
        ("GET", "/redirect/2"): chains,
        ("GET", "/redirect/1"): chains,
        ("GET", "/redirect/0"): chains,
        ("GET", "/v1/landing"): chains,
        ("GET", "/gzip"): result.requests("GET", "/gzip"),
        ("GET", "/cookies/set"): result.requests("GET", "/cookies/set"),
        ("GET", "/cookies/check"): result.requests("GET", "/cookies/check"),
    }, f"server {counts}" + result.describe()
    assert set(result.stats) == {
        ("GET", "/redirect/3"),
        ("GET", "/gzip"),
        ("GET", "/cookies/set"),
        ("GET", "/cookies/check"),
    }, result.describe()
    assert chains > 0 and result.requests("GET", "/gzip") > 0, result.describe()
    # Gzip: the client asked for it every time, got it compressed, and resp.json() parsed it
    # (a bad body would be a failure).
    assert api_server.events() == {"gzip-encoded": result.requests("GET", "/gzip")}, api_server.events()
    # Cookies: set and check run in one task, so they pair up exactly, and every check carried
    # the user's session cookie (the server answers 400 without it).
    assert result.requests("GET", "/cookies/set") == result.requests("GET", "/cookies/check") > 0
    assert api_server.statuses().get(("GET", "/cookies/check", 200)) == result.requests("GET", "/cookies/check")
    assert only_statuses(api_server, {200, 301, 302}) == {}, api_server.statuses()


# --- a host without a scheme --------------------------------------------------------------------


def test_a_host_without_a_scheme_is_recorded_as_failures(locust, api_server: ApiServer, mode: str) -> None:
    # `-H 127.0.0.1:PORT`: stock FastHttpUser records each request as failed (a gaierror), and
    # nothing reaches the server; ringload records them too, with the URL that was meant.
    schemeless = api_server.url.removeprefix("http://")
    result = locust("host_without_scheme.py", users=1, spawn_rate=10, run_time="1s", extra_args=("-H", schemeless))
    requests = result.requests("GET", "/v1/items")
    assert requests > 0 and result.failures("GET", "/v1/items") == requests, result.describe()
    assert result.returncode == 1, "failures make Locust exit 1" + result.describe()
    assert api_server.counts() == {}, "nothing was sent"
    assert "Traceback" not in result.stderr, result.describe()
    if mode != "stock":
        assert f'did you mean "http://{schemeless}/v1/items"?' in result.stderr, result.describe()
