"""NativeUser: real Locust runs (plain ``python -m locust -f``) whose users' requests run in the engine.

Each run's counts are checked against the API server's. At the stop, a native user's request in
flight is dropped (counted neither as a request nor as a failure), so the server may count up to
one request per user more than Locust, never fewer.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from apiserver import ApiServer

# Imported at collection, before any test starts a server thread: Locust's import patches the
# process for gevent, which must not happen while other threads hold import locks.
from locust import between, constant, constant_pacing, constant_throughput  # noqa: I001
from locust_runner import LocustResult, run_locust, run_locust_distributed
from ringload import NativeUser, Request
from ringload._native.wait import recognise

LOCUSTFILES = Path(__file__).parent / "locustfiles"
RUN_TIME = "3s"

GATEWAY_ROUTES = {
    ("GET", "GET /v1/products"): ("GET", "/v1/products"),
    ("GET", "GET /v1/products/:id"): ("GET", "/v1/products/{id}"),
    ("POST", "POST /v1/products"): ("POST", "/v1/products"),
    ("GET", "GET /v1/limited"): ("GET", "/v1/limited"),
}


def assert_counts_match(result: LocustResult, server: ApiServer, routes: dict, users: int) -> None:
    counts = server.counts()
    assert set(result.stats) == set(routes), result.describe()
    assert set(counts) == set(routes.values()), f"server routes {sorted(counts)}" + result.describe()
    unreported = 0
    for key, route in routes.items():
        reported, served = result.stats[key]["requests"], counts[route]
        assert 0 < reported <= served, f"{key}: Locust {reported}, server {served}" + result.describe()
        unreported += served - reported
    assert unreported <= users, f"{unreported} served but not reported, {users} users" + result.describe()


def run(locustfile: str, server: ApiServer, tmp_path: Path, **kwargs) -> LocustResult:
    kwargs.setdefault("run_time", RUN_TIME)
    return run_locust(LOCUSTFILES / locustfile, server.url, mode="stock", workdir=tmp_path, **kwargs)


def check_gateway(result: LocustResult, server: ApiServer, users: int) -> None:
    assert result.returncode == 0, result.describe()
    assert result.total_failures() == 0, result.describe()
    assert result.worker_leftovers == [], result.describe()
    assert_counts_match(result, server, GATEWAY_ROUTES, users)
    statuses = server.statuses()
    # The API key reached the server on every request, the JSON POST was accepted, and the
    # rate limit's 429s were counted as success (ok_status).
    assert set(statuses) == {
        ("GET", "/v1/products", 200),
        ("GET", "/v1/products/{id}", 200),
        ("POST", "/v1/products", 201),
        ("GET", "/v1/limited", 200),
        ("GET", "/v1/limited", 429),
    }, statuses


def test_native_users_count_what_the_server_served(api_server: ApiServer, tmp_path: Path) -> None:
    users = 8
    result = run("native_gateway.py", api_server, tmp_path, users=users, spawn_rate=100)
    check_gateway(result, api_server, users)
    # The raw entries Locust's --json prints: a start before the last completion, within the run.
    doc = json.loads(result.stdout)
    for entry in doc:
        assert entry["num_failures"] == 0
        span = entry["last_request_timestamp"] - entry["start_time"]
        assert 1.0 < span < 6.0, entry
        assert sum(entry["response_times"].values()) == entry["num_requests"], entry
        assert sum(entry["num_reqs_per_sec"].values()) == entry["num_requests"], entry
        # Each second's key is a completion second of this run.
        seconds = [int(s) for s in entry["num_reqs_per_sec"]]
        assert min(seconds) >= int(entry["start_time"]) and max(seconds) <= int(entry["last_request_timestamp"])
        assert entry["total_content_length"] > 0
    # The engine's own thread filling its core is no reason for Locust's CPU warnings.
    assert "CPU usage" not in result.stderr, result.describe()


def test_native_users_in_forked_workers(api_server: ApiServer, tmp_path: Path) -> None:
    """`--processes 2`: the engine starts in each forked worker (never at import), on a core of its own."""
    users = 8
    result = run(
        "native_gateway.py", api_server, tmp_path, users=users, spawn_rate=100, extra_args=("--processes", "2")
    )
    check_gateway(result, api_server, users)


def test_native_users_on_a_master_and_two_workers(api_server: ApiServer, tmp_path: Path) -> None:
    users = 8
    result = run_locust_distributed(
        LOCUSTFILES / "native_gateway.py",
        api_server.url,
        mode="stock",
        users=users,
        spawn_rate=100,
        workers=2,
        run_time=RUN_TIME,
        workdir=tmp_path,
    )
    check_gateway(result, api_server, users)


def test_each_native_user_carries_the_token_its_on_start_got(api_server: ApiServer, tmp_path: Path) -> None:
    users = 5
    result = run("native_login.py", api_server, tmp_path, users=users, spawn_rate=100)
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    routes = {("POST", "/v1/login"): ("POST", "/v1/login"), ("GET", "/v1/me"): ("GET", "/v1/me")}
    assert_counts_match(result, api_server, routes, users)
    assert result.stats[("POST", "/v1/login")]["requests"] == users
    # Every user's own token reached the server, and nothing without one (a 401).
    seen = {name for name in api_server.events() if name.startswith("me:")}
    assert seen == {f"me:user{i}" for i in range(1, users + 1)}, api_server.events()
    assert set(api_server.statuses()) == {("POST", "/v1/login", 200), ("GET", "/v1/me", 200)}


def test_the_session_cookie_from_on_start_travels_with_native_requests(api_server: ApiServer, tmp_path: Path) -> None:
    result = run("native_cookies.py", api_server, tmp_path, users=3, spawn_rate=100, run_time="2s")
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    checks = api_server.counts()[("GET", "/cookies/check")]
    assert checks > 0 and api_server.statuses() == {
        ("GET", "/cookies/set", 200): 3,
        ("GET", "/cookies/check", 200): checks,
    }


def test_a_load_shape_changes_the_native_users(api_server: ApiServer, tmp_path: Path) -> None:
    prefix = tmp_path / "shape"
    result = run_locust(
        LOCUSTFILES / "native_shape.py",
        api_server.url,
        mode="stock",
        users=1,
        spawn_rate=1,
        run_time="20s",  # the shape ends the run first
        extra_args=("--csv", str(prefix)),
        workdir=tmp_path,
    )
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert_counts_match(result, api_server, {("GET", "/health"): ("GET", "/health")}, users=6)
    with open(f"{prefix}_stats_history.csv", newline="") as f:
        user_counts = [int(row["User Count"]) for row in csv.DictReader(f)]
    # Locust's own user count followed the shape: up to 6, then down to 1.
    assert 6 in user_counts and user_counts.index(6) < len(user_counts) - 1 - user_counts[::-1].index(1), user_counts
    # The requests followed the users: 6 users at 20/s each for ~1.5 s is more than 2 users did.
    assert result.wall_s < 15, result.describe()


def test_a_target_that_is_down_gives_failures_by_kind(tmp_path: Path) -> None:
    from locust_runner import free_port

    result = run_locust(
        LOCUSTFILES / "native_gateway.py",
        f"http://127.0.0.1:{free_port()}",
        mode="stock",
        users=2,
        spawn_rate=100,
        run_time="2s",
        workdir=tmp_path,
    )
    assert result.returncode == 1, result.describe()  # failures: Locust's exit code 1
    assert result.total_failures() > 0
    assert all(e["failures"] == e["requests"] for e in result.stats.values()), result.describe()
    assert "ConnectionRefusedError(111, 'Connection refused')" in result.stderr, result.describe()


# --- bad input: refused when the locustfile is imported, naming the class and attribute -------


def _define(source: str) -> None:
    from locust import task

    namespace: dict = {"NativeUser": NativeUser, "Request": Request, "task": task, "constant": constant}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - the test's own class definitions


HEADER = ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("requests = []", r"Bad\.requests: set `requests` .* or `sequence` .*, not both; neither is set"),
        (
            "requests = [Request('GET', '/')]\n    sequence = [Request('GET', '/')]",
            r"Bad\.requests: .* both are set",
        ),
        ("sequence = (Request('GET', '/'), 3)", r"Bad\.sequence\[1\]: is a int, not a ringload\.Request"),
        (
            "sequence = [Request('GET', '/')]\n    rate = 20\n    wait_time = constant(1)",
            r"Bad\.rate: a rate sets when each request is due: remove the class's wait_time, or the rate",
        ),
        ("requests = [Request('GET', '/')]\n    rate = 0", r"Bad\.rate: must be a positive number"),
        ("requests = ['/']", r"Bad\.requests\[0\]: is a str, not a ringload\.Request"),
        (
            "requests = [Request('GET', '/')]\n    wait_time = lambda self: 1",
            r"Bad\.wait_time: the engine runs constant\(s\), between\(a, b\)",
        ),
        ("requests = [Request('GET', '/')]\n    ok_status = 200", r"Bad\.ok_status: must be a non-empty tuple"),
        ("requests = [Request('GET', '/')]\n    ok_status = (200, 'x')", r"Bad\.ok_status: .* every status is an int"),
        ("requests = [Request('GET', '/')]\n    headers = {'X': 1}", r"Bad\.headers: 'X': 1 is not a str to str pair"),
        (
            "requests = [Request('GET', '/')]\n    @task\n    def t(self): pass",
            r"Bad\.tasks: a NativeUser runs its `requests` in the engine",
        ),
    ],
)
def test_a_bad_class_is_refused_at_import(body: str, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        _define(HEADER + f"class Bad(NativeUser):\n    {body}\n")


def test_the_nearest_class_decides_between_inherited_attributes() -> None:
    from ringload._native.user import _spec_of

    class Paced(NativeUser):
        abstract = True
        wait_time = constant(1)
        requests = [Request("GET", "/a")]

    class Rated(Paced):
        rate = 5  # its parent's wait_time gives way

    class Stepped(Rated):
        sequence = [Request("GET", "/b"), Request("GET", "/c")]  # its parent's requests give way

    assert _spec_of(Rated).wait == ("arrivals", 0.2, 0.0)
    assert (_spec_of(Stepped).sequence, len(_spec_of(Stepped).scenario)) == (True, 2)
    with pytest.raises(TypeError, match=r"Both\.rate: a rate sets when each request is due"):
        _define(
            "class Both(NativeUser):\n    requests = [Request('GET', '/')]\n    rate = 1\n    wait_time = constant(0)\n"
        )


def test_a_lowercase_method_is_sent_and_named_as_written() -> None:
    from ringload._native.user import _spec_of

    class Lower(NativeUser):
        abstract = True
        requests = [Request("get", "/x", name="x")]

    assert _spec_of(Lower).paths == [("x", "get", "/x")]


def test_an_unknown_template_function_names_the_request() -> None:
    with pytest.raises(ValueError, match=r"Request\('GET', '/x/\{\{nope\}\}'\)"):
        _define(HEADER + "class Bad(NativeUser):\n    requests = [Request('GET', '/x/{{nope}}')]\n")


def test_lookalike_wait_times_are_not_taken_for_locusts() -> None:
    assert recognise(constant(0)) == ("constant", 0.0, 0.0)
    assert recognise(between(2, 1)) == ("between", 1.0, 2.0)
    assert recognise(constant_pacing(0.5)) == ("pacing", 0.5, 0.0)
    assert recognise(constant_throughput(4)) == ("pacing", 0.25, 0.0)
    wait_time = 3
    assert recognise(lambda instance: wait_time) is None  # noqa: ARG005 - Locust's signature
    assert recognise(constant(-1)) is None
    assert recognise(constant("1")) is None


def test_a_host_with_another_scheme_stops_the_test_before_any_connection(api_server: ApiServer, tmp_path: Path) -> None:
    result = run_locust(
        LOCUSTFILES / "native_gateway.py",
        "ftp://127.0.0.1:21",
        mode="stock",
        users=2,
        spawn_rate=100,
        run_time="5s",
        workdir=tmp_path,
    )
    assert re.search(r"Gateway: unsupported scheme \"ftp\"", result.stderr), result.describe()
    assert result.stats == {}, result.describe()


def test_a_native_sequence_runs_a_checkout_in_order(api_server: ApiServer, tmp_path: Path) -> None:
    users = 4
    result = run("native_checkout.py", api_server, tmp_path, users=users, spawn_rate=100)
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    steps = ["product", "inventory", "pricing", "cart", "order"]
    methods = {"cart": "POST", "order": "POST"}
    counts = [result.stats[(methods.get(step, "GET"), step)]["requests"] for step in steps]
    # Each user goes through the steps in order: a step never runs more often than the one before
    # it, and at most one unfinished iteration per user separates the first step from the last.
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False)), counts
    assert counts[0] - counts[-1] <= users and counts[-1] > 0, counts
    # Every step carried the API key and the user's token, and the bodies were accepted.
    statuses = api_server.statuses()
    assert {status for (_, _, status) in statuses} == {200, 201}, statuses


def test_the_web_ui_shows_the_native_users_and_their_rate(api_server: ApiServer, tmp_path: Path) -> None:
    """Locust's web UI (started with --autostart) in headless Chromium: the user count and a non-zero RPS."""
    from locust_runner import child_env, free_port
    from test_run_report import _chromium, _headless

    browser = _chromium()
    port = free_port()
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / "native_gateway.py"), "--autostart",
        "-u", "3", "-r", "100", "-t", "60s", "-H", api_server.url,
        "--web-host", "127.0.0.1", "--web-port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=child_env(None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        stats: dict = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=5) as response:
                    stats = json.load(response)
            except OSError:
                continue
            # The bar shows the total's current RPS: Locust's 10 s average ending 3 s before the
            # last request, so it is 0 for the first 3 s of a test.
            current = [row["current_rps"] for row in stats.get("stats", []) if row["name"] == "Aggregated"]
            if stats.get("user_count") == 3 and current and current[0] > 0:
                break
        assert stats.get("user_count") == 3 and stats["total_rps"] > 0, stats
        page = _headless(browser, "--virtual-time-budget=8000", "--dump-dom", f"http://127.0.0.1:{port}/")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.stdout.decode(errors="replace")))
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # The navigation bar as the page rendered it: the users, a rate above zero, no failures.
    shown = re.search(r"Users (\d+) RPS ([\d.]+) Failures (\d+)%", text)
    assert shown, text[:2000]
    assert shown.group(1) == "3" and float(shown.group(2)) > 0 and shown.group(3) == "0", shown.group(0)
    assert "GET /v1/products" in text, text[:2000]
    assert b"Traceback" not in err, err.decode(errors="replace")[-2000:]


