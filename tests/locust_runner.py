"""Run real Locust headless in a subprocess and read back its per-name stats.

Modes (the same locustfile, three ways of running it):

- ``"stock"``: ``python -m locust -f FILE``: Locust's own FastHttpUser, the reference.
- ``"launcher"``: ``python -m ringload.locust -f FILE``: ringload's zero-change launcher.
- ``"one-line"``: a copy of FILE whose ``from locust import FastHttpUser`` becomes
  ``from ringload import FastHttpUser`` (other names still come from locust), run with
  ``python -m locust``.

Stats come from Locust's ``--json`` (2.x): at shutdown, after the users have stopped, Locust prints
``[{"name", "method", "num_requests", "num_failures", ...}, ...]`` on stdout (logs and the text
summary go to stderr). It is computed after ``runner.quit()``, so it is final; the CSV files are
not (``_stats.csv`` is rewritten once a second and not again at shutdown, so it can miss the last
requests).

Exactness: ``--stop-timeout 5`` makes the stop at ``-t`` graceful: every user finishes the
request and task it is in before it stops. Without it (the default is 0) users are killed
mid-request, so the server counts requests that never reach Locust's stats (1 to 3 per name
per run here).

Locust 2.47 details this relies on or works around:

- ``--json`` resets the stats entries it prints (``serialize_stats`` uses
  ``get_stripped_report``), so the text summary Locust prints to stderr afterwards shows 0 for
  every name (the "Aggregated" row is still right). Read the JSON, not the table.
- ``--processes N`` forks workers that keep ``--json``: each prints its own (empty, ``[]``)
  document on the shared stdout, so stdout holds N+1 documents. ``--json-file`` would be worse:
  every process writes the same file. ``parse_json_stats`` reads them all; the master's is the
  one with the requests, and a non-empty worker document would mean lost requests.
- Distributed (``--processes`` or ``--master``/``--worker``): at ``-t`` the master sends "quit",
  each worker stops its users (gracefully, with the master's ``--stop-timeout``) and sends a
  final stats report, and the master waits only 0.5 s for those reports
  (``MasterRunner.quit``). Users here stop within milliseconds (no waits, fast requests), so
  the counts are exact; a worker whose users need longer than 0.5 s to finish would have its
  final report arrive after the master stopped listening, and the master's counts would fall
  short of the server's (the tests would show it as a mismatch, not hide it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MODES = ("stock", "launcher", "one-line")
RINGLOAD_MODES = ("launcher", "one-line")
STOP_TIMEOUT_S = 5

Stats = dict[tuple[str, str], dict[str, int]]


def ringload_available() -> bool:
    return importlib.util.find_spec("ringload") is not None


def require_mode(mode: str) -> None:
    """pytest.skip for a ringload mode while ringload is not importable."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}, expected one of {MODES}")
    if mode in RINGLOAD_MODES and not ringload_available():
        pytest.skip(f"mode {mode!r} needs ringload (import ringload fails)")


@dataclass
class LocustResult:
    """What one Locust run reported."""

    stats: Stats
    """{(method, name): {"requests": n, "failures": n}}, from the (master's) --json output."""
    returncode: int
    stderr: str
    stdout: str
    cmd: list[str]
    wall_s: float
    worker_leftovers: list[Stats] = field(default_factory=list)
    """Non-empty --json documents printed by worker processes: requests that a worker recorded
    but never reported to the master (empty when the master's stats are complete)."""

    def requests(self, method: str, name: str) -> int:
        return self.stats.get((method, name), {}).get("requests", 0)

    def failures(self, method: str, name: str) -> int:
        return self.stats.get((method, name), {}).get("failures", 0)

    def total_failures(self) -> int:
        return sum(entry["failures"] for entry in self.stats.values())

    def request_counts(self) -> dict[tuple[str, str], int]:
        return {key: entry["requests"] for key, entry in self.stats.items()}

    def users_spawned(self) -> dict[str, int] | None:
        """The user class split Locust logged ("All users spawned: {...}"), if it did."""
        found = re.findall(r"All users spawned: (\{.*?\}) \(\d+ total users\)", self.stderr)
        return json.loads(found[-1]) if found else None

    def describe(self) -> str:
        """For assertion messages: the command, exit code, stats and the end of stderr."""
        tail = "\n".join(self.stderr.strip().splitlines()[-40:])
        return (
            f"\ncommand: {' '.join(self.cmd)}\nexit code: {self.returncode} after {self.wall_s:.1f}s"
            f"\nstats: {self.stats}\nworker leftovers: {self.worker_leftovers}\nstderr (tail):\n{tail}"
        )


