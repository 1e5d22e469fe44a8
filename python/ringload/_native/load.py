"""One Locust test's native load: an engine run per NativeUser class, drained into Locust's stats.

A `NativeLoad` belongs to one `Environment` and one test: it starts when the first native user
of the test starts (after `--processes` forked, never at import: threads do not survive a fork)
and ends at `test_stop`. A greenlet drains every engine run four times a second and merges what
they measured into `environment.stats` in one call that does not yield
(`locust_stats.merge`). `test_stop` fires in `Runner.stop()` after the users are gone and
before a worker's last report and the local summary, so the final drain lands in both.

At the stop, requests still in flight are dropped: counted neither as requests nor as
failures. A user removed while the test goes on (a lower user count, a shape's step) finishes
its request in flight, which is counted, and starts no other.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import gevent
import locust.runners as _runners
from geventhttpclient.useragent import RetriesExceeded
from locust.contrib.fasthttp import LocustBadStatusCode
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsError

from ringload import _ringload
from ringload._native.locust_stats import EntryDelta, ErrorDelta, merge
from ringload._ringload import Result

if TYPE_CHECKING:
    from ringload._native.user import NativeUser

logger = logging.getLogger("ringload")

#: How often the engine's counts are merged into Locust's (at most a quarter second behind).
MERGE_INTERVAL = 0.25
#: Over how long an arrival rate's schedule is judged (see `ClassRun.note_schedule`).
RATE_WINDOW = 10.0
CPU_WARNING_PERCENT = 90.0

_loads: WeakKeyDictionary[Environment, NativeLoad] = WeakKeyDictionary()
#: Each environment's last test, per NativeUser class: the engine's whole-run result.
_results: WeakKeyDictionary[Environment, dict[type, Result]] = WeakKeyDictionary()


def results_for(environment: Environment) -> dict[type, Result]:
    """The engine's results of the environment's last test with native users, per class."""
    return dict(_results.get(environment, {}))


def load_for(environment: Environment) -> NativeLoad:
    """The running test's native load, started on first use."""
    load = _loads.get(environment)
    if load is None:
        load = _loads[environment] = NativeLoad(environment)
    return load


class ClassRun:
    """One NativeUser class's engine run: its statistics rows and what counts as success."""

    def __init__(self, user: NativeUser, threads: int | None) -> None:
        cls = type(user)
        self.cls = cls
        host = (user.host or "").rstrip("/")
        self.host = host
        spec = cls._ringload_spec
        self.run = _ringload.NativeRun(
            host,
            headers=spec.headers,
            scenario=spec.scenario,
            sequence=spec.sequence,
            wait=spec.wait,
            threads=threads,
            timeout=float(cls.network_timeout),
            connect_timeout=float(cls.connection_timeout),
            insecure=bool(cls.insecure),
            # As the drop-in's engine: RINGLOAD_IO=epoll selects the epoll driver.
            io=os.environ.get("RINGLOAD_IO", "auto"),
            http2=spec.http2,
            streams=spec.streams,
        )
        self.ok_status = spec.ok_status
        # An arrival rate's schedule since the last warning: sent, late, never sent, largest lag.
        self.arrivals = spec.wait[0] == "arrivals"
        self.window: list[int] = [0, 0, 0, 0]
        self.window_start = time.monotonic()
        self.fell_behind = False
        # The URL a bad status is reported for, per row: the first request of that row.
        self.urls: list[str] = []
        for method, name in self.run.rows:
            path = next((p for (n, m, p) in spec.paths if (n, m) == (name, method)), "/")
            self.urls.append(path if "://" in path else host + path)
        # The cookies a user's client holds are those for its first request's path.
        first = spec.paths[0][2]
        self.cookie_path = "/" if "://" in first else first.split("?", 1)[0]

    def note_schedule(self, schedule: tuple[int, int, int, int], final: bool = False) -> None:
        """Warns when the users' rate fell behind: over a window of 10 s (and at the end), more
        than 1% of the requests went out a whole interval late or more, or were never sent."""
        if not self.arrivals:
            return
        sent, late, unsent, lag_us = schedule
        w = self.window
        w[0], w[1], w[2], w[3] = w[0] + sent, w[1] + late, w[2] + unsent, max(w[3], lag_us)
        elapsed = time.monotonic() - self.window_start
        if elapsed < RATE_WINDOW and not final:
            return
        sent, late, unsent, lag_us = w
        if (late + unsent) * 100 > sent + unsent:
            self.fell_behind = True
            logger.warning(
                "ringload: %s fell behind its rate: of %d requests due in the last %.0f s, %d went out a whole "
                "interval late or more and %d were never sent (largest send lag %.1f ms); each user's requests "
                "wait for its connection, so add users or lower `rate`",
                self.cls.__name__,
                sent + unsent,
                elapsed,
                late,
                unsent,
                lag_us / 1000,
            )
        self.window = [0, 0, 0, 0]
        self.window_start = time.monotonic()

    def deltas(self, rows: Iterable[tuple], entries: dict, errors: dict) -> None:
        """Adds drained rows to `entries` ({(name, method): EntryDelta}) and `errors`."""
        names = self.run.rows
        for row, second, first_done, last_done, latencies, failed_latencies, statuses, failures, body in rows:
            method, name = names[row]
            delta = entries.get((name, method))
            if delta is None:
                delta = entries[(name, method)] = EntryDelta(name, method)
            bad = [(status, n) for status, n in statuses if not self.ok_status(status)]
            failed = sum(n for _, n in bad) + sum(n for _, n, _ in failures)
            requests = sum(n for _, n in statuses) + sum(n for _, n, _ in failures)
            delta.add_latencies(latencies)
            delta.add_latencies(failed_latencies)
            delta.add_failures(failed)
            delta.add_second(second, requests, failed)
            delta.add_content_length(body)
            delta.completed_at(last_done)
            delta.first_completed_at(first_done)
            url = self.urls[row]
            for status, n in bad:
                _add_error(errors, method, name, LocustBadStatusCode(url, code=status), n, last_done)
            for kind, n, message in failures:
                _add_error(errors, method, name, _exception_for(kind, message, url), n, last_done)


