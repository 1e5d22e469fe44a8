"""ringload's FastHttpSession against a gevent WSGI server running in the same thread as the
client (as Locust's own tests do): if a request blocked the OS thread, the server could not answer
and these tests would hang or time out. Also the differential test against Locust's client."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from datetime import timedelta
from unittest.mock import MagicMock

import gevent
import gevent.ssl
import pytest
from gevent.pywsgi import WSGIServer

ringload_fasthttp = pytest.importorskip("ringload.contrib.fasthttp")

from geventhttpclient.useragent import RetriesExceeded  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession as LocustSession  # noqa: E402
from locust.contrib.fasthttp import LocustBadStatusCode  # noqa: E402
from locust.event import Events  # noqa: E402
from locust.exception import CatchResponseError, LocustError, ResponseError  # noqa: E402

RingloadSession = ringload_fasthttp.FastHttpSession


def app(environ, start_response):
    """A small WSGI app that records what it received."""
    path = environ["PATH_INFO"]
    app.seen.append((environ["REQUEST_METHOD"], path, dict(_headers(environ))))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if path == "/":
        return _reply(start_response, "200 OK", b"hello")
    if path == "/json":
        return _reply(start_response, "200 OK", json.dumps({"ok": True}).encode(), "application/json")
    if path == "/echo":
        return _reply(start_response, "200 OK", body, environ.get("CONTENT_TYPE") or "application/octet-stream")
    if path.startswith("/status/"):
        return _reply(start_response, f"{path[8:]} X", b"")
    if path == "/slow":
        gevent.sleep(2)
        return _reply(start_response, "200 OK", b"late")
    if path == "/gzip":
        return _reply(
            start_response, "200 OK", gzip.compress(b"x" * 1000), "text/plain", [("Content-Encoding", "gzip")]
        )
    if path == "/deflate":
        return _reply(
            start_response, "200 OK", zlib.compress(b"y" * 500), "text/plain", [("Content-Encoding", "deflate")]
        )
    if path == "/redirect":
        target = environ.get("QUERY_STRING") or "/"
        return _reply(start_response, "302 Found", b"", "text/plain", [("Location", target)])
    if path == "/auth":
        ok = environ.get("HTTP_AUTHORIZATION") == "Basic dXNlcjpwYXNz"
        return _reply(start_response, "200 OK" if ok else "401 Unauthorized", b"")
    if path == "/cookie/set":
        return _reply(start_response, "200 OK", b"", "text/plain", [("Set-Cookie", "sid=42; Path=/")])
    if path == "/cookie/check":
        ok = "sid=42" in environ.get("HTTP_COOKIE", "")
        return _reply(start_response, "200 OK" if ok else "400 Bad Request", b"")
    return _reply(start_response, "404 Not Found", b"nope")


app.seen = []


def _headers(environ):
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value


def _reply(start_response, status, body, content_type="text/plain", extra=()):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra])
    return [body]


@pytest.fixture
def server():
    app.seen.clear()
    srv = WSGIServer(("127.0.0.1", 0), app, log=None)
    srv.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.stop(timeout=1)


class Recorder:
    """Collects events.request firings."""

    def __init__(self):
        self.events = Events()
        self.fired = []
        self.events.request.add_listener(lambda **kw: self.fired.append(kw))


def make_session(base, cls=RingloadSession, **kwargs):
    recorder = Recorder()
    return cls(base, recorder.events.request, None, **kwargs), recorder


def test_many_greenlets_share_the_thread_with_the_server(server):
    session, recorder = make_session(server)
    started = time.perf_counter()
    # The slow handler sleeps 2 s in a greenlet of the same thread: the other 50 requests must be
    # answered meanwhile, which only happens if waiting for a response yields to the hub.
    slow = gevent.spawn(session.get, "/slow")
    fast = [gevent.spawn(session.get, "/") for _ in range(50)]
    gevent.joinall(fast, timeout=5)
    assert all(g.value is not None and g.value.status_code == 200 for g in fast)
    assert time.perf_counter() - started < 1.5, "fast requests waited for the slow one"
    slow.join(timeout=5)
    assert slow.value.content == b"late"
    assert len(recorder.fired) == 51


def test_event_keys_and_values(server):
    session, recorder = make_session(server)
    response = session.get("/json", name="json-name", context={"k": 1})
    assert response.status_code == 200 and response.json() == {"ok": True}
    (event,) = recorder.fired
    assert set(event) == {
        "request_type",
        "name",
        "response_time",
        "response_length",
        "response",
        "context",
        "exception",
        "start_time",
        "url",
    }
    assert event["request_type"] == "GET"
    assert event["name"] == "json-name"
    assert event["response_length"] == len(response.content)
    assert event["response"] is response
    assert event["context"] == {"k": 1}
    assert event["exception"] is None
    assert abs(event["start_time"] - time.time()) < 5
    assert event["url"] == f"{server}/json"
    assert 0 < event["response_time"] < 1000


def test_bad_status_is_a_failure_with_locusts_exception(server):
    session, recorder = make_session(server)
    response = session.get("/status/500")
    assert response.status_code == 500 and not response.ok
    exception = recorder.fired[0]["exception"]
    assert isinstance(exception, LocustBadStatusCode)
    assert "code=500" in repr(exception)


def test_catch_response_semantics(server):
    session, recorder = make_session(server)
    with session.get("/status/404", catch_response=True) as response:
        assert not recorder.fired, "the event fires on __exit__"
        response.success()
    assert recorder.fired[-1]["exception"] is None

    with session.get("/", catch_response=True) as response:
        response.failure("body was wrong")
    assert isinstance(recorder.fired[-1]["exception"], CatchResponseError)

    with session.get("/", catch_response=True):
        raise ResponseError("checked in the block")
    assert isinstance(recorder.fired[-1]["exception"], ResponseError)

    count = len(recorder.fired)
    with pytest.raises(KeyError):
        with session.get("/", catch_response=True):
            raise KeyError("not a ResponseError")
    assert len(recorder.fired) == count, "no event when another exception escapes the block"


@pytest.mark.parametrize("path", ["/", "/status/404"])
def test_a_with_block_without_catch_response_raises_locust_error(server, path):
    session, recorder = make_session(server)
    with pytest.raises(LocustError, match="catch_response=True"):
        with session.get(path):
            pytest.fail("the block must not run")
    assert len(recorder.fired) == 1, "the request itself was made and reported once"


def test_a_with_block_on_a_failed_connection_raises_locust_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session, _ = make_session(f"http://127.0.0.1:{port}")
    with pytest.raises(LocustError, match="catch_response=True"):
        with session.get("/"):
            pytest.fail("the block must not run")


def test_connection_refused_gives_an_error_response():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session, recorder = make_session(f"http://127.0.0.1:{port}")
    response = session.get("/")
    assert response.status_code == 0
    assert response.content is None and response.text is None and response.headers is None
    assert isinstance(response.error, ConnectionRefusedError)
    with pytest.raises(ConnectionRefusedError):
        response.raise_for_status()
    assert isinstance(recorder.fired[0]["exception"], ConnectionRefusedError)
    assert recorder.fired[0]["response_length"] == 0


def test_timeout_keyword_bounds_the_response(server):
    session, recorder = make_session(server)
    response = session.get("/slow", timeout=0.3)
    assert isinstance(response.error, RetriesExceeded)
    assert isinstance(response.error.original, socket.timeout)
    assert recorder.fired[0]["exception"] is response.error


@pytest.mark.parametrize("catch_response", [False, True])
def test_a_timeout_is_reported_as_locusts_client_reports_it(server, catch_response):
    """RetriesExceeded with the socket.timeout as ``original`` (Locust's tests check it), and the
    time until the timeout as the response time, with and without catch_response."""
    fired = {}
    for label, cls in (("locust", LocustSession), ("ringload", RingloadSession)):
        session, recorder = make_session(server, cls, network_timeout=0.3)
        response = session.get("/slow", catch_response=catch_response)
        if catch_response:
            with response:
                pass
        (event,) = recorder.fired
        assert isinstance(response.error.original, socket.timeout), label
        assert type(event["exception"]) is RetriesExceeded, label
        assert response.status_code == 0
        fired[label] = event
    # Locust's client retries a timed-out GET (0.3 s each); ringload does not resend a request
    # that may have been served, so its time is one timeout.
    assert 290 <= fired["ringload"]["response_time"] < 1000
    assert fired["locust"]["response_time"] >= 290


def test_unknown_keyword_is_a_type_error(server):
    session, _ = make_session(server)
    with pytest.raises(TypeError, match="frobnicate"):
        session.get("/", frobnicate=True)


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nInjected: 1"}, {"X-Nul": "a\x00b"}, {"Bad\nName": "v"}],
)
def test_cr_lf_nul_rejected_before_sending(server, headers):
    session, recorder = make_session(server)
    with pytest.raises(ValueError):
        session.get("/", headers=headers)
    assert app.seen == [] and recorder.fired == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_base_url_without_a_scheme_fails_each_request_as_in_locust(server, host):
    # `--host 127.0.0.1:8080`: Locust's client records a failure (a gaierror) for each request and
    # raises nothing; ringload's failure also names the URL that was meant. Nothing is sent.
    schemeless = server.replace("http://127.0.0.1", host)
    for cls in (LocustSession, RingloadSession):
        session, recorder = make_session(schemeless, cls)
        response = session.get("/json", name="named")
        assert response.status_code == 0, cls
        assert [(e["name"], e["exception"]) for e in recorder.fired] == [("named", response.error)], cls
    assert isinstance(response.error, ValueError)
    assert str(response.error) == (
        f'the URL "{schemeless}/json" lacks http:// or https://; did you mean "http://{schemeless}/json"?'
    )
    with pytest.raises(ValueError, match="did you mean"):
        response.raise_for_status()
    with session.get("/json", catch_response=True) as caught:
        assert caught.error is not None
    assert recorder.fired[-1]["exception"] is caught.error, "recorded as failed under catch_response too"
    assert app.seen == []


def test_redirect_is_followed_and_reported_once(server):
    session, recorder = make_session(server)
    response = session.get("/redirect?/json", name="redir")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response.url == f"{server}/json"
    assert len(recorder.fired) == 1
    assert recorder.fired[0]["name"] == "redir"
    assert recorder.fired[0]["url"] == f"{server}/redirect?/json"
    assert [p for _, p, _ in app.seen] == ["/redirect", "/json"]


def test_credentials_dropped_on_cross_origin_redirect(server):
    other = WSGIServer(("127.0.0.1", 0), app, log=None)
    other.start()
    try:
        session, _ = make_session(server)
        target = f"http://127.0.0.1:{other.server_port}/echo"
        credentials = {"Authorization": "Bearer secret", "Cookie": "a=b", "Proxy-Authorization": "Basic eA=="}
        session.get(f"/redirect?{target}", headers={**credentials, "X-Keep": "1"})
        first, second = app.seen[0][2], app.seen[1][2]
        assert first["authorization"] == "Bearer secret"
        assert first["proxy-authorization"] == "Basic eA=="
        assert "authorization" not in second and "cookie" not in second
        assert "proxy-authorization" not in second
        assert second["x-keep"] == "1"
    finally:
        other.stop(timeout=1)


def test_basic_auth_from_argument_and_from_host_userinfo(server):
    session, _ = make_session(server)
    assert session.get("/auth", auth=("user", "pass")).status_code == 200
    with_userinfo = server.replace("http://", "http://user:pass@")
    session, _ = make_session(with_userinfo)
    assert session.get("/auth").status_code == 200


@pytest.mark.parametrize("userinfo", ["user:pass", "user:", ":pass", ":", "user", "us%40er:p%C3%A9ss%3A", "%20:%20"])
def test_userinfo_makes_the_basic_header_locusts_session_makes(userinfo):
    # Percent-decoded, then Latin-1; both a user name and a password, or no header.
    base = f"http://{userinfo}@127.0.0.1:1"
    ours, theirs = make_session(base)[0], make_session(base, cls=LocustSession)[0]
    assert ours.auth_header == theirs.auth_header
    assert "@" not in ours.base_url


def test_userinfo_never_reaches_events_names_or_errors(server):
    # A user name alone (an API token in the URL) is stripped from the base URL too.
    session, recorder = make_session(server.replace("http://", "http://TOKEN123@"))
    session.get("/echo")
    assert "TOKEN123" not in recorder.fired[0]["url"] and "TOKEN123" not in session.base_url
    # An absolute URL's userinfo authenticates the request and is not the stats name.
    session, recorder = make_session(server)
    assert session.get(server.replace("http://", "http://user:pass@") + "/auth").status_code == 200
    assert "pass" not in recorder.fired[-1]["url"] and "pass" not in recorder.fired[-1]["name"]
    with pytest.raises(ValueError) as error:
        session.get("ftp://user:secret99@127.0.0.1/")
    assert "secret99" not in str(error.value)


def test_cookies_are_kept_per_session(server):
    session, _ = make_session(server)
    session.get("/cookie/set")
    assert session.get("/cookie/check").status_code == 200
    other, recorder = make_session(server)
    assert other.get("/cookie/check").status_code == 400


@pytest.mark.parametrize("cls", [LocustSession, RingloadSession], ids=["locust", "ringload"])
def test_a_cookie_the_locustfile_puts_in_the_jar_is_sent(server, cls):
    from http.cookiejar import Cookie

    session, _ = make_session(server, cls)
    assert session.get("/cookie/check").status_code == 400
    session.cookiejar.set_cookie(
        Cookie(0, "sid", "42", None, False, "127.0.0.1", False, False, "/", True, False, None, False, None, None, {})
    )
    assert session.get("/cookie/check").status_code == 200
    session.cookiejar.clear()
    assert session.get("/cookie/check").status_code == 400


def test_a_session_makes_its_cookie_jar_when_first_used(server):
    session, _ = make_session(server)
    session.get("/")
    assert session._cookiejar is None, "no cookie, no jar"
    session.get("/cookie/set")
    assert len(session.cookiejar) == 1
    fresh, _ = make_session(server)
    jar = fresh.cookiejar
    assert fresh.cookiejar is jar and len(jar) == 0
    fresh.cookiejar = replacement = type(jar)()
    assert fresh.cookiejar is replacement


def test_gzip_is_decoded(server):
    session, recorder = make_session(server)
    response = session.get("/gzip")
    assert response.content == b"x" * 1000
    assert recorder.fired[0]["response_length"] == 1000


def test_bodies_json_and_form(server):
    session, _ = make_session(server)
    echoed = session.post("/echo", json={"a": 1})
    assert json.loads(echoed.content) == {"a": 1}
    assert app.seen[-1][2]["accept"] == "application/json"
    form = session.post("/echo", data={"q": "a b"})
    assert form.content == b"q=a+b"
    assert form.headers["content-type"].startswith("application/x-www-form-urlencoded")


def _comparable(event):
    response = event["response"]
    exception = event["exception"]
    return {
        "request_type": event["request_type"],
        "name": event["name"],
        "response_length": event["response_length"],
        "status": getattr(response, "status_code", None),
        "content": getattr(response, "content", None),
        "context": event["context"],
        "exception": repr(exception) if exception is not None else None,
        "url": event["url"],
    }


@pytest.mark.parametrize(
    "call",
    [
        ("GET", "/", {}),
        ("GET", "/json", {"name": "named"}),
        ("GET", "/status/404", {}),
        ("GET", "/status/503", {"context": {"tenant": "a"}}),
        ("POST", "/echo", {"json": {"x": [1, 2]}}),
        ("POST", "/echo", {"data": "plain text"}),
        ("GET", "/gzip", {}),
        ("GET", "/redirect?/json", {}),
        ("HEAD", "/", {}),
        ("GET", "/", {"params": {"page": 2}}),
    ],
)
def test_events_match_locusts_fasthttpuser(server, call):
    """The same request through Locust's FastHttpSession and ringload's fires the same event."""
    method, path, kwargs = call
    fired = {}
    for label, cls in (("locust", LocustSession), ("ringload", RingloadSession)):
        session, recorder = make_session(server, cls)
        before = time.time()
        session.request(method, path, **kwargs)
        (event,) = recorder.fired
        assert before - 0.01 <= event["start_time"] <= time.time()
        assert 0 <= event["response_time"] < 2000
        fired[label] = event
    assert _comparable(fired["ringload"]) == _comparable(fired["locust"])
    # Both measure the same tiny local exchange: within 100 ms of each other.
    assert abs(fired["ringload"]["response_time"] - fired["locust"]["response_time"]) < 100


@pytest.mark.parametrize("catch_response", [False, True])
def test_a_user_killed_mid_request_reports_nothing_and_stops_at_once_as_in_locust(server, catch_response):
    """Locust stops users by killing their greenlet. Stock Locust's greenlet dies in its socket
    wait: the request fires no event (its ``catch_response`` block never runs) and the kill
    takes effect at once. ringload must do the same, or a locustfile that turns an expected
    status into success() gets failures, and a different exit code, from ringload alone."""

    def request(session):
        if catch_response:
            with session.get("/slow", catch_response=True) as response:
                response.success()
        else:
            session.get("/slow")

    for label, cls in (("locust", LocustSession), ("ringload", RingloadSession)):
        app.seen.clear()
        session, recorder = make_session(server, cls)
        user = gevent.spawn(request, session)
        gevent.sleep(0.3)
        assert [path for _, path, _ in app.seen] == ["/slow"], f"{label}: the request reached the server"
        killed_at = time.perf_counter()
        user.kill(block=True, timeout=5)
        assert user.dead
        assert time.perf_counter() - killed_at < 0.5, f"{label}: the kill waited for the response"
        # The slow response (2 s) arrives meanwhile: it is dropped, not reported.
        gevent.sleep(2.2)
        assert recorder.fired == [], label


def test_one_engine_per_thread_across_greenlets():
    """gevent's monkey-patching makes threading.local greenlet-local; the engine must still be
    shared by every user (greenlet) of the thread."""
    from ringload._dispatch import dispatcher

    first, second = gevent.spawn(dispatcher), gevent.spawn(dispatcher)
    gevent.joinall([first, second])
    assert first.value is second.value is dispatcher()


def _user(server, fired):
    from locust.env import Environment

    environment = Environment(events=Events())
    environment.events.request.add_listener(lambda **kw: fired.append(kw))

    class Api(ringload_fasthttp.FastHttpUser):
        host = server

    return Api(environment)


def test_rest_parses_json_and_turns_assertions_into_failures(server):
    fired = []
    user = _user(server, fired)
    with user.rest("GET", "/json") as response:
        assert response.js == {"ok": True}
    assert fired[-1]["exception"] is None
    with user.rest("GET", "/") as response:  # "hello" is not JSON
        pass
    assert isinstance(fired[-1]["exception"], CatchResponseError)
    with user.rest("GET", "/json") as response:
        assert response.js["ok"] is False, "wrong flag,"
    assert "wrong flag" in str(fired[-1]["exception"])
    assert app.seen[-1][2]["accept"] == "application/json"
    assert len(fired) == 3


def test_rename_request_groups_names(server):
    fired = []
    user = _user(server, fired)
    with user.client.rename_request("grouped"):
        user.client.get("/json")
        user.client.get("/", name="explicit")
    user.client.get("/")
    assert [event["name"] for event in fired] == ["grouped", "explicit", "/"]


def test_class_attributes_and_defaults_match_locust():
    from locust.contrib.fasthttp import FastHttpUser as LocustFastHttpUser

    for attribute in (
        "network_timeout",
        "connection_timeout",
        "max_redirects",
        "max_retries",
        "insecure",
        "default_headers",
        "concurrency",
        "proxy_host",
        "proxy_port",
        "client_pool",
        "ssl_context_factory",
        "abstract",
    ):
        assert getattr(ringload_fasthttp.FastHttpUser, attribute) == getattr(LocustFastHttpUser, attribute), attribute


@pytest.mark.parametrize("cls", [RingloadSession, LocustSession], ids=["ringload", "locust"])
def test_session_iter_lines_goes_through_request_and_iter_content(cls):
    # Locust's own TestFastHttpSession.test_iter_lines: a locustfile may replace request().
    session, _ = make_session("http://127.0.0.1:1", cls=cls)
    response = MagicMock()
    response.iter_content = MagicMock(return_value=iter([b"<span>0</span>\n<span>", "1</span>\n", b"<span>2"]))
    session.request = MagicMock(return_value=response)
    assert list(session.iter_lines("/streaming/3", method="POST")) == [f"<span>{i}</span>" for i in range(2)] + [
        "<span>2"
    ]
    session.request.assert_called_once_with("POST", "/streaming/3", stream=True)
    response.raise_for_status.assert_called_once_with()
    response.iter_content.assert_called_once_with(chunk_size=1024, decode_content=True)


def _client_args_of_users(base, package, **attributes):
    from locust.env import Environment

    user_class = type("U", (package.FastHttpUser,), {"host": base, **attributes})
    return user_class(Environment(events=Events())).client.client.clientpool.client_args


@pytest.mark.parametrize(
    "attributes",
    [{}, {"insecure": False}, {"ssl_context_factory": staticmethod(gevent.ssl.create_default_context)}],
    ids=["default", "secure", "factory"],
)
def test_clientpool_client_args_as_locusts(server, attributes):
    import locust.contrib.fasthttp as locust_fasthttp

    ours = _client_args_of_users(server, ringload_fasthttp, **attributes)
    theirs = _client_args_of_users(server, locust_fasthttp, **attributes)
    assert ours == theirs


def test_clientpool_exposes_the_ssl_context_factory():
    # Locust's own TestFastHttpSession.test_custom_ssl_context_passed_correct_to_client_pool.
    def custom_ssl_context():
        return gevent.ssl.create_default_context()

    def another_factory():
        return gevent.ssl.create_default_context()

    for cls in (RingloadSession, LocustSession):
        session, _ = make_session("https://127.0.0.1:1", cls=cls, ssl_context_factory=custom_ssl_context)
        assert session.client.clientpool.client_args["ssl_context_factory"] is custom_ssl_context
        assert session.client.clientpool.client_args["ssl_context_factory"] != another_factory


def test_missing_host_stops_the_test():
    from locust.env import Environment
    from locust.exception import StopTest

    class NoHost(ringload_fasthttp.FastHttpUser):
        pass

    with pytest.raises(StopTest, match="base host"):
        NoHost(Environment(events=Events()))


def test_deflate_is_decoded(server):
    session, recorder = make_session(server)
    assert session.get("/deflate").content == b"y" * 500
    assert recorder.fired[0]["response_length"] == 500


def test_engine_thread_keeps_the_process_cpu_affinity(tmp_path):
    """Under taskset the engine thread stays on the allowed CPUs (it is not pinned elsewhere)."""
    import subprocess
    import sys

    probe = (
        "import glob, time, ringload._dispatch as d; d.dispatcher(); time.sleep(0.5)\n"
        "for status in glob.glob('/proc/self/task/*/status'):\n"
        "    fields = dict(line.split(':', 1) for line in open(status) if ':' in line)\n"
        "    if fields['Name'].strip() == 'ringload-client':\n"
        "        print(fields['Cpus_allowed_list'].strip())\n"
    )
    completed = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["0"], completed.stdout


def test_a_session_keeps_working_in_a_forked_child():
    """A session caches its dispatcher; in a forked child (Locust's --processes) there is no engine
    thread behind it, so its next request must start a new engine, not hang or fail."""
    import subprocess
    import sys

    probe = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import os\n"
        "from locust.event import Events\n"
        "from ringload import TargetServer\n"
        "from ringload.contrib.fasthttp import FastHttpSession\n"
        "with TargetServer() as server:\n"
        "    session = FastHttpSession(server.url.rstrip('/'), Events().request, None)\n"
        "    assert session.get('/').status_code == 200\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        response = session.get('/')\n"
        "        fresh = session._dispatcher is not None and not session._dispatcher.stale\n"
        "        os._exit(0 if response.status_code == 200 and fresh else 1)\n"
        "    _, status = os.waitpid(pid, 0)\n"
        "    assert session.get('/').status_code == 200\n"
        "    print(os.waitstatus_to_exitcode(status), server.requests())\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    # the child exited 0, and the server saw the parent's two requests and the child's one
    assert completed.stdout.split() == ["0", "3"], completed.stdout


@pytest.mark.parametrize("io", ["epoll", "uring"])
def test_an_engine_whose_runtime_cannot_start_raises(io):
    """The engine thread builds its I/O runtime before the constructor returns; when that fails
    (here: no descriptor left for the ring or the epoll instance) Python gets an OSError at once,
    instead of an engine that leaves the first request waiting forever."""
    import subprocess
    import sys

    probe = (
        "import os, resource\n"
        "from ringload import _ringload\n"
        "def is_open(fd):\n"
        "    try:\n        os.fstat(fd)\n    except OSError:\n        return False\n    return True\n"
        "limit = os.open('/dev/null', os.O_RDONLY) + 1  # the lowest free descriptor: all below are in use\n"
        "free = 0\n"
        "while free < 3:  # room for the socketpair and the eventfd the engine opens first, none for its runtime\n"
        "    free += not is_open(limit)\n"
        "    limit += 1\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        f"try:\n    _ringload.Engine({io!r})\n"
        "except OSError as e:\n    print('OSError:', e)\n"
        "else:\n    print('started')\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("OSError: cannot start the ringload engine"), completed.stdout


@pytest.mark.parametrize(
    "kwargs",
    [{"json": {"a": 1}}, {"json": [1], "params": {"p": "1"}}, {"data": "x=1"}, {"data": {"a": "1"}}, {"data": b"raw"}],
    ids=repr,
)
def test_request_body_is_what_locusts_client_shows(server, kwargs):
    ours, _ = make_session(server)
    theirs, _ = make_session(server, cls=LocustSession)
    our_response, their_response = ours.post("/echo", **kwargs), theirs.post("/echo", **kwargs)
    assert type(our_response.request.body) is type(their_response.request.body)
    assert our_response.request.body == their_response.request.body
    assert our_response.content == their_response.content


def test_elapsed_and_history_as_locusts_fasthttp_responses(server):
    """``elapsed`` (to the response head) and ``history`` (the redirects followed), compared with
    Locust's own FastHttpSession on the same requests."""
    for path, hops in (("/json", []), ("/redirect?/redirect?/json", [302, 302])):
        for cls in (LocustSession, RingloadSession):
            session, _ = make_session(server, cls)
            response = session.get(path)
            assert response.status_code == 200
            assert [hop.status_code for hop in response.history] == hops, cls
            assert isinstance(response.elapsed, timedelta), cls
            assert 0 < response.elapsed.total_seconds() < 1


@pytest.mark.parametrize("cls_name", ["fasthttp", "httpuser"])
def test_a_response_is_freed_without_the_cyclic_collector(server, cls_name):
    """A response that referenced itself (through its request_meta, say) would wait for the cyclic
    collector: a cost on every request of a load test."""
    import gc
    import weakref

    cls = RingloadSession if cls_name == "fasthttp" else pytest.importorskip("ringload.httpuser").HttpSession
    session = cls(server, Events().request, None)  # no listener that keeps the events
    session.get("/")  # connected, cookies and caches settled
    gc.disable()
    try:
        response = session.get("/json", name="named")
        if cls_name == "httpuser":
            assert response.request_meta["name"] == "named"
            assert response.request_meta["response"] is response
        freed = weakref.ref(response)
        del response
        assert freed() is None
    finally:
        gc.enable()


def test_the_fasthttp_module_keeps_the_names_locustfiles_import():
    # FastHttpUser's module re-exports what moved into ringload._client, and the names of Locust's
    # module it had: a locustfile that changes only its import line keeps working.
    import ringload.contrib.fasthttp as ours

    names = [
        *ours.__all__,
        *("REDIRECT_RESPONSE_CODES", "VALID_RESPONSE_CODES", "native_proxies", "insecure_ssl_context_factory"),
        *("CatchResponseError", "LocustError", "ResponseError"),
        *("HTTPClientPool", "HTTPConnectionClosed", "HTTPParseError"),
    ]
    assert [name for name in names if not hasattr(ours, name)] == []
    assert ours.FastHttpUser.session_class is ours.FastHttpSession
