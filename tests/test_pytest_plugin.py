"""The pytest plugin, loaded through its ``pytest11`` entry point by a pytest run of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SLO_TESTS = """
import ringload


def test_health_slo_holds(ringload_run, ringload_target):
    result = ringload_run(ringload_target.url + "/", requests=500, connections=4)
    assert result.ok == 500
    assert result.latency_us.p99 < 5_000_000


def test_slow_endpoint_breaks_its_slo(ringload_run, ringload_target):
    result = ringload_run(ringload_target.url + "/delay/20", requests=40, connections=4)
    assert result.latency_us.p99 < 1_000


def test_target_counts(ringload_target):
    ringload.run(ringload_target.url + "/status/204", requests=30, connections=1)
    assert ringload_target.path_count("/status/204") == 30
"""


def test_plugin_fixtures_and_the_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_slo=SLO_TESTS)
    # -rA prints the sections of passing tests too: the plugin must add none to them.
    result = pytester.runpytest_subprocess("-q", "-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    # pytest's own explanation names the attribute that crossed the SLO, and the run in one
    # short line (the Result's repr: URL, counts, p50/p99), not the whole summary with its line
    # breaks written as literal "\n" ...
    result.stdout.fnmatch_lines(
        [
            "*assert * < 1000*",
            "*where * = Latency(*p99=*).p99*",
            "*where Latency(*) = <Result GET http://127.0.0.1:*/delay/20: requests=40 ok=40 failed=0 "
            "aborted=0 p50_us=* p99_us=*>.latency_us",
        ]
    )
    run_lines = [line for line in output.splitlines() if "<Result " in line]
    assert run_lines and all(len(line) < 250 and "\\n" not in line for line in run_lines), run_lines
    assert "\\nRequests:" not in output
    # ... and the plugin adds that line and the run's summary below it: which URL, how many
    # requests, the percentiles.
    result.stdout.fnmatch_lines(
        [
            "*ringload run 1 of 1*",
            "<Result GET http://127.0.0.1:*/delay/20: requests=40 *>",
            "GET http://127.0.0.1:*/delay/20  (4 connections*",
            "Requests: 40  ok 40  failed 0  aborted 0*",
            "*99% *",
        ]
    )
    # Passing tests print nothing extra.
    assert output.count("ringload run 1 of 1") == 1
    # Beside the summary, the path of the run's HTML report, written for the failing test only.
    [html] = re.findall(r"^HTML report: (\S+)$", output, re.MULTILINE)
    page = Path(html)
    assert page.name == "run-1.html" and "test_slow_endpoint_breaks_its_slo" in page.parent.name
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "/delay/20" in text and 'id="chart-latency"' in text
    # (pytest also links the newest numbered directory as `...current`.)
    assert {path.resolve() for path in page.parent.parent.glob("*/run-*.html")} == {page.resolve()}
