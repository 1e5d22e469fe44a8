"""The measured run every benchmark here shares: a process pinned to one CPU with ``taskset``
under ``/usr/bin/time -f "%U %S %e %M %w"`` (its CPU time, wall time, peak RSS and sleeps, from the kernel,
for the process alone: a child forked from Python would inherit Python's RSS as its starting
peak), rounds that alternate the variants, and medians over the rounds.

A leaf: it imports nothing from the other scripts, which import it.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

TIME_BIN = "/usr/bin/time"
TIME_FORMAT = "%U %S %e %M %w"

T = TypeVar("T")


class ParseError(Exception):
    """A tool's output (or /usr/bin/time's) was not what the script reads."""


class Usage(NamedTuple):
    """What ``/usr/bin/time -f "%U %S %e %M %w"`` reports."""

    user_s: float
    sys_s: float
    wall_s: float
    max_rss_kib: int
    #: Times the process waited (slept) for something: each a wake-up later.
    voluntary_switches: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def parse_time_file(text: str) -> Usage:
    """The last line of `time -o` is "%U %S %e %M %w"; earlier lines may say
    "Command exited with non-zero status N" or "Command terminated by signal N"."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        raise ParseError("empty /usr/bin/time output")
    parts = lines[-1].split()
    if len(parts) != 5:
        raise ParseError(f"unexpected /usr/bin/time output: {lines[-1]!r}")
    return Usage(float(parts[0]), float(parts[1]), float(parts[2]), int(parts[3]), int(parts[4]))


def timed_command(cmd: Sequence[str], time_file: Path | str, cpu: int | None) -> list[str]:
    """`cmd` under ``/usr/bin/time -o time_file``, pinned to `cpu` with taskset (None: not
    pinned). taskset execs `cmd`, so /usr/bin/time's child is the measured process itself."""
    full = [TIME_BIN, "-o", str(time_file), "-f", TIME_FORMAT]
    if cpu is not None:
        full += ["taskset", "-c", str(cpu)]
    return [*full, *cmd]


@dataclass
class TimedRun:
    """A started measured run: `proc` is /usr/bin/time (its only child, the measured process)."""

    proc: subprocess.Popen
    time_file: Path

    def time_text(self) -> str:
        """What /usr/bin/time wrote ('' before it has ended or when it wrote nothing)."""
        try:
            return self.time_file.read_text(errors="replace")
        except OSError:
            return ""

    def usage(self) -> Usage:
        """The measured process's usage; call after it has ended. ParseError if there is none."""
        return parse_time_file(self.time_text())


@contextlib.contextmanager
def timed(cmd: Sequence[str], *, cpu: int | None, **popen: Any) -> Iterator[TimedRun]:
    """Starts `cmd` pinned to `cpu` under /usr/bin/time (`popen`: subprocess.Popen's keyword
    arguments). Read the run's usage inside the block: the time file goes with it. A run still
    going when the block ends (a timeout, an error) is killed and reaped."""
    with tempfile.TemporaryDirectory(prefix="ringload-time-") as tmp:
        time_file = Path(tmp) / "time.txt"
        # Popen's exit closes the pipes and waits.
        with subprocess.Popen(timed_command(cmd, time_file, cpu), **popen) as proc:
            try:
                yield TimedRun(proc, time_file)
            finally:
                if proc.poll() is None:
                    proc.kill()


def alternate(rounds: int, variants: Sequence[T]) -> Iterator[tuple[int, T]]:
    """(round, variant) for every variant once per round, in the same order each round
    (A B C, A B C, ...), so that slow drift of the machine spreads over all of them. Rounds
    count from 1."""
    for round_number in range(1, rounds + 1):
        for variant in variants:
            yield round_number, variant


def median_of(rows: Iterable[Mapping[str, Any]], key: str) -> float | None:
    """The median of `key` over the rows that have a value for it; None if none has."""
    present = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(present) if present else None
