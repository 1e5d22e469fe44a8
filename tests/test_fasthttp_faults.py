"""ringload's FastHttpSession against misbehaving servers (``ringload.testing.HostileServer``):
every request fires exactly one event, failures carry the exception a Locust user would catch,
nothing hangs past its timeout, and a broken connection is never reused.

Also: TLS defaults as in Locust's FastHttpUser, credentials that never leak, proxy variables that
are ignored.
"""

from __future__ import annotations

import gc
import http.client
import http.server
import os
import ssl
import subprocess
import sys
import time
import zlib

import gevent
import pytest

ringload_fasthttp = pytest.importorskip("ringload.contrib.fasthttp")

import ringload  # noqa: E402
from locust.event import Events  # noqa: E402
from ringload.testing import HostileServer, TargetServer  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def open_sockets() -> int:
    """Socket descriptors of this process (the engine creates its io_uring lazily, in its own
    thread, so other descriptor kinds would race with the count)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


@pytest.fixture(autouse=True)
def no_descriptor_leaks():
    """Every case ends with as many open sockets as it started with, once its sessions are gone
    (the engine closes a session's pooled connections when the session is collected)."""
    from ringload._dispatch import dispatcher

    dispatcher()  # the engine thread's own descriptors exist before counting
    gc.collect()  # sessions an earlier test left for the collector close their sockets first
    gevent.sleep(0.05)
    before = open_sockets()
    yield
    deadline = time.monotonic() + 3
    while True:
        gc.collect()
        gevent.sleep(0.05)  # lets the hub run the engine's close commands
        now = open_sockets()
        if now == before or time.monotonic() > deadline:
            break
    assert now == before, f"{now - before} sockets leaked"


class Recorder:
    def __init__(self) -> None:
        self.events = Events()
        self.fired: list[dict] = []
        self.events.request.add_listener(lambda **kw: self.fired.append(kw))


def session_for(base: str, **kwargs):
    recorder = Recorder()
    return ringload_fasthttp.FastHttpSession(base, recorder.events.request, None, **kwargs), recorder


def keep_alive(response: bytes) -> list[tuple]:
    return [("read",), ("send", response), ("repeat",)]


def held(response: bytes) -> list[tuple]:
    """Answer, then keep the connection open: only the client can close it."""
    return [("read",), ("send", response), ("hold",)]


HEAD_200 = b"HTTP/1.1 200 OK\r\n"
CHUNKED = HEAD_200 + b"Transfer-Encoding: chunked\r\n"

# The Python client parses with the engine's ringload-http1, whose full table runs in
# rust/ringload-engine/tests/hostile.rs; these cases check that each kind of breakage surfaces
# through FastHttpSession as one failed event and a connection that is not reused.
BROKEN = [
    ("garbage", b"HELLO\r\n\r\n"),
    ("header without colon", HEAD_200 + b"NoColon\r\nContent-Length: 0\r\n\r\n"),
    ("NUL in a header", HEAD_200 + b"X-Nul: a\0b\r\nContent-Length: 0\r\n\r\n"),
    ("bare CR in a header", HEAD_200 + b"X-Cr: a\rb\r\nContent-Length: 0\r\n\r\n"),
    ("obsolete line folding", HEAD_200 + b"X-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok"),
    ("conflicting Content-Length", HEAD_200 + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nok"),
    ("Content-Length not a number", HEAD_200 + b"Content-Length: abc\r\n\r\nok"),
    ("negative Content-Length", HEAD_200 + b"Content-Length: -1\r\n\r\nok"),
    ("unknown transfer coding", HEAD_200 + b"Transfer-Encoding: frobnicate\r\n\r\nok"),
    ("bad chunk size", CHUNKED + b"\r\nzz\r\n"),
    ("overflowing chunk size", CHUNKED + b"\r\n1ffffffffffffffff\r\nok\r\n0\r\n\r\n"),
    ("long chunk extension", CHUNKED + b"\r\n2;" + b"e" * 5000 + b"\r\nok\r\n0\r\n\r\n"),
    ("header over the size limit", HEAD_200 + b"X-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n"),
    ("a flood of interim responses", b"HTTP/1.1 100 Continue\r\n\r\n" * 20 + HEAD_200 + b"Content-Length: 0\r\n\r\n"),
]

# Unusual but valid framing: (name, response, body, whether the connection may be reused).
WELL_FRAMED = [
    ("TE with CL: chunked wins", CHUNKED + b"Content-Length: 50\r\n\r\n2\r\nok\r\n0\r\n\r\n", b"ok", False),
    ("duplicate equal CL", HEAD_200 + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", b"ok", True),
    ("chunk extension and trailers", CHUNKED + b"\r\n2;a=b\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n", b"ok", True),
    ("204 with Content-Length", b"HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n", b"", True),
    (
        "100 and 103 before the final response",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        + HEAD_200
        + b"Content-Length: 2\r\n\r\nok",
        b"ok",
        True,
    ),
]


@pytest.mark.parametrize(("name", "response", "body", "reusable"), WELL_FRAMED, ids=[case[0] for case in WELL_FRAMED])
def test_unusual_valid_framing_succeeds(name: str, response: bytes, body: bytes, reusable: bool) -> None:
    with HostileServer(keep_alive(response)) as server:
        session, recorder = session_for(server.url)
        for _ in range(2):
            result = session.get("/", name=name)
            assert result.error is None and result.content == body, (name, result.error)
        assert [event["exception"] for event in recorder.fired] == [None, None]
        assert server.connections() == (1 if reusable else 2)


@pytest.mark.parametrize("version", [b"HTTP/1.0", b"HTTP/1.1"])
def test_a_close_delimited_body_is_a_complete_response(version: bytes) -> None:
    with HostileServer([("read",), ("send", version + b" 200 OK\r\n\r\nhello"), ("close",)]) as server:
        session, recorder = session_for(server.url)
        for _ in range(2):
            result = session.get("/")
            assert result.error is None and result.content == b"hello"
        assert len(recorder.fired) == 2
        assert server.connections() == 2


@pytest.mark.parametrize(("name", "response"), BROKEN, ids=[name for name, _ in BROKEN])
def test_broken_responses_fail_once_and_close_the_connection(name: str, response: bytes) -> None:
    with HostileServer(held(response)) as server:
        session, recorder = session_for(server.url)
        for _ in range(2):
            result = session.get("/", name=name)
            assert result.status_code == 0, name
            assert isinstance(result.error, http.client.HTTPException), repr(result.error)
        assert len(recorder.fired) == 2
        assert all(isinstance(event["exception"], http.client.HTTPException) for event in recorder.fired)
        assert server.connections() == 2, "a broken connection is not reused"


@pytest.mark.parametrize(("coding", "name"), [("gzip", "gzip"), ("deflate", "deflate"), ("br", "brotli")])
def test_a_broken_encoding_fails_but_keeps_the_well_framed_connection(coding: str, name: str) -> None:
    broken = f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: 4\r\n\r\nnope".encode()
    with HostileServer(keep_alive(broken)) as server:
        session, recorder = session_for(server.url)
        for _ in range(2):
            result = session.get("/")
            assert result.status_code == 0
            assert isinstance(result.error, http.client.HTTPException)
            assert f"invalid {name} body" in str(result.error)
        assert len(recorder.fired) == 2
        assert server.connections() == 1, "the framing was fine: the connection stays usable"


def test_raw_deflate_is_decoded_too() -> None:
    """Some servers send "deflate" without the zlib wrapper; both forms decode."""
    compressor = zlib.compressobj(wbits=-15)
    raw = compressor.compress(b"z" * 300) + compressor.flush()
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
    with HostileServer(keep_alive(head + raw)) as server:
        session, _ = session_for(server.url)
        assert session.get("/").content == b"z" * 300


def gzip_bomb(decoded_mib: int) -> bytes:
    """gzip of `decoded_mib` MiB of zeros, built a MiB at a time (about 1 KB per MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    zeros = b"\0" * (1 << 20)
    parts = [compressor.compress(zeros) for _ in range(decoded_mib)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_bounded() -> None:
    # 300 MiB of zeros compress to ~300 KB; decoding stops at the limit instead of growing.
    bomb = gzip_bomb(300)
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n".encode()
    with HostileServer(held(head + bomb)) as server:
        session, recorder = session_for(server.url)
        result = session.get("/")
        assert result.status_code == 0
        assert "decodes to more than" in str(result.error)
        assert len(recorder.fired) == 1


def test_extra_bytes_after_the_body_are_not_the_next_response() -> None:
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 299 Smuggled\r\nContent-Length: 0\r\n\r\n"
    with HostileServer(keep_alive(smuggled)) as server:
        session, _ = session_for(server.url)
        statuses = [session.get("/").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert server.connections() == 3


@pytest.mark.parametrize(
    "steps",
    [
        [("read",), ("hold",)],
        [("read",), ("trickle", OK, 0.1)],
    ],
    ids=["silent", "trickling"],
)
def test_slow_servers_time_out_on_time(steps: list[tuple]) -> None:
    with HostileServer(steps) as server:
        session, recorder = session_for(server.url, network_timeout=0.4)
        started = time.monotonic()
        result = session.get("/")
        # As Locust's client reports it: RetriesExceeded whose original is the socket.timeout.
        assert isinstance(result.error.original, TimeoutError)
        assert time.monotonic() - started < 2
        assert len(recorder.fired) == 1
        assert 400 <= recorder.fired[0]["response_time"] < 2000


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([("close",)], http.client.HTTPException),
        ([("read",), ("reset",)], ConnectionResetError),
        ([("read",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"), ("close",)], ConnectionResetError),
        ([("read",), ("send", b"HTTP/1.1 200 OK\r\nContent-Le"), ("reset",)], ConnectionResetError),
        (
            [("read",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes."), ("reset",)],
            ConnectionResetError,
        ),
    ],
    ids=[
        "closed before the request",
        "reset after the request",
        "body cut short",
        "reset mid-headers",
        "reset mid-body",
    ],
)
def test_dropped_connections(steps: list[tuple], error: type[Exception]) -> None:
    with HostileServer(steps) as server:
        session, recorder = session_for(server.url)
        result = session.get("/")
        assert isinstance(result.error, error), repr(result.error)
        assert len(recorder.fired) == 1


#: The server answers, then ends the connection while it is idle: a FIN, a reset, or a 408 and a
#: close (as some load balancers do).
TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
IDLE_ENDS = {
    "closed": [("read",), ("send", OK), ("sleep", 0.02), ("close",)],
    "reset": [("read",), ("send", OK), ("sleep", 0.02), ("reset",)],
    "408": [("read",), ("send", OK), ("sleep", 0.02), ("send", TIMEOUT_408), ("close",)],
}
#: The server answers, reads the next request and closes without an answer: the close raced
#: the send, which no look at the idle socket can see.
CLOSES_ON_THE_NEXT_REQUEST = [("read",), ("send", OK), ("read",), ("close",)]


def test_connection_close_on_every_response_opens_a_connection_per_request() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with HostileServer(held(closing)) as server:
        session, recorder = session_for(server.url)
        assert [session.get("/").content for _ in range(3)] == [b"ok"] * 3
        assert server.connections() == 3 and len(recorder.fired) == 3


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("end", list(IDLE_ENDS))
def test_a_connection_the_server_ended_while_idle_is_replaced_without_failure_or_resend(end: str, method: str) -> None:
    """As geventhttpclient does, an idle pooled connection is looked at before it is reused: a
    server that ended it (a keepalive_timeout, a connection limit) costs no failure, even for a
    POST, and nothing is sent twice."""
    with HostileServer(IDLE_ENDS[end]) as server:
        session, recorder = session_for(server.url)
        assert session.request(method, "/", data=b"x").status_code == 200
        time.sleep(0.1)
        assert session.request(method, "/", data=b"x").status_code == 200
        assert server.requests() == 2 and server.connections() == 2
        assert [event["exception"] for event in recorder.fired] == [None, None]


def test_a_close_that_races_the_send_resends_a_get_once() -> None:
    with HostileServer(CLOSES_ON_THE_NEXT_REQUEST) as server:
        session, recorder = session_for(server.url)
        assert session.get("/").status_code == 200
        time.sleep(0.1)
        assert session.get("/").status_code == 200, "the GET went out again on a new connection"
        assert server.requests() == 3 and server.connections() == 2
        assert len(recorder.fired) == 2


def test_a_close_that_races_the_send_never_resends_a_post() -> None:
    with HostileServer(CLOSES_ON_THE_NEXT_REQUEST) as server:
        session, recorder = session_for(server.url)
        assert session.post("/", data=b"x").status_code == 200
        time.sleep(0.1)
        failed = session.post("/", data=b"x")
        assert failed.status_code == 0, "a POST that may have been received is not resent"
        assert server.requests() == 2 and server.connections() == 1
        assert len(recorder.fired) == 2


def test_tls_self_signed_passes_by_default_like_locust() -> None:
    with TargetServer(tls=True) as server:
        session, _ = session_for(server.url)
        assert session.get("/").status_code == 200
        strict, recorder = session_for(server.url, insecure=False)
        result = strict.get("/")
        assert isinstance(result.error, ssl.SSLError)
        assert "certificate" in str(result.error).lower()
        assert isinstance(recorder.fired[0]["exception"], ssl.SSLError)


PLAIN_HTTP_ANSWER = "the server at this port speaks plain HTTP: use http://"


def test_https_to_a_plain_http_port_says_to_use_http() -> None:
    with TargetServer() as server:
        https_url = server.url.replace("http://", "https://")
        # ringload.run: the TLS failures' example says what the server speaks.
        result = ringload.run(https_url + "/", requests=2, connections=1)
        assert result.failed["tls"] == 2
        assert result.error_examples["tls"] == PLAIN_HTTP_ANSWER
        # FastHttpUser: the failure Locust records says it, not "corrupt message".
        session, recorder = session_for(https_url)
        failure = session.get("/")
        assert isinstance(failure.error, ssl.SSLError)
        assert failure.error.args == (PLAIN_HTTP_ANSWER,)
        assert recorder.fired[0]["exception"] is failure.error
    # `python -m http.server` answers a TLS hello with an HTML page and no status line.
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *_: None})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), quiet) as stdlib_server:
        serving = gevent.spawn(stdlib_server.serve_forever, 0.05)
        try:
            session, _ = session_for(f"https://127.0.0.1:{stdlib_server.server_address[1]}")
            assert session.get("/").error.args == (PLAIN_HTTP_ANSWER,)
        finally:
            stdlib_server.shutdown()
            serving.join(timeout=2)


def test_url_credentials_never_appear_in_results_or_messages() -> None:
    with TargetServer() as server:
        port = server.url.rsplit(":", 1)[1]
    # The server is gone: every request fails, and the failure must not carry the password.
    url = f"http://alice:hunter2secret@127.0.0.1:{port}/"
    result = ringload.run(url, requests=3, connections=1)
    assert result.failed["connect"] == 3
    for text in (repr(result), str(result), result.to_json(), str(result.error_examples), result.url):
        assert "hunter2secret" not in text and "alice" not in text
    with pytest.raises(ValueError) as invalid:
        ringload.run("http://alice:hunter2secret@127.0.0.1:notaport/", requests=1)
    assert "hunter2secret" not in str(invalid.value)

    session, recorder = session_for(f"http://alice:hunter2secret@127.0.0.1:{port}")
    failure = session.get("/")
    assert failure.status_code == 0
    assert "hunter2secret" not in repr(failure.error) and "hunter2secret" not in recorder.fired[0]["url"]


def test_proxy_environment_variables_are_ignored() -> None:
    """ringload has no proxy support: HTTP(S)_PROXY must not divert traffic anywhere."""
    with TargetServer() as target, HostileServer([("read",), ("hold",)]) as proxy:
        env = {
            **os.environ,
            "HTTP_PROXY": proxy.url,
            "http_proxy": proxy.url,
            "HTTPS_PROXY": proxy.url,
            "ALL_PROXY": proxy.url,
        }
        code = (
            "import sys, ringload\n"
            "from ringload.contrib.fasthttp import FastHttpSession\n"
            "from locust.event import Events\n"
            f"r = ringload.run({target.url + '/'!r}, requests=20, connections=2)\n"
            f"s = FastHttpSession({target.url!r}, Events().request, None)\n"
            "print(r.ok, s.get('/').status_code)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["20", "200"]
        assert target.requests() == 21
        assert proxy.connections() == 0
