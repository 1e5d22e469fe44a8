#!/usr/bin/env python3
"""False failures from idle keep-alive connections the server closed, against nginx.

Servers close idle keep-alive connections all the time; a client that writes its next request
into such a connection fails it (or resends it). Two set-ups from issue 24, each run for every
client in alternating rounds (medians), nothing but 127.0.0.1 contacted:

- ``cli``: nginx with ``keepalive_timeout 1s``; ``ringload -m POST -R 50 -c 100 -d 6s`` (each
  connection idles about 2 s) and the same with GET. Prints ok, failed and resent requests.
- ``locust``: nginx with ``worker_connections 1024``, which closes idle connections to make room
  for 1,500 users (``benches/locust/idle_users.py``: ``between(0.5, 1.5)``, GETs and a JSON
  POST); stock Locust's FastHttpUser and ``python -m ringload.locust``. Prints requests and
  failures of each (stock: the race of a close during the send, about 0.01-0.03%).

``--baseline-cli BIN`` and ``--baseline DIR`` (an unpacked wheel) add an earlier ringload build,
run the same way, so a fix shows side by side with what it fixed.

    python3 benches/scripts/idle_close.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx  # noqa: E402  (shared nginx setup)

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = ROOT / "benches" / "locust" / "idle_users.py"


def cli_run(binary: str, url: str, method: str) -> dict:
    cmd = [binary, "--json", "--no-progress", "-m", method, "-b", '{"a":1}', "-R", "50", "-c", "100", "-d", "6s", url]
    report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout)
    return {"ok": report["ok"], "failed": sum(report["failed"].values()), "retries": report["retries"]}


def locust_run(module: str, url: str, users: int, seconds: int, pythonpath: str | None) -> dict:
    cmd = [
        sys.executable, "-m", module, "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
        "-r", "500", "-t", f"{seconds}s", "-H", url, "--only-summary", "--json", "--stop-timeout", "3",
    ]  # fmt: skip
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, env=env, cwd=cwd)
    stats = json.loads(proc.stdout or "[]")
    if not stats:
        raise SystemExit(f"{module}: no statistics (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return {
        "requests": sum(row["num_requests"] for row in stats),
        "failures": sum(row["num_failures"] for row in stats),
    }


def median_row(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["cli", "locust"], help="run one set-up only")
    parser.add_argument("--ringload", default=str(ROOT / "target" / "release" / "ringload"))
    parser.add_argument("--baseline-cli", help="an earlier ringload binary, run beside it")
    parser.add_argument("--baseline", help="an earlier ringload build (an unpacked wheel) for the Locust set-up")
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--seconds", type=int, default=23)
    args = parser.parse_args()
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    if args.only in (None, "cli"):
        clients = {"ringload": args.ringload, **({"before": args.baseline_cli} if args.baseline_cli else {})}
        server = Nginx(nginx_bin, cpu=None, name="idle-timeout", keepalive_timeout="1s")
        server.start()
        try:
            runs: dict[tuple[str, str], list[dict]] = {}
            for _ in range(args.rounds):
                for method in ("POST", "GET"):
                    for label, binary in clients.items():
                        runs.setdefault((label, method), []).append(cli_run(binary, server.url, method))
        finally:
            server.stop()
        print("keepalive_timeout 1s: ringload -m METHOD -R 50 -c 100 -d 6s (300 requests), medians")
        print(f"  {'client':<10} {'method':<6} {'ok':>6} {'failed':>7} {'resent':>7}")
        for (label, method), rows in runs.items():
            row = median_row(rows)
            print(f"  {label:<10} {method:<6} {row['ok']:>6.0f} {row['failed']:>7.0f} {row['retries']:>7.0f}")

    if args.only in (None, "locust"):
        modes = {"stock": ("locust", None), "ringload": ("ringload.locust", None)}
        if args.baseline:
            modes["before"] = ("ringload.locust", args.baseline)
        server = Nginx(nginx_bin, cpu=None, name="connection-limit", worker_connections=1024)
        server.start()
        try:
            runs_l: dict[str, list[dict]] = {}
            for _ in range(args.rounds):
                for label, (module, path) in modes.items():
                    runs_l.setdefault(label, []).append(
                        locust_run(module, server.url.rstrip("/"), args.users, args.seconds, path)
                    )
        finally:
            server.stop()
        print(
            f"\nworker_connections 1024: {args.users} FastHttpUser users, between(0.5, 1.5), {args.seconds} s, "
            "medians (and every round)"
        )
        print(f"  {'client':<10} {'requests':>9} {'failures':>9} {'rate':>8}   rounds")
        for label, rows in runs_l.items():
            row = median_row(rows)
            every = ", ".join(f"{r['failures']}/{r['requests']}" for r in rows)
            rate = row["failures"] / row["requests"] * 100 if row["requests"] else 0.0
            print(f"  {label:<10} {row['requests']:>9.0f} {row['failures']:>9.0f} {rate:>7.3f}%   {every}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
