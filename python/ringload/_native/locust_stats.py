"""Merge the engine's per-name aggregates into Locust's own statistics, in one call per batch.

Native users' requests never pass through Python one by one. A few times a second the engine hands
over, per (name, method), what completed since the last drain. `merge` adds it to
`environment.stats` with `StatsEntry.extend`, the call Locust's master uses for worker reports, so
every Locust output (web UI, CSV, HTML, JSON, the worker's reports to its master) counts these
requests as its own (shared/design/LOCUST-NATIVE-USERS.md, sections 1 and 2).

Nothing here does I/O or sleeps, so a merge never yields to gevent: the web UI, the CSV writer,
the stats history and `report_to_master` see a batch entirely or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# The module, not its names: `bucket_response_time` may be replaced by the user (Locust >= 2.43.4),
# and `merge` must look it up when it runs.
import locust.stats as _locust_stats
from locust.stats import RequestStats, StatsError


def _bucket_before_2_43_4(response_time: float) -> int:
    """Locust's rule from before it became the replaceable `locust.stats.bucket_response_time`."""
    if response_time < 100:
        return round(response_time)
    if response_time < 1000:
        return int(round(response_time, -1))
    if response_time < 10000:
        return int(round(response_time, -2))
    return int(round(response_time, -3))


class EntryDelta:
    """What one (name, method) adds since the last merge: the 12 attributes `StatsEntry.extend` reads.

    Counting follows Locust's per-request path, `log_request` for every request and then
    `log_error` for a failure, so a failed request is also a request. The engine gives, per name:

    * every completed request, successful or failed, once in its latency histogram, as
      `add_latencies` pairs: these make `num_requests`, the histogram, total, min and max;
    * how many of them failed (`add_failures`): `num_failures`;
    * per completion second, the requests (failures included) and the failures (`add_second`);
    * the response bytes (`add_content_length`) and the latest completion (`completed_at`).

    The engine times every request, failures included (as FastHttpUser does), so
    `num_none_requests` stays 0.

    `start_time` is +inf, never the first completion: `extend` keeps the minimum, so +inf leaves
    Locust's start (set by its `reset()` at creation, `clear_all()` or `--reset-stats`) where it is.
    A first completion would move it back whenever a completion precedes that reset (a batch
    drained after `--reset-stats`, or the engine's epoch clock a little behind `time.time()`), and
    the total's start is what `total_rps` and `current_rps` divide by. An entry that a merge
    creates starts instead at its first completion (`first_completed_at`), as an entry Locust
    creates when it logs its first request does, but never before the total's start.
    """

    __slots__ = (
        "name",
        "method",
        "start_time",
        "last_request_timestamp",
        "num_requests",
        "num_none_requests",
        "num_failures",
        "total_response_time",
        "min_response_time",
        "max_response_time",
        "total_content_length",
        "response_times",
        "num_reqs_per_sec",
        "num_fail_per_sec",
        "first_completion",
    )

    def __init__(self, name: str, method: str) -> None:
        self.name = name
        self.method = method
        self.start_time = math.inf
        self.last_request_timestamp: float | None = None
        self.num_requests = 0
        self.num_none_requests = 0
        self.num_failures = 0
        self.total_response_time: float = 0
        self.min_response_time: float | None = None
        self.max_response_time: float = 0
        self.total_content_length = 0
        self.response_times: dict[int, int] = {}
        self.num_reqs_per_sec: dict[int, int] = {}
        self.num_fail_per_sec: dict[int, int] = {}
        self.first_completion: float | None = None

    def add_latencies(self, pairs: Iterable[tuple[float, int]]) -> None:
        """Add `count` requests of `latency_ms` for each pair, bucketed by Locust's current rule.

        Each pair is bucketed once, so the cost is per distinct value, not per request. Min, max
        and the total keep the exact values, as Locust's own `log()` does.
        """
        bucket = getattr(_locust_stats, "bucket_response_time", _bucket_before_2_43_4)
        histogram = self.response_times
        for value, count in pairs:
            if count <= 0:
                continue
            key = bucket(value)
            histogram[key] = histogram.get(key, 0) + count
            self.num_requests += count
            self.total_response_time += value * count
            if self.min_response_time is None or value < self.min_response_time:
                self.min_response_time = value
            if value > self.max_response_time:
                self.max_response_time = value

    def add_second(self, epoch_second: int, requests: int, failures: int = 0) -> None:
        """Count requests (failures included) and failures in the epoch second they completed in.

        Locust keys these by `int(time.time())` when the request event fires, i.e. at completion;
        `current_rps` reads them, so a batch must never be filed under the second it was drained in.
        Zero counts add no key, as Locust adds none.
        """
        if requests > 0:
            self.num_reqs_per_sec[epoch_second] = self.num_reqs_per_sec.get(epoch_second, 0) + requests
        if failures > 0:
            self.num_fail_per_sec[epoch_second] = self.num_fail_per_sec.get(epoch_second, 0) + failures

    def add_content_length(self, n: int) -> None:
        """Add response bytes, counted as FastHttpUser does (content-length, else the body's length)."""
        self.total_content_length += n

    def add_failures(self, n: int) -> None:
        """Add failed requests; they must also be in `add_latencies` and `add_second`, as in Locust."""
        self.num_failures += n

    def completed_at(self, epoch: float) -> None:
        """Note a completion time (epoch seconds); the latest one becomes `last_request_timestamp`."""
        if self.last_request_timestamp is None or epoch > self.last_request_timestamp:
            self.last_request_timestamp = epoch

    def first_completed_at(self, epoch: float) -> None:
        """Note a completion time; the earliest one starts an entry that the merge creates."""
        if self.first_completion is None or epoch < self.first_completion:
            self.first_completion = epoch

    def is_empty(self) -> bool:
        """True when merging this would change no counter (so no entry should be created for it)."""
        return self.num_requests == 0 and self.num_failures == 0 and self.last_request_timestamp is None

    def absorb(self, other: EntryDelta) -> None:
        """Add another delta to this one, as `StatsEntry.extend` would: how the batch's total is built."""
        if other.last_request_timestamp is not None:
            self.completed_at(other.last_request_timestamp)
        if other.first_completion is not None:
            self.first_completed_at(other.first_completion)
        self.start_time = min(self.start_time, other.start_time)
        self.num_requests += other.num_requests
        self.num_none_requests += other.num_none_requests
        self.num_failures += other.num_failures
        self.total_response_time += other.total_response_time
        if other.min_response_time is not None and (
            self.min_response_time is None or other.min_response_time < self.min_response_time
        ):
            self.min_response_time = other.min_response_time
        self.max_response_time = max(self.max_response_time, other.max_response_time)
        self.total_content_length += other.total_content_length
        for mine, theirs in (
            (self.response_times, other.response_times),
            (self.num_reqs_per_sec, other.num_reqs_per_sec),
            (self.num_fail_per_sec, other.num_fail_per_sec),
        ):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count