def test_an_arrival_rate_per_user_holds_whatever_the_users(api_server: ApiServer, tmp_path: Path) -> None:
    users = 5
    result = run("native_rate.py", api_server, tmp_path, users=users, spawn_rate=100, run_time="4s")
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert_counts_match(result, api_server, {("GET", "/health"): ("GET", "/health")}, users)
    # 5 users at 20/s for the ~4 s they ran: 400, less a few at the edges.
    sent = result.stats[("GET", "/health")]["requests"]
    assert 330 <= sent <= 410, result.describe()
    assert "fell behind" not in result.stderr, result.describe()


def test_a_rate_the_connection_cannot_carry_is_reported(api_server: ApiServer, tmp_path: Path) -> None:
    result = run("native_rate_slow.py", api_server, tmp_path, users=2, spawn_rate=100, run_time="3s")
    assert result.total_failures() == 0, result.describe()
    # Each user's requests wait for its connection (200 ms each where one is due every 50 ms):
    # about 5 a second each, and Locust is told why, with the count.
    sent = result.stats[("GET", "/v1/slow-limited")]["requests"]
    assert sent <= 2 * 3 * 5 + 2, result.describe()
    assert re.search(
        r"TooFast fell behind its rate: of \d+ requests due in the last \d+ s, \d+ went out", result.stderr
    ), result.describe()
    # Their latency counts from when they were due: the queue behind the busy connection makes
    # it grow far above the 200 ms each took.
    (entry,) = json.loads(result.stdout)
    assert entry["max_response_time"] > 1000, entry
    assert entry["total_response_time"] / entry["num_requests"] > 400, entry


