"""pytest plugin (registered through the ``pytest11`` entry point): load checks in a test suite.

Fixtures:

- ``ringload_run``: :func:`ringload.run`, remembering every result of the test; when the test
  fails, each run's summary (the CLI's report) is printed under the failure, and its HTML report
  (charts over time, latency spectrum) is written under pytest's temporary directory with the
  path printed beside the summary, so an SLO assertion such as
  ``assert ringload_run(url, duration=5, rate=2000).latency_us.p99 < 20_000`` explains itself.
- ``ringload_target``: the built-in target server on 127.0.0.1 (a free port), stopped after the
  test: ``ringload_target.url``, ``.requests()``, ``.path_count("/")``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

import ringload

_RUNS = pytest.StashKey[list]()
_REPORT_DIRS = pytest.StashKey[pytest.TempPathFactory]()


@pytest.fixture
def ringload_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., ringload.Result]:
    """``ringload.run`` that keeps its results for the failure report of this test."""
    runs: list[ringload.Result] = []
    request.node.stash[_RUNS] = runs
    request.node.stash[_REPORT_DIRS] = tmp_path_factory

    def run(*args: Any, **kwargs: Any) -> ringload.Result:
        result = ringload.run(*args, **kwargs)
        runs.append(result)
        return result

    return run


@pytest.fixture
def ringload_target() -> Iterator[ringload.TargetServer]:
    """The built-in target server for this test (plain HTTP on 127.0.0.1)."""
    server = ringload.TargetServer()
    try:
        yield server
    finally:
        server.stop()


# An old-style wrapper: this plugin loads in every pytest session where ringload is installed,
# so it must work with whatever pytest and pluggy that session has.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    runs = item.stash.get(_RUNS, [])
    if report.when == "call" and report.failed and runs:
        reports_dir = item.stash[_REPORT_DIRS].mktemp(_file_name(item.name), numbered=True)
        for number, result in enumerate(runs, 1):
            # The one-line repr the assertion explanation shows, then the whole summary.
            summary = f"{result!r}\n{result}"
            html = reports_dir / f"run-{number}.html"
            try:
                result.to_html(html)
                summary += f"\nHTML report: {html}"
            except OSError as error:
                summary += f"\nHTML report not written: {error}"
            report.sections.append((f"ringload run {number} of {len(runs)}", summary))


def _file_name(test_name: str) -> str:
    """A test's name (``test_slo[2000]``) as a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:60] or "test"
