"""``ringload.run()``, scenarios, results and argument checking, against the built-in target
server (the plugin's ``ringload_target`` fixture), which counts what it received.

When the whole suite runs, Locust is imported by other test modules and monkey-patches this
process for gevent, so these tests then also go through the gevent path; the tests of plain
threads, asyncio and gevent as such run in fresh interpreters (``test_concurrency.py``).
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import ringload
from cli_binary import SCHEMA, json_shape, rust_cli
from ringload import Request


def test_exact_count_is_what_the_server_counted(ringload_target: ringload.TargetServer) -> None:
    result = ringload.run(ringload_target.url + "/", requests=5000, connections=8)
    assert result.requests == 5000
    assert result.ok == 5000
    assert ringload_target.requests() == 5000
    assert result.status == {200: 5000}
    assert result.failed_total == 0 and result.aborted == 0
    assert result.model == "closed"
    [row] = result.endpoints
    assert (row.method, row.name, row.requests) == ("GET", "/", 5000)


def test_attributes_repr_and_to_dict_agree(ringload_target: ringload.TargetServer) -> None:
    result = ringload.run(ringload_target.url + "/status/201", requests=300, connections=4, threads=1)
    data = result.to_dict()
    assert data == json.loads(result.to_json())
    for key in ("requests", "ok", "aborted", "retries", "connects", "rps", "duration_s", "bytes_read", "url"):
        assert getattr(result, key) == data[key], key
    assert result.failed == data["failed"]
    assert result.status == {int(code): n for code, n in data["status"].items()} == {201: 300}
    assert result.latency_us.to_dict() == data["latency_us"]
    assert result.latency_us.p99 == data["latency_us"]["p99"] == result.percentile(99)
    assert result.percentile(100) == result.latency_us.max
    assert result.endpoints[0].to_dict() == data["endpoints"][0]
    assert result.latency_uncorrected_us is None and result.schedule_lag is None
    summary = str(result)
    assert summary.startswith(f"GET {ringload_target.url}/status/201  (4 connections, 1 threads, closed model")
    assert "Requests: 300  ok 300  failed 0  aborted 0" in summary
    assert "Status codes: 201: 300" in summary
    # repr() is one line, as pytest's assertion explanations print it inline.
    assert repr(result) == (
        f"<Result GET {ringload_target.url}/status/201: requests=300 ok=300 failed=0 aborted=0 "
        f"p50_us={result.latency_us.p50} p99_us={result.latency_us.p99}>"
    )
    with pytest.raises(ValueError, match="between 0 and 100"):
        result.percentile(101)


@pytest.mark.parametrize("rate", [None, 400.0])
def test_to_dict_is_the_cli_json_object(ringload_target: ringload.TargetServer, rate: float | None) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    url = ringload_target.url + "/"
    options = {"requests": 200, "connections": 2, "threads": 1}
    argv = [rust_cli(), "--json", "--no-progress", "-n", "200", "-c", "2", "-t", "1", url]
    if rate is not None:
        options["rate"] = rate
        argv[1:1] = ["-R", str(rate)]
    cli = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    library = ringload.run(url, **options).to_dict()
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(cli, schema)
    jsonschema.validate(library, schema)
    assert json_shape(library) == json_shape(cli)
    assert library["requests"] == cli["requests"] == 200


def test_scenario_mix_and_per_name_statistics(ringload_target: ringload.TargetServer) -> None:
    scenario = [
        Request("GET", "/", name="home", weight=1),
        Request("GET", "/bytes/512?page=2", name="page", weight=3),
        Request("POST", "/echo", json={"sku": 42}, weight=2),
        Request("GET", ringload_target.url + "/status/503", name="down", weight=2),
    ]
    result = ringload.run(scenario=scenario, host=ringload_target.url, requests=8000, connections=8)
    assert result.requests == result.ok == 8000 == ringload_target.requests()
    assert result.method == "MIXED"
    assert [(e.method, e.name) for e in result.endpoints] == [
        ("GET", "home"),
        ("GET", "page"),
        ("POST", "/echo"),
        ("GET", "down"),
    ]
    server_paths = {"home": "/", "page": "/bytes/512", "/echo": "/echo", "down": "/status/503"}
    # Weights 1:3:2:2 of 8000; the binomial standard deviation is at most 39: allow 5 of them.
    expected = {"home": 1000, "page": 3000, "/echo": 2000, "down": 2000}
    for row in result.endpoints:
        assert row.requests == ringload_target.path_count(server_paths[row.name]), row
        assert abs(row.requests - expected[row.name]) < 200, row
        assert row.latency_us.p50 is not None and row.percentile(99) is not None
    assert result.endpoint("down").status == {503: result.endpoint("down").requests}
    assert result.endpoint("/echo", "POST").status == {200: result.endpoint("/echo").requests}
    assert sum(e.requests for e in result.endpoints) == result.requests
    assert "down" in str(result) and "Method" in str(result)
    with pytest.raises(KeyError, match="no endpoint named"):
        result.endpoint("missing")


def test_failures_are_counted_on_their_own_row(ringload_target: ringload.TargetServer) -> None:
    scenario = [
        Request("GET", "/", name="fast", weight=3),
        Request("GET", "/delay/2000", name="slow"),  # answers after 2 s: past the timeout
    ]
    result = ringload.run(scenario=scenario, host=ringload_target.url, requests=400, connections=8, timeout=0.05)
    fast, slow = result.endpoint("fast"), result.endpoint("slow")
    assert slow.requests > 0 and fast.requests > 0
    nonzero = lambda counts: {kind: n for kind, n in counts.items() if n}  # noqa: E731
    assert nonzero(slow.failed) == {"timeout": slow.requests} and slow.ok == 0
    assert fast.failed_total == 0 and fast.ok == fast.requests
    assert nonzero(result.failed) == {"timeout": slow.requests}
    assert result.requests == fast.requests + slow.requests == 400


def test_requests_with_the_same_method_and_name_share_a_row(ringload_target: ringload.TargetServer) -> None:
    scenario = [
        Request("GET", "/bytes/1", name="item"),
        Request("GET", "/bytes/2", name="item"),
        Request("DELETE", "/bytes/3", name="item"),
    ]
    result = ringload.run(scenario=scenario, host=ringload_target.url, requests=900)
    assert [(e.method, e.name) for e in result.endpoints] == [("GET", "item"), ("DELETE", "item")]
    get_count = ringload_target.path_count("/bytes/1") + ringload_target.path_count("/bytes/2")
    assert result.endpoint("item", "GET").requests == get_count
    with pytest.raises(KeyError, match="method="):
        result.endpoint("item")


def test_rate_paces_the_run(ringload_target: ringload.TargetServer) -> None:
    result = ringload.run(ringload_target.url + "/", rate=500, duration=1.0, connections=4)
    assert result.model == "open"
    lag = result.schedule_lag
    assert lag is not None and lag.target_rps == 500
    # Exactly 500 are due in the second: each was sent, or is counted unsent.
    assert result.requests + lag.unsent == 500, (result.requests, lag)
    assert not lag.behind and result.warnings == []
    # The run lasts the second asked for, and rps is over that second.
    assert result.duration_s == 1.0 and result.rps == result.ok
    # Microsecond pacing: a millisecond timer's median lag is ~500 us.
    assert lag.p50_us < 400 and lag.p50_us <= lag.p99_us <= lag.max_us, lag
    assert result.latency_uncorrected_us is not None
    assert result.latency_uncorrected_us.p50 is not None
    # Due times 2 ms apart: each waiting request went out at a wake-up of its own, on a timer
    # that expired once per due time (and a few times more while the run ends: it runs to the
    # deadline, expiring just ahead of it, and once more to stop), not twice per due time.
    assert 1 <= lag.wakeups <= result.requests and lag.requests_per_wakeup >= 1.0, lag
    assert lag.timer_expiries <= 505, lag

    behind = ringload.run(ringload_target.url + "/delay/20", rate=1000, duration=0.5, connections=1, threads=1)
    assert behind.schedule_lag is not None and behind.schedule_lag.behind
    assert behind.requests + behind.schedule_lag.unsent == 500
    assert any("schedule fell behind" in w for w in behind.warnings), behind.warnings

    budget = ringload.run(ringload_target.url + "/", rate=1000, requests=300, connections=4)
    assert budget.requests == 300
    # 300 requests due every millisecond take about 0.3 s; unpaced they would take ~10 ms.
    assert budget.duration_s >= 0.25, budget.duration_s


def test_a_run_in_which_no_request_succeeded_warns(capfd: pytest.CaptureFixture[str]) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as gone:
        port = gone.server_address[1]
    result = ringload.run(f"http://127.0.0.1:{port}/", requests=3, connections=1)
    assert result.ok == 0 and result.failed["connect"] == 3
    warning = "warning: no request succeeded: none of the 3 requests got a response (connect: 3 (Connection refused"
    assert len(result.warnings) == 1 and result.warnings[0].startswith(warning), result.warnings
    assert json.loads(result.to_json())["warnings"] == result.warnings
    assert f"ringload: {warning}" in capfd.readouterr().err


def test_stages_ramp_the_rate_and_the_connections(ringload_target: ringload.TargetServer) -> None:
    # 0 -> 300 req/s over 1 s, then 300 for 1 s: 150 + 300 requests, in the stages' 2 s.
    ramp = ringload.run(ringload_target.url + "/", stages=[(1, 300), (1, 300)], connections=4)
    assert ramp.model == "open" and ramp.duration_s == 2.0
    assert abs(ramp.requests - 450) <= 3, ramp
    assert [entry.target_rps for entry in ramp.timeline] == [150.0, 300.0]
    assert abs(ramp.timeline[0].ok - 150) <= 8 and abs(ramp.timeline[1].ok - 300) <= 8, ramp.timeline
    # A closed-model ramp: 3 connections after 0.5 s, down to none at the end.
    closed = ringload.run(ringload_target.url + "/", connection_stages=[(0.5, 3), (1.0, 3), (0.25, 0), (0.25, 0)])
    assert closed.model == "closed" and closed.connections == 3 and closed.connects == 3
    assert [entry.connections_open for entry in closed.timeline] == [3, 0]
    with pytest.raises(ValueError, match="connection stages"):
        ringload.run(ringload_target.url + "/", connection_stages=[(1, 3)], connections=3)
    with pytest.raises(ValueError, match="stages\\[0\\] duration"):
        ringload.run(ringload_target.url + "/", stages=[(0, 100)])
    with pytest.raises(TypeError, match="stages\\[1\\]"):
        ringload.run(ringload_target.url + "/", stages=[(1, 100), 5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="target"):
        ringload.run(ringload_target.url + "/", stages=[(1, -100)])


def test_templates_render_for_every_request(ringload_target: ringload.TargetServer, tmp_path: Path) -> None:
    # The single URL with template=True: {{seq}} gives each value once; the target counts paths.
    result = ringload.run(ringload_target.url + "/items/{{seq}}?size={{choice s m}}", requests=40, template=True)
    assert result.ok == 40 and result.status == {404: 40}
    assert [ringload_target.path_count(f"/items/{n}") for n in range(40)] == [1] * 40
    # Reports show the template as written.
    assert result.url == ringload_target.url + "/items/{{seq}}?size={{choice s m}}"
    assert result.endpoints[0].name == "/items/{{seq}}?size={{choice s m}}"
    # A scenario's requests are always templates; files are read when the run starts.
    (tmp_path / "codes.txt").write_text("204\n202\n")
    codes = ringload.run(
        host=ringload_target.url,
        scenario=[Request("GET", "/status/{{line %s}}" % (tmp_path / "codes.txt"), name="code")],
        requests=10,
        connections=1,
    )
    assert codes.status == {204: 5, 202: 5}
    before = ringload_target.connections()
    with pytest.raises(ValueError, match="unknown function"):
        Request("GET", "/{{nope}}")
    with pytest.raises(ValueError, match="cannot read"):
        ringload.run(ringload_target.url + "/{{line /nonexistent}}", requests=1, template=True)
    with pytest.raises(TypeError, match="template"):
        ringload.run(ringload_target.url + "/", requests=1, template="yes")  # type: ignore[arg-type]
    assert ringload_target.connections() == before


def test_disable_keepalive_opens_a_connection_per_request(ringload_target: ringload.TargetServer) -> None:
    before = ringload_target.connections()
    result = ringload.run(ringload_target.url + "/", requests=120, connections=3, disable_keepalive=True)
    assert result.ok == 120
    assert result.connects == 120
    assert ringload_target.connections() - before == 120
    # Phase times: a connect per request, no TLS on http, the first byte before the last.
    assert result.connect_us.p50 is not None and result.tls_us is None
    assert result.ttfb_us.p50 is not None and result.latency_us.p50 is not None
    assert result.ttfb_us.p50 <= result.latency_us.p50


def test_on_progress_and_stop_handle(ringload_target: ringload.TargetServer) -> None:
    seen: list[ringload.Progress] = []
    result = ringload.run(ringload_target.url + "/", duration=3.5, rate=200, on_progress=seen.append)
    assert len(seen) >= 2
    assert [p.requests for p in seen] == sorted(p.requests for p in seen)
    assert seen[-1].requests <= result.requests

    stop = ringload.StopHandle()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    stopped = ringload.run(ringload_target.url + "/", duration=30, connections=2, stop=stop)
    timer.join()
    assert stop.is_set
    assert stopped.duration_s < 5
    assert stopped.requests == ringload_target.requests() - result.requests


def test_an_exception_in_on_progress_stops_the_run(ringload_target: ringload.TargetServer) -> None:
    def explode(progress: ringload.Progress) -> None:
        raise RuntimeError(f"stop at {progress.requests}")

    with pytest.raises(RuntimeError, match="stop at"):
        ringload.run(ringload_target.url + "/", duration=30, connections=2, on_progress=explode)


BAD_RUN_ARGUMENTS = [
    ({"connections": 0}, ValueError, "connections"),
    ({"connections": -4}, ValueError, "connections"),
    ({"connections": "8"}, TypeError, "connections"),
    ({"connections": True}, TypeError, "connections"),
    ({"connections": 2**70}, ValueError, "connections must be at most"),
    ({"threads": 0}, ValueError, "threads"),
    ({"duration": 0}, ValueError, "duration"),
    ({"duration": -1.5}, ValueError, "duration"),
    ({"duration": float("nan")}, ValueError, "duration"),
    ({"duration": "10s"}, TypeError, "duration"),
    ({"duration": 1e20}, ValueError, "duration of 100000000000000000000 seconds is too large"),
    ({"duration": 1e10}, ValueError, "duration must be at most one year"),
    ({"timeout": 1e12}, ValueError, "timeout must be at most one year"),
    ({"requests": 0}, ValueError, "requests"),
    ({"requests": 2.5}, TypeError, "requests"),
    ({"rate": 0}, ValueError, "rate"),
    ({"rate": -100}, ValueError, "rate"),
    ({"rate": float("inf")}, ValueError, "rate"),
    ({"rate": 1e-9}, ValueError, "rate must be at least"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"connect_timeout": -1}, ValueError, "connect_timeout"),
    ({"pipeline": 0}, ValueError, "pipeline"),
    ({"insecure": "yes"}, TypeError, "insecure"),
    ({"disable_keepalive": 1}, TypeError, "disable_keepalive"),
    ({"disable_keepalive": True, "pipeline": 4}, ValueError, "pipeline"),
    ({"io": "kqueue"}, ValueError, "io"),
    ({"headers": {"X-Evil": "a\r\nInjected: 1"}}, ValueError, "header"),
    # At either end too: trimming must not quietly turn them into a different header.
    ({"headers": {"X-Evil": "a\r"}}, ValueError, "header"),
    ({"headers": {"X-Evil": "\na"}}, ValueError, "header"),
    ({"headers": {"X-Evil\r\n": "a"}}, ValueError, "header"),
    ({"headers": {"X-Evil": "a\x00"}}, ValueError, "header"),
    ({"headers": {"X-Nul": "a\0b"}}, ValueError, "header"),
    ({"headers": {"Bad Name": "v"}}, ValueError, "header name"),
    ({"headers": {"X": 1}}, TypeError, "headers"),
    ({"headers": ["not a pair"]}, TypeError, "headers"),
    ({"method": "GE T"}, ValueError, "method"),
    ({"method": "GET\r\n"}, ValueError, "method"),
    ({"body": 42}, TypeError, "body"),
    ({"cacert": "/nonexistent/ca.pem"}, ValueError, "CA file"),
    ({"cert": "/nonexistent/client.pem"}, ValueError, "client certificate"),
    ({"key": "/nonexistent/client.key"}, ValueError, "needs its certificate"),
    ({"host": "http://127.0.0.1:1"}, TypeError, "host"),
    ({"no_such_option": 1}, TypeError, "no_such_option"),
]


@pytest.mark.parametrize(("options", "error", "names"), BAD_RUN_ARGUMENTS)
def test_bad_arguments_raise_before_any_connection(
    ringload_target: ringload.TargetServer, options: dict, error: type[Exception], names: str
) -> None:
    options = {"requests": 10, **options}
    with pytest.raises(error, match=names):
        ringload.run(ringload_target.url + "/", **options)
    assert ringload_target.connections() == 0


@pytest.mark.parametrize(
    ("url", "error", "names"),
    [
        ("ftp://127.0.0.1/", ValueError, "scheme"),
        ("127.0.0.1:8080", ValueError, 'lacks http:// or https://; did you mean "http://127.0.0.1:8080"'),
        ("localhost:8080/x", ValueError, 'did you mean "http://localhost:8080/x"'),
        ("example.com:443/", ValueError, 'did you mean "https://example.com:443/"'),
        ("not a url", ValueError, "URL"),
        ("http://", ValueError, "URL"),
        ("http://127.0.0.1:8080/a\r\nb", ValueError, "URL"),
        (None, TypeError, "url"),
        (b"http://127.0.0.1/", TypeError, "url"),
    ],
)
def test_bad_urls(url: object, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        ringload.run(url, requests=1)  # type: ignore[arg-type]


def test_duration_or_requests_is_required(ringload_target: ringload.TargetServer) -> None:
    with pytest.raises(ValueError, match="duration= .* or requests="):
        ringload.run(ringload_target.url + "/")
    assert ringload_target.connections() == 0


def test_bad_scenarios(ringload_target: ringload.TargetServer) -> None:
    host = ringload_target.url
    ok = [Request("GET", "/")]
    cases = [
        ({"scenario": ok}, TypeError, "host="),
        ({"scenario": ok, "host": host, "url": host}, TypeError, "not both"),
        ({"scenario": [], "host": host}, ValueError, "at least one"),
        ({"scenario": ["/"], "host": host}, TypeError, "ringload.Request"),
        ({"scenario": "/", "host": host}, TypeError, "list of ringload.Request"),
        ({"scenario": ok, "host": host, "method": "POST"}, ValueError, "each Request its own"),
        ({"scenario": ok, "host": host + "/api?key=1"}, ValueError, "cannot have a query"),
        ({"scenario": [Request("GET", "http://127.0.0.2:9/x")], "host": host}, ValueError, "same origin"),
        ({"scenario": [Request("GET", "https://" + host[7:] + "/")], "host": host}, ValueError, "same origin"),
    ]
    for options, error, names in cases:
        url = options.pop("url", None)
        with pytest.raises(error, match=names):
            ringload.run(url, requests=10, **options)
    assert ringload_target.connections() == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "names"),
    [
        (("GET", "v1/items"), {}, ValueError, "path starting with '/'"),
        (("GET", "ftp://h/x"), {}, ValueError, "scheme"),
        (("GET", "http://user:pw@127.0.0.1/"), {}, ValueError, "credentials"),
        (("GE T", "/"), {}, ValueError, "method"),
        (("GET", "/a b"), {}, ValueError, "target"),
        (("GET", "/"), {"headers": {"X": "a\nb"}}, ValueError, "header"),
        (("GET", "/"), {"headers": {"X": "a\r"}}, ValueError, "header"),
        (("GET", "/"), {"headers": {"X\r\n": "a"}}, ValueError, "header"),
        (("GET", "/"), {"weight": 0}, ValueError, "weight"),
        (("GET", "/"), {"weight": 1.5}, TypeError, "weight"),
        (("GET", "/"), {"weight": True}, TypeError, "weight"),
        (("GET", "/"), {"weight": 2**32}, ValueError, "weight must be at most"),
        (("GET", "/"), {"name": 3}, TypeError, "name"),
        ((3, "/"), {}, TypeError, "method"),
        (("GET", None), {}, TypeError, "path_or_url"),
        (("POST", "/"), {"body": "a", "json": {}}, TypeError, "not both"),
        (("POST", "/"), {"json": {1, 2}}, TypeError, "JSON"),
        (("POST", "/"), {"body": 1.5}, TypeError, "body"),
    ],
)
def test_bad_requests(args: tuple, kwargs: dict, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        Request(*args, **kwargs)


def test_request_json_sets_body_and_content_type() -> None:
    request = Request("POST", "/cart", json={"sku": 42}, name="cart", weight=3)
    assert request.body == b'{"sku": 42}'
    assert request.headers == [("Content-Type", "application/json")]
    assert repr(request) == "Request('POST', '/cart', name='cart', weight=3)"
    custom = Request("POST", "/cart", json=[1], headers={"content-type": "application/vnd.x+json"})
    assert custom.headers == [("content-type", "application/vnd.x+json")]
    # json=None is "no JSON body", as in requests, so wrappers may pass it through.
    no_json = Request("POST", "/", json=None)
    assert (no_json.body, no_json.headers) == (b"", [])
    assert Request("POST", "/", body="x", json=None).body == b"x"


class _RecordingHandler(socketserver.StreamRequestHandler):
    """Answers every request 204 on a kept-alive connection and records its head and body."""

    def handle(self) -> None:
        while True:
            head = []
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                head.append(line.decode("latin-1").rstrip("\r\n"))
            if not head:
                return
            length = next((int(f.split(":", 1)[1]) for f in head if f.lower().startswith("content-length:")), 0)
            self.server.heads.append(head)  # type: ignore[attr-defined]
            self.server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
            self.wfile.write(b"HTTP/1.1 204 No Content\r\n\r\n")


@contextlib.contextmanager
def _recording_server() -> Iterator[socketserver.ThreadingTCPServer]:
    """A server on 127.0.0.1 whose ``heads`` and ``bodies`` list every request it answered."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RecordingHandler) as server:
        server.daemon_threads = True
        server.heads = []  # type: ignore[attr-defined]
        server.bodies = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server
        finally:
            server.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "request_line"),
    [
        ({"body": "hello"}, "POST /echo HTTP/1.1"),
        ({"body": b"hello", "method": "PUT"}, "PUT /echo HTTP/1.1"),
        ({}, "GET /echo HTTP/1.1"),
    ],
)
def test_a_body_means_post_unless_a_method_is_given(kwargs: dict, request_line: str) -> None:
    with _recording_server() as server:
        result = ringload.run(f"http://127.0.0.1:{server.server_address[1]}/echo", requests=3, connections=1, **kwargs)
    assert result.ok == 3
    assert result.method == request_line.split()[0]
    assert [head[0] for head in server.heads] == [request_line] * 3  # type: ignore[attr-defined]
    expected_body = b"hello" if kwargs else b""
    assert server.bodies == [expected_body] * 3  # type: ignore[attr-defined]


def test_run_headers_go_with_every_request_and_request_headers_win() -> None:
    with _recording_server() as server:
        host = f"http://127.0.0.1:{server.server_address[1]}/api"
        scenario = [Request("GET", "/a?x=1", headers={"X-Override": "request"}), Request("DELETE", "/b")]
        result = ringload.run(
            scenario=scenario,
            host=host,
            headers={"X-Common": "run", "X-Override": "run"},
            requests=40,
            connections=1,
        )
    assert result.ok == 40
    heads = server.heads  # type: ignore[attr-defined]
    assert len(heads) == 40
    for request_line, *fields in heads:
        lowered = [f.lower() for f in fields]
        assert "x-common: run" in lowered
        if request_line == "GET /api/a?x=1 HTTP/1.1":
            assert "x-override: request" in lowered and "x-override: run" not in lowered
        else:
            assert request_line == "DELETE /api/b HTTP/1.1"
            assert "x-override: run" in lowered
