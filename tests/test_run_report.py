"""A run over time: ``Result.timeline``, ``Result.to_html`` and ``Result.to_csv``, and the HTML
report opened in headless Chromium (Debian's ``chromium``, which ``.ci/run`` installs): the
charts are there once the page has loaded, the screenshot is not blank, and nothing is fetched.
"""

from __future__ import annotations

import csv
import html.parser
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import ringload

CHART_IDS = ("chart-rps", "chart-latency", "chart-outcomes", "chart-connections", "chart-spectrum")


@pytest.fixture(scope="module")
def open_run() -> ringload.Result:
    """An open-model run of 2.5 s against a fresh target: three timeline entries."""
    target = ringload.TargetServer()
    try:
        return ringload.run(target.url + "/", duration=2.5, rate=400, connections=4)
    finally:
        target.stop()


def test_timeline_entries_are_typed_and_add_up(open_run: ringload.Result) -> None:
    timeline = open_run.timeline
    assert [entry.t for entry in timeline] == [0.0, 1.0, 2.0]
    assert [entry.duration_s for entry in timeline][:2] == [1.0, 1.0]
    assert sum(entry.requests for entry in timeline) == open_run.requests
    assert sum(entry.ok for entry in timeline) == open_run.ok
    assert sum(entry.status.get(200, 0) for entry in timeline) == open_run.status[200]
    assert sum(entry.connects for entry in timeline) == open_run.connects
    for entry in timeline:
        assert isinstance(entry, ringload.TimelineEntry)
        assert 380 <= entry.rps <= 420, entry
        assert entry.failed_total == 0 and set(entry.failed) >= {"connect", "timeout"}
        assert entry.latency_uncorrected_us is not None
        assert entry.latency_us.p50 is not None and entry.latency_us.p50 >= entry.latency_uncorrected_us.p50
        assert entry.connections_open == 4
        assert repr(entry).startswith(f"TimelineEntry(t={entry.t}, duration_s={entry.duration_s}, ")
    # The same entries as the CLI's JSON `timeline`.
    assert [e["ok"] for e in open_run.to_dict()["timeline"]] == [e.ok for e in timeline]


