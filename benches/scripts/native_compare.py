#!/usr/bin/env python3
"""NativeUser against the CLI and stock Locust, per core (issue 27's targets).

Method: nginx with ONE worker, no access log, pinned to CPU 1 (compare.py's setup); every client
pinned to CPU 0 with ``taskset -c 0`` under ``/usr/bin/time``, so Locust's Python and the engine
share that core: the comparison is per core. 64 users spawned at once, ``constant(0)``, rounds
alternating, medians.

- ``one``: ``native_one.py`` (one request in the engine) vs ``ringload -c 64 -t 1`` on the same URL
  vs stock Locust's FastHttpUser on the equivalent task (``locustfile.py``);
- ``mix``: ``native_mix.py`` (four headers, three names and a health check, a JSON POST, 429 as
  success) vs ``ringload --scenario native_mix.json`` with the same requests;
- ``h2``: ``native_one_h2.py`` (the one request, ``http2 = True``) vs ``ringload --http2 -c 64
  -t 1``, both over h2c against nginx's ``listen ... http2`` listener.

Locust's requests/s is what its ``--json`` gives: total requests over the time from the entries'
``start_time`` to their ``last_request_timestamp``. The CLI's is its own ``--json`` report's.

``--steady``: one 30 s native run with ``--csv``; Locust's ``Requests/s`` of each steady second
of ``_stats_history.csv`` (a 10 s average ending 3 s back) against nginx's own count over the
same 10 s window, from its access log (the only run with one), and the RSS of the Locust process
at 10 s and at 60 s of a 60 s run (``--rss``).

``--many``: 10,000 native users with ``between(1, 2)`` on one core, against nginx configured for
16,000 connections: the rate Locust reports against users / 1.5 per second, and the p99.

    python3 benches/scripts/native_compare.py --rounds 3 --duration 10
    python3 benches/scripts/native_compare.py --steady --rss --many

Needs nginx, ``cargo build --release`` (the CLI) and ``pip install .``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx, default_ringload  # noqa: E402  (shared nginx setup and the CLI's path)
from measure import alternate, timed  # noqa: E402  (the measured run)

LOCUSTFILES = Path(__file__).resolve().parent.parent / "locust"


def locust_cmd(locustfile: str, url: str, users: int, duration: int, extra: list[str] | None = None) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{duration}s", "-H", url,
        "--only-summary", "--json", "--stop-timeout", "5", *(extra or []),
    ]  # fmt: skip


def run_locust(locustfile: str, url: str, users: int, duration: int) -> dict:
    cmd = locust_cmd(locustfile, url, users, duration)
    with timed(cmd, cpu=0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        stdout, stderr = run.proc.communicate(timeout=duration + 120)
        user, system, _wall, rss_kib, _sleeps = run.usage()
    try:
        stats = json.loads(stdout)
    except json.JSONDecodeError:
        stats = []
    if not stats:
        raise SystemExit(f"{locustfile}: Locust reported no requests:\n{stderr[-2000:]}")
    requests = sum(row["num_requests"] for row in stats)
    elapsed = max(row["last_request_timestamp"] for row in stats) - min(row["start_time"] for row in stats)
    return {
        "requests": requests,
        "failures": sum(row["num_failures"] for row in stats),
        "rps": requests / elapsed,
        "cpu_us": (user + system) * 1e6 / requests,
        "rss_mib": rss_kib / 1024,
    }


def run_cli(url: str, duration: int, scenario: Path | None, http2: bool = False) -> dict:
    cmd = [str(default_ringload()), "-c", "64", "-t", "1", "-d", f"{duration}s", "--json"]
    if scenario is not None:
        cmd += ["--scenario", str(scenario)]
    if http2:
        cmd.append("--http2")
    cmd.append(url)
    with timed(cmd, cpu=0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        stdout, stderr = run.proc.communicate(timeout=duration + 60)
        user, system, _wall, rss_kib, _sleeps = run.usage()
    data = json.loads(stdout)
    failed = sum((data.get("failed") or {}).values())
    return {
        "requests": data["ok"],
        "failures": failed,
        "rps": data["ok"] / data["duration_s"],
        "cpu_us": (user + system) * 1e6 / max(data["ok"], 1),
        "rss_mib": rss_kib / 1024,
    }


def compare(args: argparse.Namespace) -> None:
    nginx = Nginx(args.nginx, cpu=1, http2="h2" in args.groups)
    nginx.start()
    scenario = LOCUSTFILES / "native_mix.json"
    variants = {
        "one": [("native", "native_one.py"), ("cli", None), ("stock", "locustfile.py")],
        "mix": [("native", "native_mix.py"), ("cli --scenario", scenario)],
        "h2": [("native", "native_one_h2.py"), ("cli --http2", None)],
    }
    runs = [(group, label, what) for group in args.groups for label, what in variants[group]]
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for round_number, (group, label, what) in alternate(args.rounds, runs):
            url = (nginx.h2c_url if group == "h2" else nginx.url).rstrip("/")
            if label.startswith("cli"):
                r = run_cli(url + "/", args.duration, what if group == "mix" else None, http2=group == "h2")
            else:
                r = run_locust(what, url, args.users, args.duration)
            results.setdefault((group, label), []).append(r)
            print(
                f"round {round_number}/{args.rounds} {group:<4} {label:<15} {r['rps']:>10,.0f} req/s "
                f"{r['cpu_us']:>6.2f} us CPU/req  failures {r['failures']}  RSS {r['rss_mib']:.0f} MiB",
                flush=True,
            )
    finally:
        nginx.stop()
    print("\n| group | client | req/s (median) | CPU µs/req | failures | vs CLI | vs stock |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for group in args.groups:
        medians = {label: statistics.median(r["rps"] for r in results[(group, label)]) for label, _ in variants[group]}
        cli = next(v for k, v in medians.items() if k.startswith("cli"))
        for label, _ in variants[group]:
            rows = results[(group, label)]
            cpu = statistics.median(r["cpu_us"] for r in rows)
            failures = sum(r["failures"] for r in rows)
            stock = f"{medians[label] / medians['stock']:.1f}x" if "stock" in medians else ""
            print(
                f"| {group} | {label} | {medians[label]:,.0f} | {cpu:.2f} | {failures} "
                f"| {medians[label] / cli:.2f}x | {stock} |"
            )


def steady(args: argparse.Namespace) -> None:
    """Locust's own RPS, second by second, against what nginx counted in the same window."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        nginx = Nginx(args.nginx, cpu=1, access_log=log, log_format="$msec")
        nginx.start()
        try:
            prefix = Path(tmp) / "run"
            cmd = locust_cmd("native_one.py", nginx.url.rstrip("/"), args.users, 30, ["--csv", str(prefix)])
            subprocess.run(["taskset", "-c", "0", *cmd], capture_output=True, check=True, timeout=150)
        finally:
            nginx.stop()
        served: dict[int, int] = {}
        for line in log.read_text().splitlines():
            second = int(float(line.strip()))
            served[second] = served.get(second, 0) + 1
        with open(f"{prefix}_stats_history.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    print("\n| second | Locust Requests/s | nginx, same 10 s window | ratio |")
    print("|---:|---:|---:|---:|")
    ratios = []
    first = min(served)
    for row in rows:
        t = int(row["Timestamp"])
        # Locust's current RPS: the 10 whole seconds ending 3 s before its last request.
        window = range(t - 12, t - 2)
        if t - first < 15 or t > max(served) - 1:
            continue  # not steady yet (ramp, the window reaching before the start), or the end
        nginx_rps = sum(served.get(s, 0) for s in window) / len(window)
        locust_rps = float(row["Requests/s"])
        ratios.append(locust_rps / nginx_rps)
        print(f"| {t - first} | {locust_rps:,.0f} | {nginx_rps:,.0f} | {locust_rps / nginx_rps:.3f} |")
    print(f"worst ratio {min(ratios):.3f} .. {max(ratios):.3f} over {len(ratios)} steady seconds")


def rss(args: argparse.Namespace) -> None:
    """The Locust process's RSS at 10 s and at 60 s of a 60 s native run."""
    nginx = Nginx(args.nginx, cpu=1)
    nginx.start()
    try:
        cmd = locust_cmd("native_one.py", nginx.url.rstrip("/"), args.users, 60)
        proc = subprocess.Popen(["taskset", "-c", "0", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = {}
        start = time.monotonic()
        for at in (10, 60):
            time.sleep(max(0.0, start + at - 0.5 - time.monotonic()))
            samples[at] = _rss_kib(proc.pid)
        proc.wait(timeout=120)
    finally:
        nginx.stop()
    growth = samples[60] / samples[10] - 1
    print(f"\nRSS at 10 s {samples[10] / 1024:.1f} MiB, at 60 s {samples[60] / 1024:.1f} MiB: {growth:+.1%}")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def many(args: argparse.Namespace) -> None:
    """10,000 users with between(1, 2) on one core: their rate and the p99."""
    users, duration = args.many_users, 40
    nginx = Nginx(args.nginx, cpu=1, worker_connections=16000)
    nginx.start()
    try:
        cmd = locust_cmd("native_idle.py", nginx.url.rstrip("/"), users, duration)
        cmd[cmd.index("-r") + 1] = "2000"
        out = subprocess.run(["taskset", "-c", "0", *cmd], capture_output=True, text=True, timeout=duration + 120)
    finally:
        nginx.stop()
    stats = json.loads(out.stdout)
    row = stats[0]
    # Steady seconds: after spawning (5 s at 2,000/s) and a first full wait, before the end.
    per_second = {int(k): v for k, v in row["num_reqs_per_sec"].items()}
    seconds = sorted(per_second)[10:-2]
    rate = statistics.mean(per_second[s] for s in seconds)
    expected = users / 1.5
    buckets = sorted((int(k), v) for k, v in row["response_times"].items())
    total, seen, p99 = sum(v for _, v in buckets), 0, None
    for value, count in buckets:
        seen += count
        if seen >= 0.99 * total:
            p99 = value
            break
    print(
        f"\n{users} users, between(1, 2): {rate:,.0f} req/s in the steady seconds, expected {expected:,.0f} "
        f"({rate / expected:.3f}x); p99 {p99} ms; failures {row['num_failures']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--groups", nargs="+", choices=["one", "mix", "h2"], default=["one", "mix"])
    parser.add_argument("--steady", action="store_true", help="Locust's RPS per second against nginx's count")
    parser.add_argument("--rss", action="store_true", help="RSS growth between 10 s and 60 s")
    parser.add_argument("--many", action="store_true", help="10,000 users with between(1, 2)")
    parser.add_argument("--many-users", type=int, default=10_000)
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args()
    os.environ.pop("LOCUST_HOST", None)
    if not (args.steady or args.rss or args.many):
        compare(args)
    if args.steady:
        steady(args)
    if args.rss:
        rss(args)
    if args.many:
        many(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
