#!/usr/bin/env python3
"""The open model's truthfulness, side by side with wrk2 and oha (issue: microsecond pacing).

Method
------
nginx (one worker, ``return 200``) runs pinned to CPU 1, every load generator
pinned to CPU 0, as in ``compare.py``. At each rate (default 2,000 and 30,000
req/s) on 16 connections and one thread, the tools run in alternating rounds:

* ``ringload -R RATE -c 16 -t 1 -d Ns --json``: corrected p50 (from due time),
  uncorrected p50 (from send), mean/p99 send lag, achieved rate;
* ``oha -q RATE -c 16 -z Ns --latency-correction``: corrected p50;
* ``wrk2 -R RATE -c 16 -t 1 -d Ns --latency --u_latency`` when a ``wrk2``
  binary is on PATH (it has no Debian package, and its source cannot be
  fetched on a machine that reaches only package registries): corrected and
  uncorrected p50. Missing, it is skipped with a note.

Client CPU per request is (user + sys) / completed requests from
``/usr/bin/time``. Medians over rounds are printed with the targets:

* corrected p50 <= 1.25 x uncorrected p50 + 25 us;
* mean send lag <= 25 us;
* achieved rate within 1% of the target;
* corrected p50 at 2,000 req/s no worse than oha's;
* client CPU per request at 2,000 req/s at most 1.5 x wrk2's.

Two more measurements put those figures in context:

* **wake-up floor**: how late this machine wakes a thread from a timerfd set
  500 us ahead (2,000 sleeps on CPU 0, no load). Nothing that sleeps instead of
  spinning can send earlier than this after its due time, so it bounds the mean
  lag from below. On a VM it is the hypervisor's timer and IPI latency.
* **ending on time**: ``ringload -c 19000 -d 2s`` against nginx: the process's
  wall time, and how many requests were aborted while connecting.

Only 127.0.0.1 is contacted. Python standard library only; reuses compare.py.
"""

from __future__ import annotations

import abc
import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    Nginx,
    Tool,
    default_ringload,
    first_line,
    run_measured,
)
from measure import ParseError, alternate, median_of  # noqa: E402


@dataclass
class OpenParsed:
    completed: int
    duration_s: float | None
    errors: int
    detail: dict = field(default_factory=dict)


def parse_ringload_open(stdout: str) -> OpenParsed:
    try:
        report = json.loads(stdout.strip())
    except json.JSONDecodeError as e:
        raise ParseError(f"bad JSON: {e}") from None
    lag = report.get("schedule_lag") or {}
    return OpenParsed(
        report["ok"],
        report["duration_s"],
        sum(report["failed"].values()),
        {
            "corrected_p50_us": report["latency_us"]["p50"],
            "uncorrected_p50_us": (report.get("latency_uncorrected_us") or {}).get("p50"),
            "lag_mean_us": lag.get("mean_us"),
            "lag_p50_us": lag.get("p50_us"),
            "lag_p99_us": lag.get("p99_us"),
            "behind": lag.get("behind"),
        },
    )


def parse_oha_open(stdout: str) -> OpenParsed:
    text = stdout.strip()
    try:
        data = json.loads(text[text.find("{") :])
    except json.JSONDecodeError as e:
        raise ParseError(f"bad JSON: {e}") from None
    codes = data.get("statusCodeDistribution") or {}
    completed = sum(int(n) for n in codes.values())
    p50 = (data.get("latencyPercentiles") or {}).get("p50")
    total = (data.get("summary") or {}).get("total")
    return OpenParsed(
        completed,
        float(total) if total else None,
        sum(int(n) for k, n in (data.get("errorDistribution") or {}).items() if "deadline" not in k.lower()),
        {"corrected_p50_us": None if p50 is None else round(p50 * 1e6)},
    )


WRK_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def wrk2_p50(section: str) -> float | None:
    match = re.search(r"50\.000%\s+([\d.]+)(us|ms|s|m)\b", section)
    return None if match is None else float(match.group(1)) * WRK_UNITS[match.group(2)]


def parse_wrk2(stdout: str) -> OpenParsed:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", stdout)
    if done is None:
        raise ParseError("no 'N requests in' line")
    corrected, _, uncorrected = stdout.partition("Uncorrected Latency")
    return OpenParsed(
        int(done.group(1)),
        float(done.group(2)) * WRK_UNITS[done.group(3)] / 1e6,
        0,
        {"corrected_p50_us": wrk2_p50(corrected), "uncorrected_p50_us": wrk2_p50(uncorrected)},
    )


