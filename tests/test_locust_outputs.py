"""Locust's own outputs on the engine: CSV and HTML reports in every mode, and the web UI through
the launcher (its JSON endpoint shows the requests while the test runs)."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
import urllib.request

from apiserver import ApiServer
from conftest import LOCUSTFILES
from locust_runner import require_mode


def test_csv_and_html_reports(locust, api_server: ApiServer, tmp_path) -> None:
    # (--json, which every run here uses, is Locust's stdout report; --json-file cannot be checked
    # alongside it because Locust resets its entries after printing the first.)
    prefix, html = tmp_path / "run", tmp_path / "report.html"
    result = locust(
        "personas.py", users=4, spawn_rate=100, run_time="2s", extra_args=("--csv", str(prefix), "--html", str(html))
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}
    for method, name in (("GET", "/v1/products/{id}"), ("GET", "/v1/products"), ("POST", "/v1/products")):
        assert int(rows[(method, name)]["Request Count"]) > 0, rows.keys()
        assert int(rows[(method, name)]["Failure Count"]) == 0
    assert int(rows[("", "Aggregated")]["Request Count"]) > 0
    report = html.read_text()
    assert "/v1/products/{id}" in report and result.total_failures() == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_web_ui_shows_ringload_requests(api_server: ApiServer, tmp_path) -> None:
    require_mode("launcher")
    port = _free_port()
    cmd = [
        sys.executable, "-m", "ringload.locust", "-f", str(LOCUSTFILES / "personas.py"), "-H", api_server.url,
        "--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "--autoquit", "1",
        "-u", "4", "-r", "100", "-t", "4s",
    ]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not seen:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=2) as response:
                    stats = json.load(response)
            except OSError:
                continue
            rows = {row["name"]: row for row in stats["stats"]}
            if rows.get("/v1/products/{id}", {}).get("num_requests", 0) > 0:
                seen = rows["/v1/products/{id}"]["num_requests"]
        assert seen > 0, "the web UI never showed requests"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_console_script_is_lockstep_with_locust() -> None:
    require_mode("launcher")
    import shutil
    from importlib.metadata import version

    # Not `import locust`: it monkey-patches with gevent, and doing that while the api_server
    # fixture's thread runs can deadlock on the import lock.
    locust_version = version("locust")
    script = shutil.which("ringload-locust")
    assert script, "pip install . provides the ringload-locust command"
    completed = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert locust_version in completed.stdout + completed.stderr


def test_json_file_report_through_the_launcher(api_server: ApiServer, tmp_path) -> None:
    """--json-file on its own (without --json, which resets Locust's entries after printing)."""
    require_mode("launcher")
    target = tmp_path / "stats.json"
    cmd = [
        sys.executable, "-m", "ringload.locust", "-f", str(LOCUSTFILES / "personas.py"), "-H", api_server.url,
        "--headless", "-u", "4", "-r", "100", "-t", "2s", "--stop-timeout", "5", "--only-summary",
        "--json-file", str(tmp_path / "stats"),
    ]  # fmt: skip
    completed = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = {(row["method"], row["name"]): row for row in json.loads(target.read_text())}
    counts = api_server.counts()
    # At most one request per user (4) more on the server: one a user killed at the stop had out.
    reported = rows[("GET", "/v1/products/{id}")]["num_requests"]
    assert 0 < reported <= counts[("GET", "/v1/products/{id}")] <= reported + 4
    assert all(row["num_failures"] == 0 for row in rows.values())
