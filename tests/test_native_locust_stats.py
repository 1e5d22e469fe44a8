"""Native users' batch merge against stock Locust: the same synthetic requests, fed one by one into a
RequestStats the way Locust logs a request, and merged in a few batches the way the engine will hand
them over, must leave the two RequestStats agreeing on everything Locust's outputs read."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import locust.stats
import pytest
from locust.event import Events
from locust.exception import CatchResponseError
from locust.stats import RequestStats, StatsEntry, StatsError
from ringload._native.locust_stats import EntryDelta, ErrorDelta, merge

BASE = 1_760_000_000  # a whole epoch second; completions fall in BASE+1 .. BASE+15
START = BASE + 0.5  # when both RequestStats are created: a second with no completions
NAMES = [("GET", "/a"), ("GET", "/b"), ("POST", "/a"), ("PUT", "/items/[id]")]
# Every bucket range, its edges, and exact ties that Python's round() sends to the even side.
SPECIAL_MS = [0.05, 0.3, 0.5, 1.5, 2.5, 3.5, 99.4, 99.5, 100.0, 145.0, 155.0, 999.0, 999.5, 1000.0, 1050.0]
SPECIAL_MS += [1250.0, 9950.0, 10000.0, 15500.0, 16500.0, 20000.0]
# Whole batches of completion seconds, so the merged response-times cache keys line up with Locust's.
BATCHES = [range(1, 5), range(5, 9), range(9, 13), range(13, 16)]


def _failures() -> list[Exception]:
    return [
        CatchResponseError("bad status 500"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        RuntimeError(object()),  # its repr carries an address, which parse_error masks
    ]


@dataclass
class Request:
    method: str
    name: str
    latency_ms: float
    content_length: int
    completed: float
    error: Exception | None


def synthetic_requests(count: int = 3000, seed: int = 7) -> list[Request]:
    rng = random.Random(seed)
    failures = _failures()
    out = []
    for _ in range(count):
        if rng.random() < 0.3:
            latency = rng.choice(SPECIAL_MS)
        else:  # log-uniform over 0.05 ms .. 20 s, at µs precision so that values repeat a little
            latency = round(math.exp(rng.uniform(math.log(0.05), math.log(20_000))), 3)
        method, name = rng.choice(NAMES)
        error = rng.choice(failures) if rng.random() < 0.1 else None
        out.append(Request(method, name, latency, rng.randrange(0, 5000), BASE + 1 + rng.random() * 15, error))
    out.sort(key=lambda r: r.completed)
    assert int(out[-1].completed) == BASE + 15
    return out


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """`time.time()` as locust.stats sees it: whatever the test puts in clock[0]."""
    now = [START]
    monkeypatch.setattr(locust.stats, "time", SimpleNamespace(time=lambda: now[0]))
    yield now


def log_like_locust(stats: RequestStats, requests: list[Request], clock: list[float]) -> None:
    """What the runner's `events.request` listener does for each request, at its completion time."""
    for r in requests:
        clock[0] = r.completed
        # Float milliseconds, as FastHttpUser logs them (Locust's annotation says int).
        stats.log_request(r.method, r.name, r.latency_ms, r.content_length)  # type: ignore[arg-type]
        if r.error is not None:
            stats.log_error(r.method, r.name, r.error)


def engine_batch(requests: list[Request]) -> tuple[list[EntryDelta], list[ErrorDelta]]:
    """The aggregates the engine hands over for these requests: per name, never per request."""
    by_name: dict[tuple[str, str], list[Request]] = defaultdict(list)
    for r in requests:
        by_name[(r.method, r.name)].append(r)
    entries = []
    for (method, name), rs in by_name.items():
        delta = EntryDelta(name, method)
        delta.add_latencies(Counter(r.latency_ms for r in rs).items())
        per_second = Counter(int(r.completed) for r in rs)
        failed_per_second = Counter(int(r.completed) for r in rs if r.error is not None)
        for second, n in per_second.items():
            delta.add_second(second, n, failed_per_second[second])
        delta.add_content_length(sum(r.content_length for r in rs))
        delta.add_failures(sum(1 for r in rs if r.error is not None))
        delta.completed_at(max(r.completed for r in rs))
        delta.first_completed_at(min(r.completed for r in rs))
        entries.append(delta)
    grouped: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in requests:
        if r.error is not None:
            grouped[(r.method, r.name, repr(r.error))].append(r.completed)
    errors = [ErrorDelta(m, n, e, len(ts), min(ts), max(ts)) for (m, n, e), ts in grouped.items()]
    return entries, errors