@dataclass
class ErrorDelta:
    """Failures of one (method, name) with one error message since the last merge.

    `error` is the string Locust files a FastHttpUser failure under: `repr()` of the exception
    (`StatsError.parse_error` of an exception object), so that `StatsError.create_key` gives the key
    the same failure would get from Python. `first_seen`/`last_seen` are epoch completion times.
    As on a master, where errors are strings too, the console's error report (`to_name`) then shows a
    CatchResponseError as `'message'` (quoted) where a local Locust shows `message`.
    The occurrences of a name's ErrorDeltas should add up to its `EntryDelta.add_failures`.
    """

    method: str
    name: str
    error: str
    occurrences: int
    first_seen: float | None = None
    last_seen: float | None = None


def merge(stats: RequestStats, entries: Iterable[EntryDelta], errors: Iterable[ErrorDelta]) -> None:
    """Merge one batch into `stats`: each entry, then the total once, then the errors.

    `stats` must be `environment.stats` looked up by the caller now: Locust replaces it on a worker,
    and `clear_all()` replaces its entries and total, so nothing here may be kept between batches.
    The total is extended once with the sum of the batch, as the master extends it once per worker
    report: extending it per entry would snapshot its response-times cache mid-batch. Empty deltas
    are skipped, so an empty batch leaves `last_request_timestamp` unset and creates no entry.
    """
    total: EntryDelta | None = None
    for delta in entries:
        if delta.is_empty():
            continue
        created = (delta.name, delta.method) not in stats.entries
        entry = stats.get(delta.name, delta.method)
        if created and delta.first_completion is not None:
            entry.start_time = max(stats.total.start_time, min(entry.start_time, delta.first_completion))
        entry.extend(delta)  # type: ignore[arg-type]  # duck-typed
        if total is None:
            total = EntryDelta("Aggregated", "")
        total.absorb(delta)
    if total is not None:
        stats.total.extend(total)  # type: ignore[arg-type]

    # As Locust's own `on_worker_report` (locust/stats.py, setup_distributed_stats_event_listeners).
    rows = stats.errors
    for err in errors:
        if err.occurrences <= 0:
            continue
        key = StatsError.create_key(err.method, err.name, err.error)
        row = rows.get(key)
        if row is None:
            row = StatsError(err.method, err.name, err.error, err.occurrences)
            if hasattr(row, "first_seen"):  # Locust >= 2.44.0
                row.first_seen = err.first_seen
                row.last_seen = err.last_seen
            rows[key] = row
            continue
        row.occurrences += err.occurrences
        if not hasattr(row, "first_seen"):
            continue
        if err.first_seen is not None:
            row.first_seen = err.first_seen if row.first_seen is None else min(row.first_seen, err.first_seen)
        if err.last_seen is not None:
            row.last_seen = err.last_seen if row.last_seen is None else max(row.last_seen, err.last_seen)
