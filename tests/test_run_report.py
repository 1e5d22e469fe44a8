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
    stats_path, history_path = open_run.to_csv(tmp_path / "run")
    assert stats_path == tmp_path / "run_stats.csv"
    assert history_path == tmp_path / "run_stats_history.csv"
    with open(history_path, newline="") as file:
        history = list(csv.DictReader(file))
    assert [int(row["ok"]) for row in history] == [entry.ok for entry in open_run.timeline]
    with open(stats_path, newline="") as file:
        stats = list(csv.DictReader(file))
    assert [row["name"] for row in stats] == ["/", "Aggregated"]
    assert int(stats[1]["requests"]) == open_run.requests
    with pytest.raises(FileNotFoundError):
        open_run.to_html(tmp_path / "missing-dir" / "report.html")


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