def merge_in_batches(stats: RequestStats, requests: list[Request], clock: list[float]) -> None:
    for seconds in BATCHES:
        batch = [r for r in requests if int(r.completed) - BASE in seconds]
        clock[0] = batch[-1].completed  # drained as the batch's last request completes
        merge(stats, *engine_batch(batch))


def both(requests: list[Request], clock: list[float], cache: bool = True) -> tuple[RequestStats, RequestStats]:
    clock[0] = START
    stock, merged = RequestStats(use_response_times_cache=cache), RequestStats(use_response_times_cache=cache)
    log_like_locust(stock, requests, clock)
    merge_in_batches(merged, requests, clock)
    return stock, merged


def pairs(stock: RequestStats, merged: RequestStats) -> list[tuple[StatsEntry, StatsEntry]]:
    assert sorted(stock.entries) == sorted(merged.entries)
    return [(stock.total, merged.total)] + [(stock.entries[k], merged.entries[k]) for k in sorted(stock.entries)]


def assert_same_entry(a: StatsEntry, b: StatsEntry) -> None:
    where = f"{a.method} {a.name}"
    for attr in ["num_requests", "num_failures", "num_none_requests", "min_response_time", "max_response_time"]:
        assert getattr(a, attr) == getattr(b, attr), (where, attr)
    for attr in ["total_content_length", "last_request_timestamp", "start_time"]:
        assert getattr(a, attr) == getattr(b, attr), (where, attr)
    for attr in ["response_times", "num_reqs_per_sec", "num_fail_per_sec"]:
        assert dict(getattr(a, attr)) == dict(getattr(b, attr)), (where, attr)
    assert b.total_response_time == pytest.approx(a.total_response_time, rel=1e-12), where
    assert (a.current_rps, a.current_fail_per_sec) == (b.current_rps, b.current_fail_per_sec), where
    assert (a.total_rps, a.total_fail_per_sec) == pytest.approx((b.total_rps, b.total_fail_per_sec), rel=1e-12)
    assert a.median_response_time == b.median_response_time, where
    for p in [0.5, 0.95, 0.99]:
        assert a.get_response_time_percentile(p) == b.get_response_time_percentile(p), (where, p)


def test_the_synthetic_requests_cover_buckets_ties_and_failures() -> None:
    requests = synthetic_requests()
    latencies = {r.latency_ms for r in requests}
    assert min(latencies) == 0.05 and max(latencies) == 20_000
    assert {0.5, 2.5, 145.0, 999.5, 16500.0} <= latencies  # round-half-even ties: 0, 2, 140, 1000, 16000
    assert all(any(lo <= x < hi for x in latencies) for lo, hi in [(0, 100), (100, 1e3), (1e3, 1e4), (1e4, 3e4)])
    assert len({repr(r.error) for r in requests if r.error}) == 4
    assert {int(r.completed) - BASE for r in requests} == set(range(1, 16))


def test_batches_agree_with_locust_logging_each_request(clock: list[float]) -> None:
    requests = synthetic_requests()
    stock, merged = both(requests, clock)
    assert merged.total.start_time == stock.total.start_time == START  # merging does not move the start
    assert merged.total.num_requests == len(requests)
    for a, b in pairs(stock, merged):
        assert_same_entry(a, b)
        shown_a, shown_b = a.to_dict(), b.to_dict()  # what the web UI's table shows
        assert shown_b.pop("avg_response_time") == pytest.approx(shown_a.pop("avg_response_time"), rel=1e-12)
        assert shown_a == shown_b


def test_errors_agree_with_locust_logging_each_request(clock: list[float]) -> None:
    stock, merged = both(synthetic_requests(), clock)
    assert stock.errors.keys() == merged.errors.keys() and len(stock.errors) == 4 * len(NAMES)
    for key, a in stock.errors.items():
        b = merged.errors[key]
        assert (a.method, a.name, a.occurrences) == (b.method, b.name, b.occurrences)
        assert (a.first_seen, a.last_seen) == (b.first_seen, b.last_seen)
        assert StatsError.parse_error(a.error) == StatsError.parse_error(b.error)
        assert a.to_dict() == b.to_dict()
    # A later batch accumulates into the rows the earlier ones made, first/last seen included.
    assert sum(e.occurrences for e in merged.errors.values()) == merged.total.num_failures


