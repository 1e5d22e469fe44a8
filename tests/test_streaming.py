"""``stream=True``: the call returns at the response head, and the body is read as it arrives
(``read(n)``, ``iter_content``, ``iter_lines``, ``FastHttpSession.iter_lines``) without blocking
the hub: a server that sends a line every 100 ms yields each line at its own time."""

from __future__ import annotations

import time

import gevent
import pytest

fasthttp = pytest.importorskip("ringload.contrib.fasthttp")
httpuser = pytest.importorskip("ringload.httpuser")

import requests  # noqa: E402
from locust.event import Events  # noqa: E402
from ringload.testing import HostileServer  # noqa: E402

GAP = 0.1
LINES = 5
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def server_sent_events(gap: float = GAP, lines: int = LINES, then: tuple = (("send", b"0\r\n\r\n"), ("repeat",))):
    steps: list[tuple] = [("read",), ("send", HEAD)]
    for i in range(lines):
        steps += [("sleep", gap), ("send", _chunk(b"data: %d\n" % i))]
    return HostileServer([*steps, *then])


def session(base, cls=fasthttp.FastHttpSession, **kwargs):
    events = Events()
    fired: list = []
    events.request.add_listener(lambda **kw: fired.append(kw))
    return cls(base, request_event=events.request, user=None, **kwargs), fired


def test_stream_returns_at_the_head_and_lines_arrive_at_their_own_times():
    with server_sent_events() as server:
        client, fired = session(server.url)
        started = time.perf_counter()
        response = client.get("/events", stream=True)
        assert time.perf_counter() - started < GAP, "returned before the body"
        assert fired[0]["response_time"] < GAP * 1000, "response time ends at the headers"
        assert fired[0]["exception"] is None
        arrivals = []
        for line in response.iter_lines():
            arrivals.append((line, time.perf_counter() - started))
        assert [line for line, _ in arrivals] == [f"data: {i}" for i in range(LINES)]
        # One line per gap, not all at the end.
        for i, (_, at) in enumerate(arrivals):
            assert GAP * (i + 1) - 0.03 <= at < GAP * (i + 1) + 0.08, arrivals


def test_session_iter_lines_and_a_hub_that_keeps_running():
    ticks = []

    def ticker():
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(0.01)

    with server_sent_events() as server:
        client, _ = session(server.url)
        running = gevent.spawn(ticker)
        try:
            lines = list(client.iter_lines("/events"))
        finally:
            running.kill()
    assert lines == [f"data: {i}" for i in range(LINES)]
    # The hub ran the other greenlet all along (~50 ticks in 0.5 s).
    assert len(ticks) >= 25, len(ticks)


def test_session_iter_lines_keeps_a_character_split_between_arrivals_whole():
    steps = [("read",), ("send", HEAD), ("send", _chunk(b"caf\xc3")), ("sleep", GAP)]
    steps += [("send", _chunk(b"\xa9\nnext\n")), ("send", b"0\r\n\r\n"), ("repeat",)]
    with HostileServer(steps) as server:
        client, _ = session(server.url)
        assert list(client.iter_lines("/")) == ["caf\u00e9", "next"]


def test_read_n_returns_what_has_arrived_and_content_reads_the_rest():
    with server_sent_events() as server:
        client, _ = session(server.url)
        response = client.get("/", stream=True)
        assert response.stream.read(4) == b"data"
        assert response.read(100) == b": 0\n", "what has arrived, not 100 bytes"
        assert response.content == b"".join(b"data: %d\n" % i for i in range(1, LINES))
        # The connection carried the whole body and is reused.
        assert client.get("/").content == b"".join(b"data: %d\n" % i for i in range(LINES))
        assert server.connections() == 1


def test_a_body_that_breaks_off_ends_iteration_as_in_locust():
    with server_sent_events(lines=2, then=(("close",),)) as server:
        client, _ = session(server.url)
        response = client.get("/", stream=True)
        assert list(response.iter_content(chunk_size=1024)) == ["data: 0\n", "data: 1\n"]


def test_each_wait_for_more_of_the_body_is_bounded_by_the_timeout():
    # Lines every 0.1 s for 0.5 s under a 0.3 s timeout: the body keeps it alive...
    with server_sent_events() as server:
        client, _ = session(server.url, network_timeout=0.3)
        assert len(list(client.get("/", stream=True).iter_lines())) == LINES
    # ...and a stall longer than it fails the read.
    with server_sent_events(gap=0.6, lines=1) as server:
        client, _ = session(server.url, network_timeout=0.3)
        response = client.get("/", stream=True)
        with pytest.raises(TimeoutError):
            response.read()


def test_httpuser_iter_lines_and_iter_content_as_requests():
    with server_sent_events() as server:
        client, fired = session(server.url, cls=httpuser.HttpSession)
        started = time.perf_counter()
        response = client.get("/", stream=True)
        lines = []
        for line in response.iter_lines(chunk_size=None):
            lines.append((line, time.perf_counter() - started))
        assert [line for line, _ in lines] == [b"data: %d" % i for i in range(LINES)]
        assert lines[0][1] < GAP + 0.08 and lines[-1][1] >= GAP * LINES - 0.03
        assert fired[0]["response_time"] < GAP * 1000
        chunks = list(client.get("/", stream=True).iter_content(chunk_size=None, decode_unicode=True))
        assert "".join(chunks) == "".join(f"data: {i}\n" for i in range(LINES))
        assert len(chunks) == LINES, "one chunk per arrival"


def test_httpuser_body_broken_off_raises_requests_chunked_encoding_error():
    with server_sent_events(lines=1, then=(("close",),)) as server:
        client, _ = session(server.url, cls=httpuser.HttpSession)
        response = client.get("/", stream=True)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            list(response.iter_content(chunk_size=None))


