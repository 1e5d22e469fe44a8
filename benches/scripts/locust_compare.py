#!/usr/bin/env python3
"""Stock Locust FastHttpUser vs the same locustfile under ``python -m ringload.locust``.

Method (the project's way of measuring a load generator): nginx with ONE worker pinned to CPU 1
(the same nginx setup as compare.py), and each Locust process pinned to CPU 0 with
``taskset -c 0`` under ``/usr/bin/time``: 64 users, headless, the same duration, rounds
alternating. Requests/s and failures come from Locust's own ``--json`` summary; client CPU per
request is (user + sys of the whole Locust process, engine thread included) / requests.

    python3 benches/scripts/locust_compare.py --rounds 3 --duration 10

Needs nginx and ``pip install .`` (which brings Locust). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx, parse_time_file  # noqa: E402  (shared nginx setup)

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locust" / "locustfile.py"
MODES = {"stock": ["-m", "locust"], "ringload": ["-m", "ringload.locust"]}


def run_once(mode: str, url: str, users: int, duration: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        time_file = Path(tmp) / "time.txt"
        cmd = [
            "/usr/bin/time", "-o", str(time_file), "-f", "%U %S %e %M",
            "taskset", "-c", "0", sys.executable, *MODES[mode],
            "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration}s", "-H", url, "--only-summary", "--json", "--stop-timeout", "5",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        user, system, wall, rss_kib = parse_time_file(time_file.read_text())
    try:
        stats = json.loads(proc.stdout)
    except json.JSONDecodeError:
        stats = []
    if not stats:
        raise SystemExit(f"{mode}: Locust reported no requests (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    requests = sum(row["num_requests"] for row in stats)
    failures = sum(row["num_failures"] for row in stats)
    # Locust's stats run from the first request to the last one: use them for requests/s.
    elapsed = max(row["last_request_timestamp"] for row in stats) - min(row["start_time"] for row in stats)
    return {
        "mode": mode,
        "requests": requests,
        "failures": failures,
        "rps": requests / elapsed if elapsed > 0 else 0.0,
        "cpu_us_per_request": (user + system) * 1e6 / requests if requests else float("inf"),
        "rss_mib": rss_kib / 1024,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args()

    nginx = Nginx(args.nginx, cpu=1)
    nginx.start()
    try:
        if not nginx.wait_ready(10):
            print("nginx did not start:\n" + nginx.read_error_log(), file=sys.stderr)
            return 3
        results = []
        for round_number in range(1, args.rounds + 1):
            for mode in MODES:
                r = run_once(mode, nginx.url.rstrip("/"), args.users, args.duration)
                results.append(r)
                print(
                    f"round {round_number}/{args.rounds} {mode:<9} {r['rps']:>9,.0f} req/s "
                    f"{r['cpu_us_per_request']:>7.1f} us CPU/req  failures {r['failures']}  RSS {r['rss_mib']:.0f} MiB",
                    flush=True,
                )
    finally:
        nginx.stop()
        nginx.cleanup()

    print("\n| Locust FastHttpUser | req/s | client CPU us/request | failures | vs stock |")
    print("|---|---:|---:|---:|---:|")
    medians = {}
    for mode in MODES:
        rows = [r for r in results if r["mode"] == mode]
        medians[mode] = statistics.median(r["rps"] for r in rows)
        cpu = statistics.median(r["cpu_us_per_request"] for r in rows)
        failures = sum(r["failures"] for r in rows)
        ratio = medians[mode] / medians["stock"] if medians.get("stock") else float("nan")
        print(f"| {mode} | {medians[mode]:,.0f} | {cpu:.1f} | {failures} | {ratio:.2f}x |")
    return 0 if all(r["failures"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
