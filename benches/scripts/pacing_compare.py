#!/usr/bin/env python3
"""The open model's truthfulness and CPU, side by side with wrk2 and oha (issue 28).

Method
------
nginx (one worker, ``return 200``) runs pinned to CPU 1, every load generator
pinned to CPU 0, as in ``compare.py``. At each point (default 2,000 and 30,000
req/s on 16 connections, 100,000 on 64), one thread, the tools run in
alternating rounds:

* ``ringload -R RATE -c N -t 1 -d Ns --json``: corrected p50/p99 (from the due
  time), uncorrected p50 (from the send), send lag, achieved rate, and what
  the pacer did (wake-ups, requests per wake-up, timer expiries);
* ``oha -q RATE -c N -z Ns --latency-correction``: corrected p50/p99;
* ``wrk2 -R RATE -c N -t 1 -d Ns --latency --u_latency``: corrected and
  uncorrected p50/p99. wrk2 has no package: it is built (``make``) from a
  checkout of github.com/giltene/wrk2 whose path is in the environment
  variable ``WRK2_SRC``; without one its column is skipped with a note.

Client CPU per request is (user + sys) / completed requests from
``/usr/bin/time``. Medians over rounds are printed against the targets:

* client CPU per request at most 1.25x wrk2's at each point;
* corrected p50 at most oha's, and at most 1.25 x uncorrected p50 + 50 us;
* corrected p99 at most oha's at 30,000 req/s and above;
* achieved rate within 1% of the target;
* ``-R 3 -d 2s`` lasts 2 s and reports 3 req/s.

Two more measurements put those figures in context:

* **wake-up floor**: how late this machine wakes a thread from a timerfd set
  500 us ahead (2,000 sleeps on CPU 0, no load). Nothing that sleeps instead of
  spinning can send earlier than this after its due time.
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
            "corrected_p99_us": report["latency_us"]["p99"],
            "uncorrected_p50_us": (report.get("latency_uncorrected_us") or {}).get("p50"),
            "lag_mean_us": lag.get("mean_us"),
            "lag_p50_us": lag.get("p50_us"),
            "lag_p99_us": lag.get("p99_us"),
            "behind": lag.get("behind"),
            "wakeups": lag.get("wakeups"),
            "requests_per_wakeup": lag.get("requests_per_wakeup"),
            "timer_expiries": lag.get("timer_expiries"),
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
    percentiles = data.get("latencyPercentiles") or {}
    total = (data.get("summary") or {}).get("total")

    def micros(seconds: float | None) -> int | None:
        return None if seconds is None else round(seconds * 1e6)

    return OpenParsed(
        completed,
        float(total) if total else None,
        sum(int(n) for k, n in (data.get("errorDistribution") or {}).items() if "deadline" not in k.lower()),
        {"corrected_p50_us": micros(percentiles.get("p50")), "corrected_p99_us": micros(percentiles.get("p99"))},
    )


WRK_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def wrk2_percentile(section: str, percent: str) -> float | None:
    """`percent` is as wrk2 prints it ("50.000")."""
    match = re.search(re.escape(percent) + r"%\s+([\d.]+)(us|ms|s|m)\b", section)
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
        {
            "corrected_p50_us": wrk2_percentile(corrected, "50.000"),
            "corrected_p99_us": wrk2_percentile(corrected, "99.000"),
            "uncorrected_p50_us": wrk2_percentile(uncorrected, "50.000"),
        },
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

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.problem: str | None = None
        path = None
        if source:
            try:
                path = build_wrk2(Path(source))
            except (OSError, subprocess.CalledProcessError, FileNotFoundError) as e:
                self.problem = f"wrk2 could not be built in WRK2_SRC={source}: {e} - skipped"
        super().__init__(path)

    def missing_reason(self) -> str | None:
        if self.problem:
            return self.problem
        if self.path:
            return None
        return (
            "WRK2_SRC is not set - wrk2 skipped (it has no package: git clone "
            "https://github.com/giltene/wrk2 and set WRK2_SRC to the checkout; this script runs make there)"
        )

    def version(self) -> str:
        # wrk2 -v prints its banner and exits with status 1.
        return first_line([self.path, "-v"]) or f"wrk2 built in {self.source}"

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


def build_wrk2(source: Path) -> str:
    """Builds wrk2 in `source` (a checkout of giltene/wrk2) unless built already; its binary."""
    binary = source / "wrk"
    if not (source / "Makefile").is_file():
        raise FileNotFoundError(f"{source} has no Makefile: not a wrk2 checkout")
    if not os.access(binary, os.X_OK):
        print(f"# building wrk2 in {source} (make) ...", file=sys.stderr, flush=True)
        subprocess.run(["make", f"-j{os.cpu_count() or 1}"], cwd=source, check=True, stdout=subprocess.DEVNULL)
    return str(binary)


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


def timed_json_run(ringload: str, url: str, cpu: int, args: list[str]) -> tuple[float, dict]:
    """`ringload ARGS --json URL` pinned to `cpu`: its wall time and its report."""
    start = time.monotonic()
    out = subprocess.run(
        ["taskset", "-c", str(cpu), ringload, *args, "--json", "--no-progress", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return time.monotonic() - start, json.loads(out.stdout)


def end_on_time(ringload: str, url: str, cpu: int, connections: int = 19000) -> dict:
    wall, report = timed_json_run(ringload, url, cpu, ["-c", str(connections), "-d", "2s"])
    return {
        "connections": connections,
        "wall_s": round(wall, 3),
        "past_deadline_ms": round((wall - 2.0) * 1000),
        "ok": report["ok"],
        "aborted": report["aborted"],
        "aborted_connecting": report["aborted_connecting"],
        "warnings": report["warnings"],
    }


def three_per_second(ringload: str, url: str, cpu: int) -> dict:
    """`-R 3 -d 2s`: the run lasts 2 s and reports 3 req/s (6 requests)."""
    wall, report = timed_json_run(ringload, url, cpu, ["-R", "3", "-d", "2s"])
    return {"wall_s": round(wall, 3), "duration_s": report["duration_s"], "rps": report["rps"], "ok": report["ok"]}


def fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def parse_points(text: str) -> list[tuple[int, int]]:
    """ "2000:16,30000:16" -> [(2000, 16), (30000, 16)] (rate:connections)."""
    points = []
    for item in text.split(","):
        rate, _, connections = item.partition(":")
        points.append((int(rate), int(connections or 16)))
    return points


SUMMARY_KEYS = (
    "rps",
    "corrected_p50_us",
    "corrected_p99_us",
    "uncorrected_p50_us",
    "lag_mean_us",
    "lag_p50_us",
    "cpu_us_per_req",
    "sleeps_per_req",
    "requests_per_wakeup",
    "wakeups",
    "timer_expiries",
)


def verdicts_for(rate: int, summary: dict) -> list[tuple[str, bool]]:
    """The issue's targets at one point, as (text, met) pairs."""
    ours = summary[(rate, "ringload")]
    out: list[tuple[str, bool]] = []
    c, u, c99 = ours["corrected_p50_us"], ours["uncorrected_p50_us"], ours["corrected_p99_us"]
    if c is not None and u is not None:
        bound = 1.25 * u + 50
        out.append((f"{rate}: corrected p50 {c:.0f} <= 1.25 x {u:.0f} + 50 = {bound:.0f} us", c <= bound))
    if ours["rps"] is not None:
        out.append((f"{rate}: achieved {ours['rps']:.1f} within 1% of {rate}", abs(ours["rps"] - rate) <= rate / 100))
    oha = summary.get((rate, "oha"))
    if oha and oha["corrected_p50_us"] is not None and c is not None:
        theirs = oha["corrected_p50_us"]
        out.append((f"{rate}: corrected p50 {c:.0f} us <= oha's {theirs:.0f} us", c <= theirs))
    if rate >= 30000 and oha and oha["corrected_p99_us"] is not None and c99 is not None:
        theirs = oha["corrected_p99_us"]
        out.append((f"{rate}: corrected p99 {c99:.0f} us <= oha's {theirs:.0f} us", c99 <= theirs))
    wrk2 = summary.get((rate, "wrk2"))
    if wrk2 and wrk2["cpu_us_per_req"] and ours["cpu_us_per_req"]:
        ratio = ours["cpu_us_per_req"] / wrk2["cpu_us_per_req"]
        out.append((f"{rate}: client CPU/req {ratio:.2f}x wrk2's (<= 1.25x)", ratio <= 1.25))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--points",
        default="2000:16,30000:16,100000:64",
        help="rate:connections pairs, comma-separated (default: %(default)s)",
    )
    ap.add_argument("--duration", "-d", type=int, default=6)
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
    points = parse_points(args.points)

    tools: list[OpenTool] = []
    candidates: list[OpenTool] = [RingloadOpen(args.ringload)]
    if args.baseline:
        baseline = RingloadOpen(args.baseline)
        baseline.name = "ringload-baseline"
        candidates.append(baseline)
    candidates += [Wrk2(os.environ.get("WRK2_SRC")), OhaOpen(shutil.which("oha"))]
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
        for rate, connections in points:
            for round_no, tool in alternate(args.rounds, tools):
                cmd = tool.rate_command(nginx.url, rate, connections, args.duration)
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
                    "connections": connections,
                    "round": round_no,
                    "ok": run.ok,
                    "error": run.error,
                    "rps": run.rps,
                    "cpu_s": None if run.user_s is None else round(run.user_s + run.sys_s, 3),
                    "cpu_us_per_req": run.cpu_us_per_req,
                    "sleeps_per_req": run.sleeps / run.completed if run.ok and run.sleeps is not None else None,
                    **run.detail,
                }
                results.append(row)
                print(
                    f"  {rate:>6}/{connections:<3} r{round_no} {tool.name:<17} rps {fmt(run.rps, '.1f')}  "
                    f"cpu/req {fmt(run.cpu_us_per_req, '.2f')} us  "
                    f"p50 corrected {fmt(row.get('corrected_p50_us'))} "
                    f"uncorrected {fmt(row.get('uncorrected_p50_us'))}  p99 {fmt(row.get('corrected_p99_us'))}  "
                    f"lag mean {fmt(row.get('lag_mean_us'), '.1f')}" + (f"  ERROR {run.error}" if run.error else ""),
                    flush=True,
                )
                time.sleep(0.5)
        ending = end_on_time(args.ringload, nginx.url, args.client_cpu)
        three = three_per_second(args.ringload, nginx.url, args.client_cpu)
    finally:
        nginx.stop()

    print()
    print(
        "| rate (conns) | tool | req/s | corrected p50 | corrected p99 | uncorrected p50 | median send lag "
        "| client CPU/req | client sleeps/req | requests per wake-up | timer expiries/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary: dict = {}
    for rate, connections in points:
        for tool in tools:
            rows = [r for r in results if r["rate"] == rate and r["tool"] == tool.name and r["ok"]]
            s = {key: median_of(rows, key) for key in SUMMARY_KEYS}
            summary[(rate, tool.name)] = s
            expiries = s["timer_expiries"]
            print(
                f"| {rate:,} ({connections}) | {tool.name} | {fmt(s['rps'], ',.0f')} | "
                f"{fmt(s['corrected_p50_us'], ',.0f')} µs | {fmt(s['corrected_p99_us'], ',.0f')} µs | "
                f"{fmt(s['uncorrected_p50_us'], ',.0f')} µs | {fmt(s['lag_p50_us'])} µs | "
                f"{fmt(s['cpu_us_per_req'], '.2f')} µs | {fmt(s['sleeps_per_req'], '.2f')} | "
                f"{fmt(s['requests_per_wakeup'], '.2f')} | "
                f"{fmt(None if expiries is None else expiries / args.duration, ',.0f')} |"
            )

    print()
    verdicts = [v for rate, _ in points for v in verdicts_for(rate, summary)]
    for rate, _ in points:
        oha = summary.get((rate, "oha"))
        ours = summary[(rate, "ringload")]
        if oha and oha["cpu_us_per_req"] and ours["cpu_us_per_req"]:
            print(f"{rate}: client CPU/req {ours['cpu_us_per_req'] / oha['cpu_us_per_req']:.2f}x oha's")
    verdicts.append(
        (
            f"-R 3 -d 2s: took {three['wall_s']} s, duration_s {three['duration_s']}, rps {three['rps']}",
            three["duration_s"] == 2.0 and three["rps"] == 3.0 and three["wall_s"] < 2.5,
        )
    )
    for text, passed in verdicts:
        print(f"{'PASS' if passed else 'MISS'}  {text}")
    print(
        f"end on time: -c {ending['connections']} -d 2s took {ending['wall_s']} s "
        f"({ending['past_deadline_ms']} ms past the deadline); "
        f"ok {ending['ok']}, aborted {ending['aborted']} ({ending['aborted_connecting']} while connecting)"
    )
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"floor": floor, "runs": results, "end_on_time": ending, "three_per_second": three}, indent=2)
        )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
