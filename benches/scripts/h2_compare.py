#!/usr/bin/env python3
"""HTTP/2: ringload against h2load and oha (issue 29).

Method
------
nginx (one worker, ``listen ... http2`` for h2c and ``ssl http2`` for TLS, ``return 200``)
runs pinned to CPU 1, every load generator pinned to CPU 0 with one thread, as in
``compare.py``. At each point (h2c and TLS; ``-c 64`` with 1 stream and ``-c 16`` with 10
streams by default) the tools run for the same duration in alternating rounds:

* ``ringload --http2 --streams M -c C -t 1 -d Ns --json``;
* ``h2load -c C -m M -t 1 -D N`` (its text output; h2c with prior knowledge on http://);
* ``oha --http2 -p M -c C -z Ns`` (JSON output).

Client CPU per request is (user + sys) / completed requests from ``/usr/bin/time``; the medians
over rounds are printed against the targets:

* ringload's requests/s at least 0.95x h2load's;
* ringload's client CPU per request at most 0.8x h2load's, and at most oha's.

Only 127.0.0.1 is contacted. Python standard library only; reuses compare.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    H2load,
    HarnessError,
    Nginx,
    Oha,
    Ringload,
    RunResult,
    Tool,
    default_ringload,
    run_measured,
)

#: Default points: (transport, connections, streams per connection).
POINTS = "h2c:64:1,h2c:16:10,tls:64:1,tls:16:10"


class H2Ringload(Ringload):
    def h2_command(self, url: str, connections: int, streams: int, duration: int) -> list[str]:
        return [
            self.path, "--http2", "--streams", str(streams), "-c", str(connections), "-t", "1",
            "-d", f"{duration}s", "--no-progress", "--json", "--insecure", url,
        ]  # fmt: skip


class H2H2load(H2load):
    def h2_command(self, url: str, connections: int, streams: int, duration: int) -> list[str]:
        return [self.path, "-c", str(connections), "-m", str(streams), "-t", "1", "-D", str(duration), url]


class H2Oha(Oha):
    def h2_command(self, url: str, connections: int, streams: int, duration: int) -> list[str]:
        return [
            self.path, "--http2", "-p", str(streams), "-c", str(connections), "-z", f"{duration}s",
            "--no-tui", "--insecure", *self.json_flag(), url,
        ]  # fmt: skip


def tools(ringload: str) -> list[Tool]:
    return [H2Ringload(ringload), H2H2load(shutil.which("h2load")), H2Oha(shutil.which("oha"))]


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", default=POINTS, help="transport:connections:streams, comma-separated")
    ap.add_argument("--duration", "-d", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ringload", default=str(default_ringload()))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--pause", type=float, default=1.0)
    args = ap.parse_args(argv)
    points = []
    for spec in args.points.split(","):
        transport, connections, streams = spec.split(":")
        if transport not in ("h2c", "tls"):
            ap.error(f"transport must be h2c or tls, not {transport!r}")
        points.append((transport, int(connections), int(streams)))
    if not os.access(args.nginx, os.X_OK):
        print(f"error: nginx not found ({args.nginx}); apt-get install nginx-light", file=sys.stderr)
        return 3
    available = []
    for tool in tools(args.ringload):
        reason = tool.missing_reason()
        if reason:
            print(f"skipped {tool.name}: {reason}")
        else:
            available.append(tool)
    nginx = Nginx(args.nginx, args.server_cpu, tls=True, http2=True)
    try:
        nginx.start()
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    failures = 0
    verdicts = []
    try:
        for transport, connections, streams in points:
            url = nginx.h2c_url if transport == "h2c" else nginx.https_url
            print(f"\n== {transport}, -c {connections}, {streams} stream(s) per connection, {args.duration} s ==")
            results: dict[str, list[RunResult]] = {t.name: [] for t in available}
            for round_no in range(1, args.rounds + 1):
                for tool in available:
                    cmd = tool.h2_command(url, connections, streams, args.duration)
                    r = run_measured(
                        tool,
                        cmd,
                        round_no=round_no,
                        client_cpu=args.client_cpu,
                        timeout=args.duration + 30,
                        server_pid=nginx.worker_pid,
                    )
                    results[tool.name].append(r)
                    if not r.ok:
                        failures += 1
                        print(f"  {tool.name} round {round_no}: FAILED ({r.error}) {r.stderr_tail[-300:]}")
                    else:
                        print(
                            f"  {tool.name:8} round {round_no}: {r.rps:>10,.0f} req/s  "
                            f"{r.cpu_us_per_req:6.2f} us CPU/req  errors {r.errors}  "
                            f"nginx CPU {r.server_cpu_pct or 0:.0f}%"
                        )
                    time.sleep(args.pause)
            medians = {
                name: (median([r.rps for r in rs if r.ok]), median([r.cpu_us_per_req for r in rs if r.ok]))
                for name, rs in results.items()
            }
            print(f"  medians over {args.rounds} rounds (CPU split into user + kernel):")
            for name, (rps, cpu) in medians.items():
                if rps is not None and cpu is not None:
                    ok = [r for r in results[name] if r.ok]
                    user = median([r.user_s * 1e6 / r.completed for r in ok if r.user_s is not None])
                    kernel = median([r.sys_s * 1e6 / r.completed for r in ok if r.sys_s is not None])
                    print(
                        f"    {name:8} {rps:>10,.0f} req/s  {cpu:6.2f} us CPU/req "
                        f"(user {user or 0:.2f} + kernel {kernel or 0:.2f})"
                    )
            ours = medians.get("ringload", (None, None))
            for peer, checks in (("h2load", ((0.95, "rps"), (0.8, "cpu"))), ("oha", ((1.0, "cpu"),))):
                theirs = medians.get(peer, (None, None))
                if None in ours or None in theirs:
                    continue
                for factor, what in checks:
                    if what == "rps":
                        ratio = ours[0] / theirs[0]
                        ok = ratio >= factor
                        line = f"requests/s {ratio:.2f}x {peer}'s (target >= {factor}x)"
                    else:
                        ratio = ours[1] / theirs[1]
                        ok = ratio <= factor
                        line = f"CPU per request {ratio:.2f}x {peer}'s (target <= {factor}x)"
                    verdict = f"{'PASS' if ok else 'MISS'} {transport} -c {connections} -m {streams}: {line}"
                    verdicts.append(verdict)
                    print(f"  {verdict}")
    finally:
        nginx.cleanup()
    print("\nsummary:")
    for verdict in verdicts:
        print(f"  {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