def test_catch_response_streams_too():
    with server_sent_events() as server:
        client, fired = session(server.url)
        with client.get("/", stream=True, catch_response=True) as response:
            assert response.read(4) == b"data"
            assert response.content.endswith(b"data: 4\n")
            response.success()
        assert fired[0]["exception"] is None
        assert type(response).__name__ == "ResponseContextManager"


def test_a_stream_closed_half_read_frees_its_connection():
    # Each connection streams for 2 s; with one connection allowed, a second stream gets its
    # head at once only if closing the first freed the connection.
    with server_sent_events(gap=0.1, lines=20) as server:
        # No listener that keeps the events (and so the responses) alive.
        client = fasthttp.FastHttpSession(server.url, Events().request, None, concurrency=1)
        first = client.get("/", stream=True)
        assert first.read(6) == b"data: "
        first.close()
        started = time.perf_counter()
        second = client.get("/", stream=True)
        assert second.status_code == 200
        assert time.perf_counter() - started < 0.6, "the closed stream's connection was freed"
        assert second.read(6) == b"data: "
        del second  # dropped half read: the same as closing it
        gevent.sleep(0.3)
        assert client.get("/", stream=True, timeout=0.6).status_code == 200
        assert server.connections() == 3


def test_a_compressed_stream_is_decoded_as_it_arrives():
    import zlib

    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    parts = [compressor.compress(b"data: %d\n" % i) + compressor.flush(zlib.Z_SYNC_FLUSH) for i in range(3)]
    parts.append(compressor.flush())
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/event-stream\r\n\r\n"
    )
    steps: list[tuple] = [("read",), ("send", head)]
    for part in parts:
        steps += [("sleep", GAP), ("send", _chunk(part))]
    steps += [("send", b"0\r\n\r\n"), ("repeat",)]
    with HostileServer(steps) as server:
        # HttpUser asks for gzip (requests' default headers), as requests does, and decodes.
        client, _ = session(server.url, cls=httpuser.HttpSession)
        started = time.perf_counter()
        lines = [(line, time.perf_counter() - started) for line in client.get("/", stream=True).iter_lines()]
        assert [line for line, _ in lines] == [b"data: 0", b"data: 1", b"data: 2"]
        assert lines[0][1] < GAP * 2, "decoded as it arrived, not at the end"


def test_read_advances_through_a_response_that_is_not_streamed():
    with server_sent_events(gap=0.0) as server:
        client, _ = session(server.url)
        response = client.get("/")
        assert response.read(4) == b"data"
        assert response.read(4) == b": 0\n"
        rest = response.read()
        assert rest.endswith(b"data: 4\n")
        assert response.read(4) == b"", "at the end, as a file"


def test_two_greenlets_reading_one_stream_each_get_the_next_bytes():
    with server_sent_events() as server:
        client, _ = session(server.url)
        response = client.get("/", stream=True)
        taken: list[tuple[str, bytes]] = []

        def reader(name):
            while chunk := response.read(3):
                taken.append((name, chunk))
                gevent.sleep(0)  # let the other reader take the next bytes

        readers = [gevent.spawn(reader, name) for name in ("a", "b")]
        try:
            gevent.joinall(readers, timeout=GAP * LINES + 2)
            assert all(r.dead for r in readers), "a reader was never woken"
        finally:
            gevent.killall(readers)
        assert b"".join(chunk for _, chunk in taken) == b"".join(b"data: %d\n" % i for i in range(LINES))
        assert {name for name, _ in taken} == {"a", "b"}


def test_a_stream_read_from_another_threads_hub_raises_at_once():
    with server_sent_events(gap=1.0, lines=1) as server:
        client, _ = session(server.url)
        response = client.get("/", stream=True)

        def read_elsewhere():
            started = time.perf_counter()
            try:
                response.read(4)
            except RuntimeError as error:
                return str(error), time.perf_counter() - started
            return None, time.perf_counter() - started

        message, waited = gevent.get_hub().threadpool.spawn(read_elsewhere).get(timeout=5)
        assert message is not None and "thread that sent" in message
        assert waited < 0.5, "raised before anything arrived, not after"
        # The thread that sent it still reads it.
        assert response.content == b"data: 0\n"


BIG_BODY = 64 * 1024 * 1024
UNREAD_BOUND = 1024 * 1024  # MAX_UNREAD_STREAM_BYTES


@pytest.fixture
def big_body_server():
    """Sends a 64 MiB body as fast as TCP lets it, counting what the socket took."""
    from gevent.server import StreamServer

    sent = [0]

    def handle(sock, _address):
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG_BODY)
        block = b"x" * 65536
        try:
            for _ in range(BIG_BODY // len(block)):
                sock.sendall(block)
                sent[0] += len(block)
        except OSError:
            pass

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}", sent
    server.stop(timeout=1)


def test_an_unread_stream_stops_the_socket_reads_at_the_bound_and_resumes(big_body_server):
    url, sent = big_body_server
    # The reader holds the body three times longer than the timeout: not the server's delay. (A
    # second of timeout: the server is a greenlet of this thread, which a loaded machine can
    # keep from sending for a few hundred milliseconds once reading resumes.)
    client, _ = session(url, network_timeout=1.0)
    response = client.get("/", stream=True)
    gevent.sleep(3.0)
    held = response._body_stream.received
    assert UNREAD_BOUND <= held <= UNREAD_BOUND + 64 * 1024, held
    assert sent[0] < BIG_BODY / 2, "the server's sends blocked: TCP carried the back-pressure"
    total = 0
    for chunk in response.iter_content(chunk_size=256 * 1024):
        total += len(chunk)
    assert total == BIG_BODY
    assert response._body_stream.received == BIG_BODY