class OpenTool(Tool, abc.ABC):
    """A tool run at a constant rate."""

    version_flag = "--version"

    @abc.abstractmethod
    def rate_command(self, url: str, rate: int, connections: int, duration: int) -> list[str]:
        """The command line for one run at `rate` requests/s."""

    def version(self) -> str:
        return first_line([self.path, self.version_flag])


class RingloadOpen(OpenTool):
    name = "ringload"
    parse = staticmethod(parse_ringload_open)

    def missing_reason(self) -> str | None:
        return (
            None if self.path and os.access(self.path, os.X_OK) else f"{self.path} is not built (cargo build --release)"
        )

    def rate_command(self, url: str, rate: int, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "-R",
            str(rate),
            "-c",
            str(connections),
            "-t",
            "1",
            "-d",
            f"{duration}s",
            "--json",
            "--no-progress",
            url,
        ]


class OhaOpen(OpenTool):
    name = "oha"
    parse = staticmethod(parse_oha_open)

    def rate_command(self, url: str, rate: int, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "-q",
            str(rate),
            "-c",
            str(connections),
            "-z",
            f"{duration}s",
            "--latency-correction",
            "--no-tui",
            "--output-format",
            "json",
            url,
        ]


class Wrk2(OpenTool):
    name = "wrk2"
    parse = staticmethod(parse_wrk2)
    version_flag = "-v"

    def missing_reason(self) -> str | None:
        if self.path:
            return None
        return (
            "wrk2 is not on PATH (no Debian package; build it from github.com/giltene/wrk2 "
            "where the network allows) - skipped"
        )

    def rate_command(self, url: str, rate: int, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "-R",
            str(rate),
            "-c",
            str(connections),
            "-t",
            "1",
            "-d",
            f"{duration}s",
            "--latency",
            "--u_latency",
            url,
        ]


