#!/usr/bin/env python3
"""Memory per Locust user: stock Locust's FastHttpUser against ``python -m ringload.locust``.

Per-user memory = (peak RSS with the large user count - peak RSS with the small one) / the
difference in users, so that what a process costs before its first user (the interpreter, Locust,
the engine thread) cancels out. The locustfile (``benches/locust/memory.py``) has a GET task and a
small JSON POST task with ``wait_time = between(5, 10)``: neither client is CPU-bound and both send
about the same requests, and every user keeps its connection open the whole run, as nginx (one
worker on CPU 1, ``worker_connections`` above the user count, keep-alive unlimited) never closes
one.

Each run is ``/usr/bin/time taskset -c 0 python -m locust|ringload.locust -f memory.py
--headless -u N -r N -t DURATION`` (one process, no ``--processes``): all users are spawned at
once, each sends its first request straight away, and the run lasts long enough for every user to
be spawned and to send a few more. The peak includes that spawn (every user's first request in
flight together) and Locust's stop. The steady RSS is sampled two seconds before the run ends.
Rounds alternate the clients, and each user count, in every round.

    python3 benches/scripts/memory_per_user.py --rounds 3

Needs nginx and ``pip install .`` (which brings Locust). The open-file limit is raised to its hard
limit for the runs; it must exceed the user count. ``--wait 0.5,1.5`` makes the users busier (the
client is then CPU-bound, and ringload sends several times stock's requests). Only 127.0.0.1 is
contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx, find_child  # noqa: E402  (shared nginx setup)
from measure import ParseError, alternate, timed  # noqa: E402  (the measured run)

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locust" / "memory.py"
MODES = {"stock": ["-m", "locust"], "ringload": ["-m", "ringload.locust"]}
#: ``--baseline DIR``: another ringload build (an unpacked wheel) run as mode "before", side by side.
BASELINE_MODE = "before"


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def run_once(mode: str, url: str, users: int, duration: int, wait: str, baseline: str | None) -> dict:
    cmd = [
        sys.executable, *MODES["ringload" if mode == BASELINE_MODE else mode],
        "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
        "-t", f"{duration}s", "-H", url, "--only-summary", "--json",
    ]  # fmt: skip
    env = {**os.environ, "RINGLOAD_BENCH_WAIT": wait}
    if mode == BASELINE_MODE and baseline:
        env["PYTHONPATH"] = baseline  # its ringload shadows the installed one
    with timed(cmd, cpu=0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as run:
        proc = run.proc
        steady: list[int] = []

        def sample() -> None:
            # /usr/bin/time's child is taskset, which becomes Python (exec): the Locust process.
            child = find_child(proc.pid)
            deadline = time.monotonic() + duration - 2
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            rss = vm_rss_kib(child) if child is not None else None
            if rss is not None:
                steady.append(rss)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            stdout, stderr = proc.communicate(timeout=duration + 120)
        finally:
            sampler.join()
        try:
            peak_kib = run.usage().max_rss_kib
        except ParseError:
            peak_kib = 0
    try:
        stats = json.loads(stdout)
    except json.JSONDecodeError:
        stats = []
    if not stats or proc.returncode not in (0, 1):
        raise SystemExit(f"{mode} -u {users}: Locust reported no requests (exit {proc.returncode}):\n{stderr[-2000:]}")
    return {
        "mode": mode,
        "users": users,
        "requests": sum(row["num_requests"] for row in stats),
        "failures": sum(row["num_failures"] for row in stats),
        "peak_kib": peak_kib,
        "steady_kib": steady[0] if steady else None,
    }


def per_user_kib(large: float, small: float, users: tuple[int, int]) -> float:
    return (large - small) / (users[1] - users[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", default="1000,8000", help="the small and the large user count (default 1000,8000)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per run, spawning included (default 20)")
    parser.add_argument(
        "--wait",
        default="5,10",
        metavar="MIN,MAX",
        help="the users' wait_time = between(MIN, MAX) in seconds (default 5,10)",
    )
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="a directory holding another ringload build (e.g. an unpacked wheel of an older commit): "
        "also run it, as 'before', in the same rounds",
    )
    parser.add_argument("--json-out", metavar="FILE", help="write every run to FILE")
    args = parser.parse_args()
    small, large = (int(n) for n in args.users.split(","))
    if not 0 < small < large:
        parser.error("--users takes two counts, the smaller first")
    modes = [*MODES, BASELINE_MODE] if args.baseline else list(MODES)

    # Every user holds a connection: the client needs that many descriptors, and a few more.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < large + 1000:
        print(f"the open-file limit ({hard}) is too low for {large} users: raise it (ulimit -Hn)", file=sys.stderr)
        return 2
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    print(
        f"{small:,} and {large:,} users, wait_time = between({args.wait}), {args.duration} s per run, "
        f"{args.rounds} rounds: {', '.join(modes)}",
        flush=True,
    )
    nginx = Nginx(args.nginx, cpu=1, worker_connections=large + 4096)
    nginx.start()
    runs: list[dict] = []
    try:
        variants = [(users, mode) for users in (small, large) for mode in modes]
        for round_number, (users, mode) in alternate(args.rounds, variants):
            r = run_once(mode, nginx.url.rstrip("/"), users, args.duration, args.wait, args.baseline)
            runs.append(r)
            steady = f"{r['steady_kib'] / 1024:.0f}" if r["steady_kib"] else "?"
            print(
                f"round {round_number}/{args.rounds} {mode:<8} {users:>6} users: "
                f"peak {r['peak_kib'] / 1024:6.1f} MiB, steady {steady} MiB, "
                f"{r['requests']} requests, {r['failures']} failures",
                flush=True,
            )
    finally:
        nginx.stop()
        nginx.cleanup()

    def values(mode: str, users: int, key: str) -> list[float]:
        return [r[key] for r in runs if r["mode"] == mode and r["users"] == users and r[key] is not None]

    counts = (small, large)
    print(
        f"\n| client | peak RSS, {small:,} users | peak RSS, {large:,} users | KiB per user (peak) "
        f"| each round | KiB per user (steady) | requests ({large:,} users) |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    summary = {}
    for mode in modes:
        peak_small, peak_large = (statistics.median(values(mode, n, "peak_kib")) for n in counts)
        pairs = zip(values(mode, small, "peak_kib"), values(mode, large, "peak_kib"), strict=True)
        rounds = [per_user_kib(b, a, counts) for a, b in pairs]
        steady_small, steady_large = (values(mode, n, "steady_kib") for n in counts)
        steady = (
            f"{per_user_kib(statistics.median(steady_large), statistics.median(steady_small), counts):.1f}"
            if steady_small and steady_large
            else "?"
        )
        summary[mode] = per_user_kib(peak_large, peak_small, counts)
        requests = statistics.median(values(mode, large, "requests"))
        print(
            f"| {mode} | {peak_small / 1024:.1f} MiB | {peak_large / 1024:.1f} MiB | {summary[mode]:.1f} | "
            f"{', '.join(f'{x:.1f}' for x in rounds)} | {steady} | {requests:,.0f} |"
        )
    for mode in modes:
        if mode != "stock":
            print(f"\n{mode}: {summary[mode] / summary['stock']:.2f}x stock's memory per user (peak, medians)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(runs, indent=1))
    return 0 if all(r["failures"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