@pytest.mark.parametrize("seconds_ago", [14, 18, 22])  # t-10 is the last second of batches 1, 2 and 3
def test_current_percentiles_agree_where_the_cache_keys_line_up(clock: list[float], seconds_ago: int) -> None:
    """Locust caches the histogram at key t-1 on the first request of second t; `extend` caches at
    int(last_request_timestamp) after merging. With batches of whole seconds both hold, at a batch's
    last second, everything up to the end of that second."""
    stock, merged = both(synthetic_requests(), clock)
    clock[0] = BASE + seconds_ago + 0.5
    for a, b in pairs(stock, merged):
        key = BASE + seconds_ago - 10
        assert a.response_times_cache is not None and b.response_times_cache is not None
        assert dict(a.response_times_cache[key].response_times) == dict(b.response_times_cache[key].response_times)
        assert a.response_times_cache[key].num_requests == b.response_times_cache[key].num_requests
        for p in [0.5, 0.95]:
            current = a.get_current_response_time_percentile(p)
            assert current is not None and current == b.get_current_response_time_percentile(p), (a.name, p)


def test_without_the_cache_as_on_a_worker(clock: list[float]) -> None:
    stock, merged = both(synthetic_requests(count=500), clock, cache=False)
    for a, b in pairs(stock, merged):
        assert_same_entry(a, b)
        assert b.response_times_cache is None


def test_a_replaced_bucket_response_time_is_honoured(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    default = locust.stats.bucket_response_time

    def three_figures(rt: float) -> int:
        return int(float(f"{rt:.3g}")) if rt >= 1 else round(rt)

    monkeypatch.setattr(locust.stats, "bucket_response_time", three_figures)
    requests = synthetic_requests(count=800)
    stock, merged = both(requests, clock)
    for a, b in pairs(stock, merged):
        assert_same_entry(a, b)
    by_default = Counter(default(r.latency_ms) for r in requests)
    assert dict(merged.total.response_times) != dict(by_default)  # the replacement did change the buckets


def test_an_empty_batch_changes_nothing(clock: list[float]) -> None:
    stats = RequestStats()
    fresh = stats.total.serialize()
    clock[0] = START + 3
    merge(stats, [], [])
    merge(stats, [EntryDelta("/a", "GET")], [ErrorDelta("GET", "/a", "TimeoutError()", 0)])
    assert stats.last_request_timestamp is None and stats.total.last_request_timestamp is None
    assert not stats.entries and not stats.errors
    assert stats.total.serialize() == fresh

    merged = RequestStats()
    merge_in_batches(merged, synthetic_requests(count=300), clock)
    before = [(e.serialize(), dict(e.response_times_cache or {})) for e in [merged.total, *merged.entries.values()]]
    errors_before = {k: e.to_dict() for k, e in merged.errors.items()}
    clock[0] = BASE + 30
    merge(merged, [], [])
    merge(merged, [EntryDelta("/new", "GET")], [])
    after = [(e.serialize(), dict(e.response_times_cache or {})) for e in [merged.total, *merged.entries.values()]]
    assert after == before
    assert {k: e.to_dict() for k, e in merged.errors.items()} == errors_before


def test_errors_accumulate_as_locusts_master_merges_worker_reports(clock: list[float]) -> None:
    """Batches out of completion order (as reports from several workers reach a master): first and
    last seen take the min and max, as Locust's own `on_worker_report` does."""
    requests = synthetic_requests(count=1200)
    batches = [[r for r in requests if int(r.completed) - BASE in seconds] for seconds in BATCHES]
    order = [2, 0, 3, 1]
    master = RequestStats()
    events = Events()
    locust.stats.setup_distributed_stats_event_listeners(events, master)
    merged = RequestStats()
    for i in order:
        worker = RequestStats(use_response_times_cache=False)
        log_like_locust(worker, batches[i], clock)
        report = {"stats": [], "stats_total": worker.total.get_stripped_report(), "errors": worker.serialize_errors()}
        events.worker_report.fire(client_id="worker", data=report)
        merge(merged, [], engine_batch(batches[i])[1])
    assert master.errors.keys() == merged.errors.keys()
    for key, a in master.errors.items():
        assert a.to_dict() == merged.errors[key].to_dict()
    seen = [(e.first_seen, e.last_seen) for e in merged.errors.values()]
    assert all(first is not None and last is not None and int(last) - int(first) > 4 for first, last in seen)


def test_a_batch_completed_before_a_reset_does_not_move_the_start(clock: list[float]) -> None:
    """`--reset-stats` (or the engine's clock a little behind `time.time()`) can hand over completions
    older than the stats' start; `total_rps` and `current_rps` divide by the total's start."""
    requests = synthetic_requests(count=300)
    clock[0] = BASE + 20.0
    stats = RequestStats()
    merge(stats, *engine_batch(requests))
    assert stats.total.start_time == BASE + 20.0
    assert stats.get("/a", "GET").start_time == BASE + 20.0
    assert stats.total.num_requests == 300