# --- command lines ------------------------------------------------------------------------------

_FROM_LOCUST = re.compile(r"^from locust import (?P<names>\([^)]*\)|[^\n]*)$", re.MULTILINE)


def one_line_rewrite(source: str) -> str:
    """``from locust import FastHttpUser, task`` -> ``from locust import task`` plus
    ``from ringload import FastHttpUser``; the one-line change a user makes by hand."""

    def replace(m: re.Match[str]) -> str:
        names = [n.strip() for n in m.group("names").strip("()").replace("\n", " ").split(",")]
        names = [n for n in names if n]
        if "FastHttpUser" not in names:
            return m.group(0)
        rest = [n for n in names if n != "FastHttpUser"]
        lines = [f"from locust import {', '.join(rest)}"] if rest else []
        return "\n".join([*lines, "from ringload import FastHttpUser"])

    rewritten, n = _FROM_LOCUST.subn(replace, source)
    if n == 0 or "from ringload import FastHttpUser" not in rewritten:
        raise ValueError("locustfile does not import FastHttpUser with `from locust import ...`")
    return rewritten


def locust_command(mode: str, locustfile: Path, workdir: Path) -> list[str]:
    """The interpreter and locustfile part of the command line for a mode."""
    locustfile = Path(locustfile).resolve()
    if mode == "stock":
        return [sys.executable, "-m", "locust", "-f", str(locustfile)]
    if mode == "launcher":
        return [sys.executable, "-m", "ringload.locust", "-f", str(locustfile)]
    if mode == "one-line":
        copy = workdir / locustfile.name
        if not copy.exists():
            copy.write_text(one_line_rewrite(locustfile.read_text()))
        return [sys.executable, "-m", "locust", "-f", str(copy)]
    raise ValueError(f"unknown mode {mode!r}")


def load_args(host: str, users: int, spawn_rate: float, run_time: str) -> list[str]:
    return [
        "--headless",
        "-H",
        host,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        run_time,
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--only-summary",
        "--json",
    ]


def child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    # No LOCUST_* settings leak in from the caller's environment; the working directory is a
    # fresh temporary folder, so no locust.conf / pyproject.toml is picked up either.
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    base["PYTHONUNBUFFERED"] = "1"
    base.update(env or {})
    return base


# --- output parsing -----------------------------------------------------------------------------


