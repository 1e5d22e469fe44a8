"""Loaded beside a benchmark locustfile (``-f file.py,thread_cpu.py``): at quit, writes the CPU
seconds and context switches of each thread of this process, from the start of the test to the
end (imports and start-up left out), to ``$RINGLOAD_BENCH_THREAD_CPU`` as JSON, so the benchmark
can split the Python thread from ringload's engine thread and count how often the two trade the
core."""

import json
import os

from locust import events

_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds() -> dict[str, dict[str, float]]:
    """``{thread name: {"cpu_s": user + sys seconds, "sys_s": sys seconds (in the kernel),
    "switches": context switches}}``."""
    totals: dict[str, dict[str, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/self/task/{tid}/status") as f:
                status = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # voluntary (blocked or yielded) plus nonvoluntary (preempted)
        switches = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
        entry = totals.setdefault(name, {"cpu_s": 0.0, "sys_s": 0.0, "switches": 0})
        entry["cpu_s"] += (int(fields[11]) + int(fields[12])) / _TICKS
        entry["sys_s"] += int(fields[12]) / _TICKS
        entry["switches"] += switches
    return totals


_at_test_start: dict[str, dict[str, float]] = {}


@events.test_start.add_listener
def _note_test_start(environment, **_kwargs):
    _at_test_start.update(thread_cpu_seconds())


@events.quitting.add_listener
def _write_thread_cpu(environment, **_kwargs):
    path = os.environ.get("RINGLOAD_BENCH_THREAD_CPU")
    if path:
        since_start = {}
        for name, now in thread_cpu_seconds().items():
            before = _at_test_start.get(name, {"cpu_s": 0.0, "sys_s": 0.0, "switches": 0})
            since_start[name] = {key: now[key] - before[key] for key in now}
        with open(path, "w") as f:
            json.dump(since_start, f)