@pytest.mark.parametrize("launcher", ["locust", "ringload.locust"])
def test_native_users_beside_fasthttp_users_split_by_weight(
    api_server: ApiServer, tmp_path: Path, launcher: str
) -> None:
    """One locustfile, both kinds of users, under plain Locust and under ringload's launcher."""
    mode = "stock" if launcher == "locust" else "launcher"
    result = run_locust(
        LOCUSTFILES / "native_mixed.py", api_server.url, mode=mode, users=4, spawn_rate=100, run_time=RUN_TIME,
        workdir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert result.users_spawned() == {"Native": 3, "Python": 1}, result.describe()
    routes = {("GET", "native list"): ("GET", "/v1/products"), ("GET", "/health"): ("GET", "/health")}
    assert_counts_match(result, api_server, routes, users=4)


@pytest.mark.parametrize("verify", [False, True])
def test_native_users_over_tls_follow_insecure(tmp_path: Path, verify: bool) -> None:
    import ringload

    target = ringload.TargetServer(tls=True)
    try:
        result = run_locust(
            LOCUSTFILES / "native_tls.py", target.url, mode="stock", users=2, spawn_rate=100, run_time="2s",
            env={"NATIVE_TLS_VERIFY": "1" if verify else "0"}, workdir=tmp_path,
        )  # fmt: skip
    finally:
        target.stop()
    entry = result.stats[("GET", "home")]
    if verify:
        # The target's certificate is self-signed: every request fails the handshake, by kind.
        assert entry["failures"] == entry["requests"] > 0, result.describe()
        assert "SSLError" in result.stderr, result.describe()
    else:
        assert entry["requests"] > 0 and entry["failures"] == 0, result.describe()


def test_reset_stats_drops_what_came_before_spawning_completed(api_server: ApiServer, tmp_path: Path) -> None:
    result = run(
        "native_gateway.py", api_server, tmp_path, users=4, spawn_rate=2, run_time="4s", extra_args=("--reset-stats",)
    )
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    reported = sum(entry["requests"] for entry in result.stats.values())
    served = sum(api_server.counts().values())
    # Spawning took 1.5 s (4 users at 2/s): what the first users sent meanwhile was dropped with
    # Locust's own stats, and nothing of it came back in a later merge.
    assert 0 < reported < served - 100, (reported, served)
    for entry in json.loads(result.stdout):
        seconds = [int(s) for s in entry["num_reqs_per_sec"]]
        assert min(seconds) >= int(entry["start_time"]), entry


def test_the_engines_microsecond_report_is_there_after_the_test(api_server: ApiServer, tmp_path: Path) -> None:
    """What `events.request` listeners cannot see: the engine's own result, per name, in µs."""
    out = tmp_path / "engine.json"
    result = run(
        "native_result.py", api_server, tmp_path, users=2, spawn_rate=100, run_time="2s",
        env={"NATIVE_RESULT_FILE": str(out)},
    )  # fmt: skip
    assert result.returncode == 0, result.describe()
    report = json.loads(out.read_text())
    (endpoint,) = report["endpoints"]
    assert endpoint["name"] == "/health"
    # Every response Locust counted, with microsecond percentiles (and the table in the log).
    assert endpoint["ok"] == result.stats[("GET", "/health")]["requests"] > 0
    assert 0 < endpoint["latency_us"]["p50"] <= endpoint["latency_us"]["max"]
    assert re.search(r"Measured, engine latency of the responses per name \(µs", result.stderr), result.describe()


def test_a_header_on_start_cannot_send_stops_that_user_once(api_server: ApiServer, tmp_path: Path) -> None:
    result = run("native_bad_token.py", api_server, tmp_path, users=2, spawn_rate=100, run_time="2s")
    # Said once per user, not in a loop; nothing was sent.
    assert result.stderr.count("BadToken: this user stops:") == 2, result.describe()
    assert api_server.counts() == {}, api_server.counts()


def test_a_backend_that_hangs_gives_timeouts_named_as_fasthttpusers(api_server: ApiServer, tmp_path: Path) -> None:
    result = run("native_timeout.py", api_server, tmp_path, users=2, spawn_rate=100, run_time="2s")
    entry = result.stats[("GET", "/v1/hang")]
    # Each user times out every 0.5 s: about 4 in 2 s each, every one a failure; the test ends on time.
    assert 4 <= entry["requests"] == entry["failures"] <= 10, result.describe()
    assert "RetriesExceeded" in result.stderr, result.describe()
    assert result.wall_s < 15, result.describe()
