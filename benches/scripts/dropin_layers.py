#!/usr/bin/env python3
"""What each layer of the drop-in costs per request, without Locust: an A/B microbenchmark.

64 greenlets each send ``GET /`` in a loop to nginx (one worker, pinned to CPU 1, the setup of
compare.py) from one process pinned to CPU 0, at one of two depths:

- ``session``: ``FastHttpSession.get("/")``, the whole Locust-compatible client, with one
  listener on ``events.request`` that does nothing;
- ``dispatch``: ``Session.send`` on a native session, then ``Dispatcher.wait``: the least a
  cooperative request costs (the request encoded and queued in Rust, the greenlet parked in the
  hub and woken).

Each run prints the Python thread's and the engine thread's CPU per request (from /proc, after a
warm-up) and how many requests each flush of the engine carried. With ``--build DIR`` (repeatable:
directories holding a ringload build, e.g. an unpacked wheel) the builds run in alternating
rounds; without it, the installed ringload. ``--https`` runs the same over TLS (nginx's
self-signed listener, not verified). Only 127.0.0.1 is contacted.

    python3 benches/scripts/dropin_layers.py --rounds 3 --build /tmp/old --build /tmp/new
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx  # noqa: E402  (shared nginx setup)

USERS = 64

# Runs in the child, pinned to CPU 0: argv is URL, requests, mode.
CHILD = r"""
import json, os, sys, time
import gevent
from greenlet import getcurrent
from locust.event import Events
from ringload._dispatch import Dispatcher, dispatcher
from ringload.contrib.fasthttp import FastHttpSession

url, total, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
events = Events()
events.request.add_listener(lambda **_kwargs: None)
sessions = [FastHttpSession(url, request_event=events.request, user=None) for _ in range(USERS)]
for session in sessions:
    session.get("/")
engine = dispatcher()
target = url + "/"
flushes = [0]
flush = Dispatcher._flush
def counted_flush(self):
    flushes[0] += 1
    flush(self)
Dispatcher._flush = counted_flush

def user(session, n):
    if mode == "session":
        for _ in range(n):
            session.get("/")
    elif hasattr(engine, "wait"):  # submit, then park until the result comes back
        send, wait = session._native.send, engine.wait
        for _ in range(n):
            wait(send(getcurrent(), "GET", target, {}, None, None, None, 60.0, False, None, False))
    else:  # builds before submit and wait were split
        native, send = session._native, engine.send
        for _ in range(n):
            send(native, "GET", target, {}, None, None, None, 60.0, False, None)

def engine_cpu():
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            stat = f.read()
        if "(ringload-client)" in stat:
            fields = stat[stat.rindex(")") + 2 :].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0

gevent.joinall([gevent.spawn(user, s, 50) for s in sessions], raise_error=True)  # warm-up
flushes[0] = 0
engine_before, python_before, wall_before = engine_cpu(), time.thread_time(), time.perf_counter()
gevent.joinall([gevent.spawn(user, s, total // USERS) for s in sessions], raise_error=True)
wall = time.perf_counter() - wall_before
python = time.thread_time() - python_before
engine_s = engine_cpu() - engine_before
n = total // USERS * USERS
print(json.dumps({"python_us": python / n * 1e6, "engine_us": engine_s / n * 1e6, "rps": n / wall,
                  "requests_per_flush": n / max(flushes[0], 1)}))
""".replace("USERS", str(USERS))


def run_once(url: str, requests: int, mode: str, build: str | None) -> dict:
    env = dict(os.environ)
    if build:
        env["PYTHONPATH"] = build  # its ringload shadows the installed one
    cmd = ["taskset", "-c", "0", sys.executable, "-c", CHILD, url, str(requests), mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} ({build or 'installed'}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--mode", choices=["session", "dispatch", "both"], default="both")
    parser.add_argument("--build", action="append", metavar="DIR", help="a ringload build to compare (repeatable)")
    parser.add_argument("--nginx", default="/usr/sbin/nginx")
    parser.add_argument("--https", action="store_true", help="over TLS (nginx's self-signed listener)")
    args = parser.parse_args()
    builds = args.build or [None]
    modes = ["session", "dispatch"] if args.mode == "both" else [args.mode]
    nginx = Nginx(args.nginx, cpu=1, tls=args.https)
    nginx.start()
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        if not nginx.wait_ready(10):
            print("nginx did not start:\n" + nginx.read_error_log(), file=sys.stderr)
            return 3
        url = (nginx.https_url if args.https else nginx.url).rstrip("/")
        for round_number in range(1, args.rounds + 1):
            for mode in modes:
                for build in builds:
                    r = run_once(url, args.requests, mode, build)
                    results.setdefault((mode, build or "installed"), []).append(r)
                    print(
                        f"round {round_number}/{args.rounds} {mode:<8} {build or 'installed'}: python "
                        f"{r['python_us']:.2f} us, engine {r['engine_us']:.2f} us per request, "
                        f"{r['rps']:,.0f} req/s, {r['requests_per_flush']:.0f} requests per flush",
                        flush=True,
                    )
    finally:
        nginx.stop()
        nginx.cleanup()
    print("\n| layer | build | Python thread us/request | engine thread us/request | requests per flush |")
    print("|---|---|---:|---:|---:|")
    for (mode, build), rows in results.items():

        def median(key: str, rows: list[dict] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"| {mode} | {build} | {median('python_us'):.2f} | {median('engine_us'):.2f} | "
            f"{median('requests_per_flush'):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
