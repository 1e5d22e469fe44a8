"""NativeUser with ``http2 = True``: real Locust runs whose users' requests go over HTTP/2 in the
engine, against the built-in target speaking h2c (and h2 over TLS). Each user has a connection of
its own; with a ``rate``, ``streams`` of its requests may be in flight on it at once."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import ringload

# Imported at collection, before any test starts a server thread (see test_native_users.py).
from locust import constant  # noqa: I001
from locust_runner import run_locust
from ringload import NativeUser, Request

LOCUSTFILE = Path(__file__).parent / "locustfiles" / "native_h2.py"


def _run(target: ringload.TargetServer, tmp_path: Path, mode: str, users: int, run_time: str):
    out = tmp_path / "engine.json"
    result = run_locust(
        LOCUSTFILE, target.url, mode="stock", users=users, spawn_rate=100, run_time=run_time, workdir=tmp_path,
        env={"NATIVE_H2_MODE": mode, "NATIVE_RESULT_FILE": str(out)},
    )  # fmt: skip
    return result, json.loads(out.read_text())


@pytest.mark.parametrize("tls", [False, True])
def test_native_users_speak_http2_on_a_connection_each(tmp_path: Path, tls: bool) -> None:
    users = 3
    with ringload.TargetServer(http2=True, tls=tls) as target:
        result, engine = _run(target, tmp_path, "wait", users, "3s")
        served, connections = target.requests(), target.connections()
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert engine["protocol"] == "h2", engine
    names = {("GET", "home"), ("POST", "echo"), ("GET", "bytes")}
    assert set(result.stats) == names, result.describe()
    counts = [result.stats[key]["requests"] for key in names]
    # A sequence: every step as often as the others, give or take the iteration cut by the stop.
    assert min(counts) > 50 and max(counts) - min(counts) <= users, counts
    # Every response the server sent reached Locust's stats, except the requests in flight at
    # the stop (dropped, one per user at most).
    reported = sum(counts)
    assert reported <= served <= reported + users, (reported, served)
    assert engine["ok"] == reported, engine
    # One connection per user, kept for the whole test, as a Locust user has (over TLS, and one
    # handshake before the test that asked the server for h2 by ALPN).
    assert connections == users + tls, connections
    # Locust's raw entries (--json): the bodies' lengths, as the target sent them.
    entry = next(e for e in json.loads(result.stdout) if e["name"] == "bytes")
    assert entry["total_content_length"] == 2000 * entry["num_requests"] > 0, entry


def test_a_users_rate_with_streams_overlaps_slow_responses(tmp_path: Path) -> None:
    """20 requests/s per user, each taking 200 ms: about 4 in flight per user at once. One stream
    would carry 5 a second and fall behind (as `test_a_rate_the_connection_cannot_carry_is_reported`
    shows over HTTP/1.1); eight keep the schedule, on the user's one connection."""
    users = 2
    with ringload.TargetServer(http2=True) as target:
        result, engine = _run(target, tmp_path, "rate", users, "3s")
        connections = target.connections()
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert "fell behind" not in result.stderr, result.describe()
    entry = result.stats[("GET", "slow")]
    # 2 users x 20/s for the ~3 s they ran, less what was in flight at the stop (0.2 s of it).
    assert 95 <= entry["requests"] <= 122, result.describe()
    # Latency counts from the due time, and nothing waited for a stream: about the 200 ms each took.
    (raw,) = json.loads(result.stdout)
    assert 200 <= raw["min_response_time"] and raw["max_response_time"] < 400, raw
    assert connections == users, connections
    assert engine["protocol"] == "h2", engine


def test_a_load_shape_adds_and_removes_http2_users(tmp_path: Path) -> None:
    """2 users, then 6, then 1: each user added opens its own h2 connection, each one removed
    finishes its request in flight and closes it, and nothing is lost or failed on the way."""
    with ringload.TargetServer(http2=True) as target:
        # The shape ends the run (after 4.5 s), well before the 20 s limit.
        result, engine = _run(target, tmp_path, "shape", 1, "20s")
        served, connections = target.requests(), target.connections()
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert result.wall_s < 15, result.describe()
    reported = result.stats[("GET", "home")]["requests"]
    # Dropped at the stop: the one user left's request in flight, at most.
    assert 0 < reported <= served <= reported + 1, (reported, served)
    # Six users were ever in the run, each on a connection of its own.
    assert connections == 6, connections
    assert engine["protocol"] == "h2" and engine["ok"] == reported, engine


def test_rate_users_removed_with_requests_in_flight_owe_nothing(tmp_path: Path) -> None:
    """Rate users (20/s, 200 ms each, so about four in flight) under the shape: the five removed
    at 3 s finish what they have in flight, and their schedule ends at the removal, not when
    those responses arrive (had it, about 20 requests would count as never sent, and Locust's
    log would say the class fell behind its rate)."""
    with ringload.TargetServer(http2=True) as target:
        result, engine = _run(target, tmp_path, "rate_shape", 1, "20s")
        connections = target.connections()
    assert result.returncode == 0 and result.total_failures() == 0, result.describe()
    assert "fell behind" not in result.stderr, result.describe()
    # 2 users for 1.5 s, 6 for 1.5 s, 1 for 1.5 s, at 20/s each: 270, less the edges.
    assert 200 <= result.stats[("GET", "slow")]["requests"] <= 280, result.describe()
    assert connections == 6, connections
    assert engine["protocol"] == "h2", engine


def _define(source: str) -> None:
    namespace: dict = {"NativeUser": NativeUser, "Request": Request, "constant": constant}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - the test's own class definitions


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("http2 = 'yes'", r"Bad\.http2: must be True or False, not 'yes'"),
        ("http2 = True\n    streams = 0", r"Bad\.streams: must be a whole number of streams from 1 to 65536, not 0"),
        (
            "http2 = True\n    rate = 10\n    streams = 100_000",
            r"Bad\.streams: must be a whole number of streams from 1 to 65536, not 100000",
        ),
        ("streams = 4\n    rate = 10", r"Bad\.streams: needs http2 = True: HTTP/1\.1 sends one request at a time"),
        (
            "http2 = True\n    streams = 4\n    wait_time = constant(1)",
            r"Bad\.streams: above 1 needs a `rate`: with a wait_time a user sends its next request after the "
            r"response",
        ),
    ],
)
def test_http2_attributes_are_checked_at_import(body: str, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        _define(f"class Bad(NativeUser):\n    requests = [Request('GET', '/')]\n    {body}\n")


@pytest.mark.parametrize(
    ("http2", "streams", "wait", "message"),
    [
        (True, 4, ("constant", 0.0, 0.0), r"streams above 1 needs a `rate`"),
        (False, 4, ("arrivals", 0.05, 0.0), r"streams needs http2 = True"),
        (True, 0, ("arrivals", 0.05, 0.0), r"streams must be at least 1"),
    ],
)
def test_the_engine_checks_a_users_streams_too(http2: bool, streams: int, wait: tuple, message: str) -> None:
    """`NativeRun` (what NativeUser starts) refuses them too, before any connection."""
    from ringload import _ringload

    with pytest.raises(ValueError, match=message):
        _ringload.NativeRun(
            "http://127.0.0.1:9", headers=[], scenario=[(None, "GET", "/", [], b"", 1)], sequence=False,
            wait=wait, threads=1, timeout=1.0, connect_timeout=1.0, insecure=True, io="auto",
            http2=http2, streams=streams,
        )  # fmt: skip
