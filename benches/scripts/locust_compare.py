#!/usr/bin/env python3
"""Stock Locust FastHttpUser vs the same locustfile under ``python -m ringload.locust``.

Method (the project's way of measuring a load generator): nginx with ONE worker pinned to CPU 1
(the same nginx setup as compare.py), and each Locust process pinned to CPU 0 with
``taskset -c 0`` under ``/usr/bin/time``: 64 users, headless, the same duration, rounds
alternating. Requests/s and failures come from Locust's own ``--json`` summary; client CPU per
request is (user + sys of the whole Locust process, engine thread included) / requests.

Locustfiles (``benches/locust``): ``one`` is a single ``get("/")`` task, ``mix`` the seed-style
gateway mix (four headers, ``name=``, a JSON POST, ``catch_response``), ``https`` the single task
over TLS (a self-signed certificate, which FastHttpUser accepts by default). Each round also runs
``loop_only.py``: a plain ``User`` that fires ``events.request`` without any HTTP, which is
Locust's own cost per request, and ``exchange_only.py``: that loop plus the least a cooperative
request on ringload's engine costs (native send, greenlet parked and woken), the floor of the
drop-in. ``thread_cpu.py`` is loaded
beside every locustfile and splits the process's CPU from test start to quit (start-up left out)
into the Python thread and ringload's engine thread, so the table shows what ringload's Python
layer adds on top of Locust's loop. "CPU us/request" is the whole process under
``/usr/bin/time``, start-up included.

    python3 benches/scripts/locust_compare.py --rounds 3 --duration 10

Needs nginx, openssl (for the https certificate) and ``pip install .`` (which brings Locust). Only
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx  # noqa: E402  (shared nginx setup)
from measure import alternate, median_of, timed  # noqa: E402  (the measured run)

LOCUSTFILES = Path(__file__).resolve().parent.parent / "locust"
#: label -> (locustfile, over TLS)
SCENARIOS = {"one": ("locustfile.py", False), "mix": ("mix.py", False), "https": ("locustfile.py", True)}
MODES = {"stock": ["-m", "locust"], "ringload": ["-m", "ringload.locust"]}
#: ``--baseline DIR``: another ringload build (an unpacked wheel) run as mode "before", side by side.
BASELINE_MODE = "before"
ENGINE_THREAD = "ringload-client"


def run_once(mode: str, locustfile: str, url: str, users: int, duration: int, baseline: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        thread_file = Path(tmp) / "threads.json"
        files = f"{LOCUSTFILES / locustfile},{LOCUSTFILES / 'thread_cpu.py'}"
        cmd = [
            sys.executable, *MODES["ringload" if mode == BASELINE_MODE else mode],
            "-f", files, "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration}s", "-H", url, "--only-summary", "--json", "--stop-timeout", "5",
        ]  # fmt: skip
        env = {**os.environ, "RINGLOAD_BENCH_THREAD_CPU": str(thread_file)}
        if mode == BASELINE_MODE and baseline:
            env["PYTHONPATH"] = baseline  # its ringload shadows the installed one
        with timed(cmd, cpu=0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as run:
            stdout, stderr = run.proc.communicate(timeout=duration + 60)
            user, system, wall, rss_kib, _sleeps = run.usage()
        threads = json.loads(thread_file.read_text()) if thread_file.exists() else {}
    try:
        stats = json.loads(stdout)
    except json.JSONDecodeError:
        stats = []
    if not stats:
        raise SystemExit(f"{mode}: Locust reported no requests (exit {run.proc.returncode}):\n{stderr[-2000:]}")
    requests = sum(row["num_requests"] for row in stats)
    failures = sum(row["num_failures"] for row in stats)
    # Locust's stats run from the first request to the last one: use them for requests/s.
    elapsed = max(row["last_request_timestamp"] for row in stats) - min(row["start_time"] for row in stats)
    engine = threads.get(ENGINE_THREAD, {"cpu_s": 0.0, "sys_s": 0.0, "switches": 0})
    python_cpu = sum(t["cpu_s"] for t in threads.values()) - engine["cpu_s"]
    engine_cpu = engine["cpu_s"]
    switches = sum(t["switches"] for t in threads.values())
    return {
        "mode": mode,
        "locustfile": locustfile,
        "requests": requests,
        "failures": failures,
        "rps": requests / elapsed if elapsed > 0 else 0.0,
        "cpu_us_per_request": (user + system) * 1e6 / requests if requests else float("inf"),
        # The Python thread (Locust and ringload's Python layer) and the engine thread, per request.
        "python_us_per_request": python_cpu * 1e6 / requests if requests else float("inf"),
        "engine_us_per_request": engine_cpu * 1e6 / requests if requests else float("inf"),
        # Of it, the kernel's (loopback TCP, io_uring): what any client on this core pays per request.
        "engine_kernel_us_per_request": engine.get("sys_s", 0.0) * 1e6 / requests if requests else float("inf"),
        "switches_per_request": switches / requests if requests else float("inf"),
        "rss_mib": rss_kib / 1024,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="a directory holding another ringload build (e.g. an unpacked wheel of an older commit): "
        "also run it, as 'before', in the same rounds",
    )
    args = parser.parse_args()
    modes = [*MODES, BASELINE_MODE] if args.baseline else list(MODES)
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    # (label, mode, locustfile): the loop-only run is Locust's own cost, with no HTTP.
    runs = [(name, mode, *SCENARIOS[name]) for name in scenarios for mode in modes]
    runs.append(("loop", "stock", "loop_only.py", False))
    # Locust's loop plus the least a cooperative request on the engine costs: the drop-in's floor.
    runs.append(("exchange", "ringload", "exchange_only.py", False))

    nginx = Nginx(args.nginx, cpu=1, tls=any(SCENARIOS[name][1] for name in scenarios))
    nginx.start()
    try:
        if not nginx.wait_ready(10):
            print("nginx did not start:\n" + nginx.read_error_log(), file=sys.stderr)
            return 3
        results: dict[tuple[str, str], list[dict]] = {}
        for round_number, (label, mode, locustfile, tls) in alternate(args.rounds, runs):
            url = (nginx.https_url if tls else nginx.url).rstrip("/")
            r = run_once(mode, locustfile, url, args.users, args.duration, args.baseline)
            results.setdefault((label, mode), []).append(r)
            print(
                f"round {round_number}/{args.rounds} {label:<5} {mode:<9} {r['rps']:>9,.0f} req/s "
                f"{r['cpu_us_per_request']:>7.1f} us CPU/req (python {r['python_us_per_request']:.1f}, "
                f"engine {r['engine_us_per_request']:.1f}), {r['switches_per_request']:.2f} switches/req  "
                f"failures {r['failures']}  RSS {r['rss_mib']:.0f} MiB",
                flush=True,
            )
    finally:
        nginx.stop()
        nginx.cleanup()

    def median(label: str, mode: str, key: str) -> float:
        value = median_of(results[(label, mode)], key)
        assert value is not None  # every run has every key
        return value

    loop_us = median("loop", "stock", "cpu_us_per_request")
    # Per-request costs of the run itself (from test start to quit): what each layer adds.
    loop_python_us = median("loop", "stock", "python_us_per_request")
    print("\n| locustfile | client | req/s | CPU us/request | Python thread | engine thread | failures | vs stock |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label in scenarios:
        stock_rps = median(label, "stock", "rps")
        for mode in modes:
            rps = median(label, mode, "rps")
            failures = sum(r["failures"] for r in results[(label, mode)])
            print(
                f"| {label} | {mode} | {rps:,.0f} | {median(label, mode, 'cpu_us_per_request'):.1f} | "
                f"{median(label, mode, 'python_us_per_request'):.1f} | "
                f"{median(label, mode, 'engine_us_per_request'):.1f} | {failures} | {rps / stock_rps:.2f}x |"
            )
    print(
        f"| loop only (no HTTP) | Locust's own loop | {median('loop', 'stock', 'rps'):,.0f} | {loop_us:.1f} | | | | |"
    )
    exchange_rps = median("exchange", "ringload", "rps")
    print(
        f"| exchange only (floor) | Locust's loop + native send and park | {exchange_rps:,.0f} | "
        f"{median('exchange', 'ringload', 'cpu_us_per_request'):.1f} | "
        f"{median('exchange', 'ringload', 'python_us_per_request'):.1f} | "
        f"{median('exchange', 'ringload', 'engine_us_per_request'):.1f} | | |"
    )
    print()
    exchange_python_us = median("exchange", "ringload", "python_us_per_request")
    for label in scenarios:
        python_us = median(label, "ringload", "python_us_per_request")
        stock_rps = median(label, "stock", "rps")
        rps = median(label, "ringload", "rps")
        print(
            f"{label}: ringload's Python layer adds {python_us - loop_python_us:.1f} us/request to Locust's loop "
            f"({loop_python_us:.1f} us), of which {exchange_python_us - loop_python_us:.1f} us is the native send "
            f"and park (exchange only) and {python_us - exchange_python_us:.1f} us the Locust-compatible client"
        )
        if not SCENARIOS[label][1]:  # the floor is measured over plain HTTP
            print(
                f"{label}: floor (exchange only, same engine): {exchange_rps:,.0f} req/s = "
                f"{exchange_rps / stock_rps:.1f}x stock; ringload reaches {rps / exchange_rps:.0%} of it"
            )
            # 10x stock leaves stock's CPU per request / 10 for everything: Locust's loop and the
            # kernel's part of the engine thread alone are a lower bound no client layer removes.
            budget_us = median(label, "stock", "cpu_us_per_request") / 10
            kernel_us = median(label, "ringload", "engine_kernel_us_per_request")
            print(
                f"{label}: 10x stock allows {budget_us:.1f} us of CPU per request; Locust's loop ({loop_us:.1f} us) "
                f"plus the engine thread's kernel time ({kernel_us:.1f} us of its "
                f"{median(label, 'ringload', 'engine_us_per_request'):.1f}) already take {loop_us + kernel_us:.1f} us"
            )
    return 0 if all(r["failures"] == 0 for rows in results.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