def wake_up_floor(cpu: int, sleeps: int = 2000, ahead_us: int = 500) -> dict:
    """How late a timerfd wakes this thread, pinned to `cpu` (median and p90, us)."""

    class Timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    class Itimerspec(ctypes.Structure):
        _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]

    libc = ctypes.CDLL(None, use_errno=True)
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    fd = libc.timerfd_create(1, 0)  # CLOCK_MONOTONIC, blocking
    late = []
    try:
        for _ in range(sleeps):
            start = time.monotonic_ns()
            spec = Itimerspec(Timespec(0, 0), Timespec(0, ahead_us * 1000))
            libc.timerfd_settime(fd, 0, ctypes.byref(spec), None)
            os.read(fd, 8)
            late.append((time.monotonic_ns() - start) / 1000 - ahead_us)
    finally:
        os.close(fd)
        os.sched_setaffinity(0, before)
    late.sort()
    return {"median_us": round(late[len(late) // 2], 1), "p90_us": round(late[len(late) * 9 // 10], 1)}


def end_on_time(ringload: str, url: str, cpu: int, connections: int = 19000) -> dict:
    start = time.monotonic()
    out = subprocess.run(
        ["taskset", "-c", str(cpu), ringload, "-c", str(connections), "-d", "2s", "--json", "--no-progress", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    wall = time.monotonic() - start
    report = json.loads(out.stdout)
    return {
        "connections": connections,
        "wall_s": round(wall, 3),
        "past_deadline_ms": round((wall - 2.0) * 1000),
        "ok": report["ok"],
        "aborted": report["aborted"],
        "aborted_connecting": report["aborted_connecting"],
        "warnings": report["warnings"],
    }


def fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="2000,30000")
    ap.add_argument("--connections", "-c", type=int, default=16)
    ap.add_argument("--duration", "-d", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ringload", default=str(default_ringload()))
    ap.add_argument(
        "--baseline",
        help="another ringload binary (e.g. a build of the previous commit) to run beside it as ringload-baseline",
    )
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]

    tools: list[OpenTool] = []
    candidates: list[OpenTool] = [RingloadOpen(args.ringload)]
    if args.baseline:
        baseline = RingloadOpen(args.baseline)
        baseline.name = "ringload-baseline"
        candidates.append(baseline)
    candidates += [Wrk2(shutil.which("wrk2")), OhaOpen(shutil.which("oha"))]
    for tool in candidates:
        reason = tool.missing_reason()
        if reason:
            print(f"note: {reason}", file=sys.stderr)
        else:
            tools.append(tool)
    if not tools or tools[0].name != "ringload":
        print("error: ringload is required", file=sys.stderr)
        return 1
    for tool in tools:
        print(f"# {tool.name}: {tool.version()}")

    floor = wake_up_floor(args.client_cpu)
    print(
        f"# wake-up floor on CPU {args.client_cpu}: a timerfd 500 us ahead wakes "
        f"{floor['median_us']} us late (median), p90 {floor['p90_us']} us"
    )

    nginx = Nginx(args.nginx, args.server_cpu)
    nginx.start()
    results: list[dict] = []
    try:
        for rate in rates:
            for round_no, tool in alternate(args.rounds, tools):
                cmd = tool.rate_command(nginx.url, rate, args.connections, args.duration)
                run = run_measured(
                    tool,
                    cmd,
                    round_no=round_no,
                    client_cpu=args.client_cpu,
                    timeout=args.duration + 30,
                    server_pid=nginx.worker_pid,
                )
                row = {
                    "tool": tool.name,
                    "rate": rate,
                    "round": round_no,
                    "ok": run.ok,
                    "error": run.error,
                    "rps": run.rps,
                    "cpu_us_per_req": run.cpu_us_per_req,
                    **run.detail,
                }
                results.append(row)
                print(
                    f"  {rate:>6} r{round_no} {tool.name:<9} rps {fmt(run.rps, '.1f')}  "
                    f"cpu/req {fmt(run.cpu_us_per_req, '.2f')} us  "
                    f"p50 corrected {fmt(row.get('corrected_p50_us'))} "
                    f"uncorrected {fmt(row.get('uncorrected_p50_us'))}  "
                    f"lag mean {fmt(row.get('lag_mean_us'), '.1f')}" + (f"  ERROR {run.error}" if run.error else ""),
                    flush=True,
                )
                time.sleep(0.5)
        ending = end_on_time(args.ringload, nginx.url, args.client_cpu)
    finally:
        nginx.stop()

    print()
    print("| rate | tool | req/s | corrected p50 | uncorrected p50 | mean lag | median lag | client CPU/req |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    summary: dict = {}
    for rate in rates:
        for tool in tools:
            rows = [r for r in results if r["rate"] == rate and r["tool"] == tool.name and r["ok"]]
            s = {
                key: median_of(rows, key)
                for key in (
                    "rps",
                    "corrected_p50_us",
                    "uncorrected_p50_us",
                    "lag_mean_us",
                    "lag_p50_us",
                    "cpu_us_per_req",
                )
            }
            summary[(rate, tool.name)] = s
            print(
                f"| {rate:,} | {tool.name} | {fmt(s['rps'], ',.0f')} | {fmt(s['corrected_p50_us'])} us | "
                f"{fmt(s['uncorrected_p50_us'])} us | {fmt(s['lag_mean_us'], '.1f')} us | "
                f"{fmt(s['lag_p50_us'])} us | "
                f"{fmt(s['cpu_us_per_req'], '.2f')} us |"
            )

    print()
    verdicts = []
    for rate in rates:
        ours = summary[(rate, "ringload")]
        c, u = ours["corrected_p50_us"], ours["uncorrected_p50_us"]
        if c is not None and u is not None:
            verdicts.append(
                (f"{rate}: corrected p50 {c:.0f} <= 1.25 x {u:.0f} + 25 = {1.25 * u + 25:.0f} us", c <= 1.25 * u + 25)
            )
        lag = ours["lag_mean_us"]
        if lag is not None:
            verdicts.append((f"{rate}: mean lag {lag:.1f} <= 25 us (wake-up floor {floor['median_us']} us)", lag <= 25))
        if ours["rps"] is not None:
            verdicts.append(
                (f"{rate}: achieved {ours['rps']:.1f} within 1% of {rate}", abs(ours["rps"] - rate) <= rate / 100)
            )
        oha = summary.get((rate, "oha"))
        if oha and oha["corrected_p50_us"] is not None and c is not None:
            verdicts.append(
                (
                    f"{rate}: corrected p50 {c:.0f} us vs oha's {oha['corrected_p50_us']:.0f} us",
                    c <= oha["corrected_p50_us"],
                )
            )
        wrk2 = summary.get((rate, "wrk2"))
        if wrk2 and wrk2["cpu_us_per_req"] and ours["cpu_us_per_req"]:
            ratio = ours["cpu_us_per_req"] / wrk2["cpu_us_per_req"]
            verdicts.append((f"{rate}: client CPU/req {ratio:.2f}x wrk2's (<= 1.5x)", ratio <= 1.5))
        if oha and oha["cpu_us_per_req"] and ours["cpu_us_per_req"]:
            print(f"{rate}: client CPU/req {ours['cpu_us_per_req'] / oha['cpu_us_per_req']:.2f}x oha's")
    for text, passed in verdicts:
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    print(
        f"end on time: -c {ending['connections']} -d 2s took {ending['wall_s']} s "
        f"({ending['past_deadline_ms']} ms past the deadline); "
        f"ok {ending['ok']}, aborted {ending['aborted']} ({ending['aborted_connecting']} while connecting)"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps({"floor": floor, "runs": results, "end_on_time": ending}, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