def test_to_html_and_to_csv_write_the_cli_files(open_run: ringload.Result, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    open_run.to_html(page)
    text = page.read_text()
    assert all(f'id="{chart}"' in text for chart in CHART_IDS)
    assert open_run.to_csv(tmp_path / "run") == (
        tmp_path / "run_stats.csv",
        tmp_path / "run_stats_history.csv",
        tmp_path / "run_failures.csv",
    )
    with pytest.raises(FileNotFoundError):
        open_run.to_html(tmp_path / "missing-dir" / "report.html")


def _locust_columns(tmp_path: Path) -> tuple[list[str], list[str], list[str]]:
    """The columns of the installed Locust's --csv files: stats, history, failures."""
    from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter

    writer = StatsCSVFileWriter(None, PERCENTILES_TO_REPORT, str(tmp_path / "locust"))  # type: ignore[arg-type]
    try:
        return writer.requests_csv_columns, writer.stats_history_csv_columns, writer.failures_columns
    finally:
        writer.close_files()


def _read_csv(path: Path, locust_columns: list[str]) -> list[dict[str, str]]:
    """The rows of a file that starts with Locust's columns (ringload's may follow)."""
    with open(path, newline="") as file:
        header = next(csv.reader(file))
        assert header[: len(locust_columns)] == locust_columns
        file.seek(0)
        return list(csv.DictReader(file))


def _whole_ms(us: int | None) -> int:
    """Microseconds as Locust's whole milliseconds (rounding halves up)."""
    assert us is not None
    return int(us / 1000 + 0.5)


def test_to_csv_is_what_reads_locusts_csv_reads(open_run: ringload.Result, tmp_path: Path) -> None:
    from locust.stats import PERCENTILES_TO_REPORT, get_readable_percentiles

    stats_columns, history_columns, failures_columns = _locust_columns(tmp_path)
    stats_path, history_path, failures_path = open_run.to_csv(tmp_path / "run")

    # Per endpoint, then Locust's total row; its counts are the requests that completed.
    stats = _read_csv(stats_path, stats_columns)
    assert [(row["Type"], row["Name"]) for row in stats] == [("GET", "/"), ("", "Aggregated")]
    total = stats[1]
    assert int(total["Request Count"]) == open_run.ok + open_run.failed_total
    assert int(total["Failure Count"]) == open_run.failed_total == 0
    latency = open_run.latency_us
    assert int(total["Median Response Time"]) == _whole_ms(latency.p50)
    for column, us in (("Min Response Time", latency.min), ("Max Response Time", latency.max)):
        assert us is not None
        assert float(total[column]) == pytest.approx(us / 1000, abs=0.001), column
    assert latency.mean is not None
    assert float(total["Average Response Time"]) == pytest.approx(latency.mean / 1000, abs=0.001)
    assert float(total["Requests/s"]) == pytest.approx(int(total["Request Count"]) / open_run.duration_s, abs=0.01)
    for fraction, column in zip(PERCENTILES_TO_REPORT, get_readable_percentiles(PERCENTILES_TO_REPORT), strict=True):
        assert int(total[column]) == _whole_ms(open_run.percentile(fraction * 100)), column
    # ringload's own columns follow, in microseconds.
    assert int(total["latency_p99_us"]) == latency.p99
    assert int(total["requests"]) == open_run.requests

    # The history: one Aggregated row a second; the rates of that second, the totals so far.
    history = _read_csv(history_path, history_columns)
    assert len(history) == len(open_run.timeline)
    completed = 0
    for row, entry in zip(history, open_run.timeline, strict=True):
        assert (row["Type"], row["Name"]) == ("", "Aggregated")
        assert int(row["User Count"]) == entry.connections_open
        completed += entry.ok + entry.failed_total
        assert int(row["Total Request Count"]) == completed
        assert float(row["Requests/s"]) == pytest.approx((entry.ok + entry.failed_total) / entry.duration_s)
        assert int(row["ok"]) == entry.ok
    timestamps = [int(row["Timestamp"]) for row in history]
    assert timestamps == sorted(set(timestamps)) and abs(timestamps[-1] - time.time()) < 600
    for column in ("Total Request Count", "Total Median Response Time", "99%", "100%"):
        assert history[-1][column] == total[column.removeprefix("Total ")], column

    # Nothing failed: Locust's header alone.
    assert _read_csv(failures_path, failures_columns) == []


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium package)")
    pytest.skip("no Chromium here: apt-get install chromium")


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        timeout=120,
        check=True,
    )


class _Elements(html.parser.HTMLParser):
    """Every element's tag and attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def test_html_report_renders_in_chromium(open_run: ringload.Result, tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "report.html"
    open_run.to_html(page)
    text = page.read_text()

    # Nothing to fetch: no element loads a resource, no stylesheet imports one, and the only
    # URL in the file is the run's own (loopback) target.
    parser = _Elements()
    parser.feed(text)
    loading = [(tag, attrs) for tag, attrs in parser.elements if {"src", "href", "srcset", "data"} & attrs.keys()]
    assert loading == []
    assert "url(" not in text and "@import" not in text
    assert set(re.findall(r"[a-z]+://[^\s\"'<>]+", text)) == {open_run.url}

    # The DOM after the page has loaded and run (Chromium's --dump-dom): every chart is an SVG
    # with its lines drawn.
    dom = _headless(browser, "--dump-dom", page.as_uri()).stdout.decode()
    parser = _Elements()
    parser.feed(dom)
    figures = [attrs["id"] for tag, attrs in parser.elements if tag == "figure"]
    assert figures == list(CHART_IDS)
    assert sum(tag == "svg" for tag, _ in parser.elements) == len(CHART_IDS)
    assert sum(tag == "path" and attrs.get("class") == "series" for tag, attrs in parser.elements) >= len(CHART_IDS)

    # A screenshot that is not blank: the page's text, tables and colored lines show.
    from PIL import Image

    shot = tmp_path / "report.png"
    _headless(browser, f"--screenshot={shot}", "--window-size=1100,2400", page.as_uri())
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 20) or []
        width, height = rgb.size
    assert (width, height) == (1100, 2400)
    background = max(colors)[0]
    assert background < 0.97 * width * height, "the screenshot is nearly one color"
    assert len(colors) > 50
    # The chart lines' blue (the first series) is drawn.
    assert any(abs(r - 0x1F) < 24 and abs(g - 0x77) < 24 and abs(b - 0xB4) < 24 for _, (r, g, b) in colors)