def _add_error(errors: dict, method: str, name: str, error: Exception, n: int, at: float) -> None:
    text = StatsError.parse_error(error)
    key = (method, name, text)
    row = errors.get(key)
    if row is None:
        errors[key] = ErrorDelta(method, name, text, n, at, at)
        return
    row.occurrences += n
    row.first_seen = min(row.first_seen, at)
    row.last_seen = max(row.last_seen, at)


def _exception_for(kind: str, message: str, url: str) -> Exception:
    """The exception FastHttpUser reports for a request that got no response (as ringload's
    drop-in reports it: `ringload/_client/errors.py`)."""
    if kind == "connect":
        if "refused" in message.lower():
            return ConnectionRefusedError(111, "Connection refused")
        if "timed out" in message.lower():
            return TimeoutError("timed out connecting")
        return ConnectionError(message)
    if kind == "timeout":
        # Locust's client reports a timeout as geventhttpclient's RetriesExceeded.
        return RetriesExceeded(url, original=TimeoutError("timed out"))
    if kind in ("read", "write", "closed"):
        return ConnectionResetError(104, message)
    if kind == "tls":
        import ssl

        return ssl.SSLError(message)
    return ConnectionError(f"{kind}: {message}")


def _latency_table(class_name: str, result: Result) -> str:
    """The engine's latency per name, in microseconds: what Locust's millisecond buckets round to
    0 or 1 for a sub-millisecond API."""
    lines = [f"ringload: {class_name}, engine latency of the responses per name (µs, 3 significant digits):"]
    lines.append(f"  {'Type':<7} {'Name':<40} {'# resps':>9} {'50%':>8} {'90%':>8} {'99%':>8} {'99.9%':>8} {'max':>9}")
    for endpoint in result.endpoints:
        latency = endpoint.latency_us

        def us(value: int | None) -> str:
            return "-" if value is None else str(value)

        lines.append(
            f"  {endpoint.method:<7} {endpoint.name[:40]:<40} {endpoint.ok:>9} {us(latency.p50):>8} "
            f"{us(latency.p90):>8} {us(latency.p99):>8} {us(latency.p999):>8} {us(latency.max):>9}"
        )
    return "\n".join(lines)


