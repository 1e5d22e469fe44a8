#!/usr/bin/env python3
"""Soak test: a long ringload run whose memory and descriptors must stay flat.

Runs ``ringload -c 64 -n 10000000 -d 10m`` (whichever ends first) against nginx (one worker,
pinned to --server-cpu; the built-in target when nginx is missing), with ringload pinned to
--client-cpu, and samples the ringload process once a second: resident memory (VmRSS, plus the
VmHWM high-water mark) and open file descriptors (/proc/PID/fd). Passes when

- peak RSS stays within 10% of the RSS 10 seconds into the run, and
- the descriptor count never changes after those first 10 seconds, and
- the report accounts for every request (requests == ok + failed + aborted) with no failure.

Not a CI test: it takes minutes and wants an otherwise idle machine. Example:

    cargo build --release && python3 benches/scripts/soak.py
    python3 benches/scripts/soak.py --requests 2000000 --json-out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import HarnessError, Nginx, default_ringload  # noqa: E402

SETTLE_SECONDS = 10.0
RSS_TOLERANCE = 0.10


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM): resident memory now, and the kernel's high-water mark, which also
    catches a peak between two samples."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


class BuiltinTarget:
    """`ringload serve` on a free port, when nginx is not installed."""

    def __init__(self, ringload: str, cpu: int | None) -> None:
        self.proc = subprocess.Popen(pinned([ringload, "serve", "--port", "0"], cpu), stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        # "ringload target listening on http://127.0.0.1:PORT/  routes: ..."
        self.url = line.split(" on ", 1)[1].split()[0]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def soak(args: argparse.Namespace) -> dict:
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    if Path(nginx_bin).exists():
        server = Nginx(nginx_bin, args.server_cpu, name="soak")
        server.start()
        if not server.wait_ready(10):
            raise HarnessError(f"nginx did not start: {server.read_error_log()}")
        url, stop, target = server.url, server.stop, "nginx (1 worker)"
    else:
        builtin = BuiltinTarget(args.ringload, args.server_cpu)
        url, stop, target = builtin.url, builtin.stop, "ringload serve"
    out = tempfile.TemporaryFile(mode="w+")
    cmd = [
        args.ringload,
        "--json",
        "--no-progress",
        "-c",
        str(args.connections),
        "-t",
        "1",
        "-n",
        str(args.requests),
        "-d",
        f"{args.max_seconds}s",
        url,
    ]
    samples: list[tuple[float, int, int]] = []
    high_water_kib = 0
    try:
        started = time.monotonic()
        proc = subprocess.Popen(pinned(cmd, args.client_cpu), stdout=out)
        # Under taskset the load generator is taskset's exec'd self: same pid.
        while proc.poll() is None:
            memory, fds = memory_kib(proc.pid), open_fds(proc.pid)
            if memory is not None and fds is not None:
                rss, high_water_kib = memory
                samples.append((time.monotonic() - started, rss, fds))
                if len(samples) % 30 == 0:
                    print(f"  {samples[-1][0]:6.0f} s  rss {rss / 1024:6.1f} MiB  fds {fds}", file=sys.stderr)
            time.sleep(1.0)
        elapsed = time.monotonic() - started
    finally:
        stop()
    out.seek(0)
    report = json.loads(out.read())
    settled = [s for s in samples if s[0] >= SETTLE_SECONDS]
    if not settled:
        raise HarnessError(f"the run ended before {SETTLE_SECONDS:.0f} s: use more --requests")
    rss_at_settle = settled[0][1]
    # The high-water mark covers the whole run, the first 10 s included: stricter than sampling.
    peak_rss = max(max(s[1] for s in settled), high_water_kib)
    fd_counts = sorted({s[2] for s in settled})
    failed = sum(report["failed"].values())
    verdicts = {
        "rss_within_10_percent": peak_rss <= rss_at_settle * (1 + RSS_TOLERANCE),
        "fds_constant": len(fd_counts) == 1,
        "accounting": report["requests"] == report["ok"] + failed + report["aborted"],
        "no_failures": failed == 0,
    }
    return {
        "target": target,
        "command": " ".join(cmd),
        "elapsed_s": round(elapsed, 1),
        "requests": report["requests"],
        "ok": report["ok"],
        "failed": failed,
        "aborted": report["aborted"],
        "rps": report["rps"],
        "rss_at_10s_mib": round(rss_at_settle / 1024, 2),
        "peak_rss_mib": round(peak_rss / 1024, 2),
        "rss_growth_percent": round(100 * (peak_rss - rss_at_settle) / rss_at_settle, 2),
        "fd_counts_after_10s": fd_counts,
        "samples": len(samples),
        "verdicts": verdicts,
        "passed": all(verdicts.values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringload", default=str(default_ringload()))
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--max-seconds", type=int, default=600)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    if not Path(args.ringload).exists():
        print(f"no ringload at {args.ringload}: run `cargo build --release` first", file=sys.stderr)
        return 2
    try:
        result = soak(args)
    except HarnessError as e:
        print(f"soak: {e}", file=sys.stderr)
        return 3
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    print(
        f"{result['requests']:,} requests in {result['elapsed_s']} s ({result['rps']:,.0f} req/s) "
        f"against {result['target']}: ok {result['ok']:,}, failed {result['failed']}, aborted {result['aborted']}"
    )
    print(
        f"RSS {result['rss_at_10s_mib']} MiB at 10 s, peak {result['peak_rss_mib']} MiB "
        f"({result['rss_growth_percent']:+.2f}%); open fds after 10 s: {result['fd_counts_after_10s']}"
    )
    for name, ok in result["verdicts"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