def parse_json_stats(stdout: str) -> list[Stats]:
    """Every --json stats document on stdout, in order.

    With ``--processes`` the forked workers print their own (normally empty) ``[]`` on the same
    stdout; anything a locustfile prints is skipped.
    """
    decoder = json.JSONDecoder()
    docs: list[Stats] = []
    for m in re.finditer(r"^\[", stdout, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(stdout, m.start())
        except ValueError:
            continue
        if isinstance(value, list) and all(isinstance(e, dict) and "num_requests" in e for e in value):
            docs.append(
                {
                    (e["method"], e["name"]): {"requests": e["num_requests"], "failures": e["num_failures"]}
                    for e in value
                }
            )
    return docs


def _total(stats: Stats) -> int:
    return sum(e["requests"] + e["failures"] for e in stats.values())


def _split_master(docs: list[Stats]) -> tuple[Stats, list[Stats]]:
    """The master's document (the one with the most requests) and any other non-empty ones."""
    if not docs:
        raise LookupError("no --json stats on stdout")
    nonempty = [d for d in docs if d]
    if not nonempty:
        return {}, []
    master = max(nonempty, key=_total)
    return master, [d for d in nonempty if d is not master]


# --- processes ----------------------------------------------------------------------------------


def _popen(cmd: list[str], env: dict[str, str], cwd: Path, out: Path, err: Path) -> subprocess.Popen:
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        # Own process group: on a timeout the whole tree (forked --processes workers too) is killed.
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group this harness started for proc (leader and its forks)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _wait(proc: subprocess.Popen, deadline: float) -> tuple[int, bool]:
    """(returncode, timed_out); on timeout the process group is killed."""
    try:
        return proc.wait(timeout=max(0.1, deadline - time.monotonic())), False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return proc.returncode if proc.returncode is not None else -9, True


@contextlib.contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    tmp = Path(tempfile.mkdtemp(prefix="locust-run-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_dir(workdir: Path, label: str) -> Path:
    for i in range(1000):
        path = workdir / f"{label}-{i}"
        if not path.exists():
            path.mkdir()
            return path
    raise RuntimeError("too many runs in one workdir")


def run_locust(
    locustfile: str | os.PathLike[str],
    host: str,
    *,
    mode: str,
    users: int,
    spawn_rate: float,
    run_time: str = "4s",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 90,
    workdir: Path | None = None,
) -> LocustResult:
    """Run Locust headless (one process, or ``extra_args=("--processes", "2")``) and return its stats.

    Raises AssertionError with stderr when the run timed out or printed no --json stats.
    """
    require_mode(mode)
    with _workdir(workdir) as wd:
        run_dir = _run_dir(wd, "run")
        cmd = [
            *locust_command(mode, Path(locustfile), wd),
            *load_args(host, users, spawn_rate, run_time),
            *extra_args,
        ]
        out, err = run_dir / "stdout", run_dir / "stderr"
        start = time.monotonic()
        proc = _popen(cmd, child_env(env), run_dir, out, err)
        try:
            returncode, timed_out = _wait(proc, start + timeout)
        finally:
            # Locust waits for its --processes children; anything left in the group is a leak.
            _kill_group(proc)
        wall = time.monotonic() - start
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    result = LocustResult({}, returncode, stderr, stdout, cmd, wall)
    if timed_out:
        raise AssertionError(f"locust did not finish within {timeout}s" + result.describe())
    try:
        result.stats, result.worker_leftovers = _split_master(parse_json_stats(stdout))
    except LookupError:
        raise AssertionError("locust printed no --json stats" + result.describe()) from None
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_locust_distributed(
    locustfile: str | os.PathLike[str],
    host: str,
    *,
    mode: str,
    users: int,
    spawn_rate: float,
    workers: int = 2,
    run_time: str = "4s",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 90,
    workdir: Path | None = None,
) -> LocustResult:
    """A ``--master`` and ``workers`` ``--worker`` processes on a free loopback port; the master's stats.

    Workers are always terminated at the end (they quit on the master's "quit"; otherwise SIGKILL).
    """
    require_mode(mode)
    with _workdir(workdir) as wd:
        run_dir = _run_dir(wd, "dist")
        base = locust_command(mode, Path(locustfile), wd)
        port = free_port()
        master_cmd = [
            *base,
            *load_args(host, users, spawn_rate, run_time),
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--expect-workers-max-wait",
            "30",
            *extra_args,
        ]
        # --json on a worker prints, at its exit, whatever it recorded but never sent to the master.
        worker_cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--json"]
        worker_cmd += extra_args
        environ = child_env(env)
        start = time.monotonic()
        deadline = start + timeout
        master: subprocess.Popen | None = None
        worker_procs: list[subprocess.Popen] = []
        timed_out = False
        try:
            master = _popen(master_cmd, environ, run_dir, run_dir / "master.out", run_dir / "master.err")
            for i in range(workers):
                worker_procs.append(
                    _popen(worker_cmd, environ, run_dir, run_dir / f"worker{i}.out", run_dir / f"worker{i}.err")
                )
            returncode, timed_out = _wait(master, deadline)
            # Workers exit by themselves once the master has sent "quit"; give them a few seconds.
            for proc in worker_procs:
                _wait(proc, min(deadline, time.monotonic() + 15))
        finally:
            for proc in [*worker_procs, *([master] if master else [])]:
                _kill_group(proc)
        wall = time.monotonic() - start
        stdout = (run_dir / "master.out").read_text(errors="replace")
        stderr = (run_dir / "master.err").read_text(errors="replace")
        worker_docs = []
        worker_errs = []
        for i in range(workers):
            worker_docs.extend(parse_json_stats((run_dir / f"worker{i}.out").read_text(errors="replace")))
            worker_errs.append((run_dir / f"worker{i}.err").read_text(errors="replace"))
    result = LocustResult({}, returncode, stderr, stdout, [*master_cmd, "  +  ", *worker_cmd], wall)
    result.worker_leftovers = [d for d in worker_docs if d]
    if timed_out:
        tails = "\n".join("\n".join(e.strip().splitlines()[-15:]) for e in worker_errs)
        raise AssertionError(f"locust master did not finish within {timeout}s" + result.describe() + "\n" + tails)
    try:
        result.stats, leftovers = _split_master(parse_json_stats(stdout))
    except LookupError:
        raise AssertionError("locust master printed no --json stats" + result.describe()) from None
    result.worker_leftovers.extend(leftovers)
    return result