class NativeLoad:
    """The native users of one environment's current test."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.runs: dict[type, ClassRun] = {}
        self.stopped = False
        self._merger: gevent.Greenlet | None = None
        self._cpu_at: tuple[float, float] | None = None
        self._cpu_warned = False
        #: Locust's own threshold, while this load has raised it.
        self._cpu_threshold: int | None = None
        self._cpu_raised_to = 0
        events = environment.events
        events.test_stop.add_listener(self._on_test_stop)
        events.spawning_complete.add_listener(self._on_spawning_complete)

    def class_run(self, user: NativeUser) -> ClassRun:
        cls = type(user)
        run = self.runs.get(cls)
        if run is None:
            threads = self._place_process()
            run = self.runs[cls] = ClassRun(user, threads)
            self._measure_python_thread(run.run.threads)
            if self._merger is None:
                self._merger = gevent.spawn(self._merge_loop)
        return run

    def _place_process(self) -> int | None:
        """With `--processes`, each forked worker runs its engine on one core of its own."""
        runner = self.environment.runner
        options = self.environment.parsed_options
        processes = getattr(options, "processes", None) if options is not None else None
        if not (isinstance(runner, WorkerRunner) and processes):
            return None
        cores = sorted(os.sched_getaffinity(0))
        core = cores[runner.worker_index % len(cores)]
        # The calling (main) thread: the engine's threads, started next, inherit it.
        os.sched_setaffinity(0, {core})
        return 1

    def _measure_python_thread(self, threads: int) -> None:
        """Locust measures the whole process's CPU against 90% of one core, which the engine's
        threads fill by design. With native users its figure (the warning, and a worker's
        heartbeats to its master) is Locust's Python thread alone: what delays spawning, reports
        and the web UI. Locust's own process-wide check is raised out of reach while the test
        runs, and this one takes its place (its warning, its event, its end-of-test line). With
        `--processes`, Python shares its core with the engine, by design of the per-core split."""
        if self._cpu_threshold is not None:
            return
        self._cpu_threshold = _runners.CPU_WARNING_THRESHOLD
        self._cpu_raised_to = int(self._cpu_threshold + 100 * threads)
        _runners.CPU_WARNING_THRESHOLD = self._cpu_raised_to
        self._cpu_at = (time.monotonic(), time.thread_time())
        self.environment.events.usage_monitor.add_listener(self._on_usage)
        logger.info(
            "ringload: native users run on %d engine thread(s); Locust's CPU figure is now its Python thread's",
            threads,
        )

    def _on_usage(self, **_kwargs: Any) -> None:
        # Fired right after Locust measured the process, before anything reads the figure.
        now = (time.monotonic(), time.thread_time())
        assert self._cpu_at is not None
        wall, cpu = now[0] - self._cpu_at[0], now[1] - self._cpu_at[1]
        self._cpu_at = now
        if wall <= 0:
            return
        percent = 100.0 * cpu / wall
        runner = self.environment.runner
        if runner is not None:
            runner.current_cpu_usage = percent
        if percent <= CPU_WARNING_PERCENT:
            return
        self.environment.events.cpu_warning.fire(environment=self.environment, cpu_usage=percent)
        if runner is not None:
            # Locust's own end-of-test line ("CPU usage was too high at some point") then says it.
            runner.cpu_warning_emitted = True
        if not self._cpu_warned:
            self._cpu_warned = True
            logger.warning(
                "CPU usage of Locust's Python thread above %.0f%% (%.0f%%)! It may delay spawning, reports and "
                "the web UI; native users' requests run on the engine's threads",
                CPU_WARNING_PERCENT,
                percent,
            )

    def _merge_loop(self) -> None:
        while not self.stopped:
            gevent.sleep(MERGE_INTERVAL)
            if self.stopped:
                return
            self.drain()

    def drain(self, discard: bool = False) -> None:
        """Merges what every engine run measured since the last drain; never yields."""
        entries: dict = {}
        errors: dict = {}
        for run in self.runs.values():
            rows, warnings, schedule = run.run.drain()
            for line in warnings:
                logger.warning("ringload: %s", line)
            run.deltas(rows, entries, errors)
            run.note_schedule(schedule)
        if not discard:
            merge(self.environment.stats, entries.values(), errors.values())

    def stop(self) -> None:
        """Ends every engine run and merges their last counts; whatever fails, the test's
        listeners and Locust's CPU threshold are put back, so the next test starts clean."""
        if self.stopped:
            return
        self.stopped = True
        if _loads.get(self.environment) is self:
            del _loads[self.environment]
        try:
            self._stop_runs()
        finally:
            self._release()

    def _stop_runs(self) -> None:
        entries: dict = {}
        errors: dict = {}
        results: dict[type, Result] = {}
        for run in self.runs.values():
            rows, _warnings, schedule = run.run.drain()
            run.deltas(rows, entries, errors)
            run.note_schedule(schedule)
            try:
                stopped = run.run.stop()
            except Exception as e:  # noqa: BLE001 - the other classes' runs still stop
                logger.error("ringload: %s's engine run failed at its stop: %s", run.cls.__name__, e)
                continue
            if stopped is None:
                continue
            rows, schedule, result = stopped
            run.deltas(rows, entries, errors)
            run.note_schedule(schedule, final=True)
            results[run.cls] = result
        merge(self.environment.stats, entries.values(), errors.values())
        _results[self.environment] = results
        for cls, result in results.items():
            logger.info("%s", _latency_table(cls.__name__, result))

    def _release(self) -> None:
        events = self.environment.events
        events.test_stop.remove_listener(self._on_test_stop)
        events.spawning_complete.remove_listener(self._on_spawning_complete)
        if self._cpu_threshold is not None:
            events.usage_monitor.remove_listener(self._on_usage)
            if _runners.CPU_WARNING_THRESHOLD == self._cpu_raised_to:
                _runners.CPU_WARNING_THRESHOLD = self._cpu_threshold
        merger, self._merger = self._merger, None
        if merger is not None and merger is not gevent.getcurrent():
            merger.kill(block=False)

    def _on_test_stop(self, **_kwargs: Any) -> None:
        self.stop()

    def _on_spawning_complete(self, **_kwargs: Any) -> None:
        # `--reset-stats` resets Locust's stats when spawning completes: what the engine
        # measured before goes with them.
        if getattr(self.environment, "reset_stats", False):
            self.drain(discard=True)
