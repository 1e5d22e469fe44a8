#!/usr/bin/env python3
"""Compare ringload with other HTTP/1.1 load generators against a local nginx.

Method
------
A load generator is judged by how much *client* CPU it spends per request, not
only by the requests/s it reaches: on a small machine the generator and the
target compete for the same cores, so a cheaper generator leaves more room to
the server and measures it more faithfully.

1. nginx is started from a generated configuration in a temporary directory:
   ONE worker process, pinned to CPU 1 (``taskset -c 1``), listening on a free
   127.0.0.1 port, ``access_log off``, keep-alive effectively unlimited, and
   ``location / { return 200 "hello from nginx\\n"; }``.  The port is probed
   with a real HTTP request before any round starts.
2. Each load generator runs in turn pinned to CPU 0, with the same number of
   connections, one thread and the same duration, under
   ``/usr/bin/time -o FILE -f "%U %S %e %M %w" taskset -c 0 TOOL ...``.  Rounds
   alternate the tools (round 1: A B C, round 2: A B C, ...) so that slow drift
   of the machine (thermal, other load) is spread over every tool.  Half a
   second into each run the script checks that every thread of the tool is
   still confined to CPU 0 (a tool may set its own thread affinity) and warns
   when one is not.  ``/usr/bin/time`` is used rather than rusage from this
   script because a child forked from Python inherits Python's RSS as its
   starting peak.
3. For each run the script records:

   * requests/s = completed requests / the run's duration as the tool reports it
     (``wall`` from ``time`` when the tool reports none);
   * client CPU time per request = (user + sys CPU seconds of the load
     generator process) / completed requests, in microseconds;
   * peak RSS of the load generator (``%M``, KiB, shown in MiB);
   * the CPU share the nginx worker used during the run (from /proc), which
     tells whether the server (CPU 1) or the client (CPU 0) was the bottleneck.

   "Completed" means a full response was received: ``ok`` for ringload,
   "N requests in" for wrk, "succeeded" for h2load, the sum of
   ``statusCodeDistribution`` for oha.
4. The summary table shows, per tool, the median over rounds of requests/s,
   CPU us/request and peak RSS, and the ratios to wrk (CPU/request: lower is
   better; requests/s: higher is better).

Exactness check (ringload only, ``--exactness N``): a second nginx is started
with an access log that records just ``$request``; ``ringload -n N -c 64`` is
run against it; nginx is then stopped gracefully (flushing the log) and the
logged requests are counted.  PASS when ringload reports ``requests == N`` and
``ok == N`` and nginx logged exactly N requests (the readiness probe uses a
separate path and is not counted).

Memory mode (``--memory``): one ringload run of 60 s with 64 connections,
printing its peak RSS against the 16 MiB target.

Exit status: 0 when every run completed; 1 when a load generator crashed,
timed out, produced unreadable output or completed no request, when the
exactness check failed, or (``--memory``) when the RSS target was missed;
2 for usage errors; 3 when nginx could not be started.

Only 127.0.0.1 is ever contacted.  Uses the Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import TIME_BIN, ParseError, alternate, parse_time_file, timed  # noqa: E402  (the measured run)

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_BODY = "hello from nginx\n"
READY_PATH = "/__compare_ready"
ALL_TOOLS = ("ringload", "wrk", "oha", "h2load")
MEMORY_TARGET_MIB = 16.0


def default_ringload() -> Path:
    """target/release/ringload of this repository (or of $CARGO_TARGET_DIR)."""
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO_ROOT / "target"
    if not base.is_absolute():
        base = REPO_ROOT / base
    return base / "release" / "ringload"


class HarnessError(Exception):
    """A problem with the harness itself (nginx, missing prerequisites)."""


# --------------------------------------------------------------------------- #
# nginx
# --------------------------------------------------------------------------- #


def free_port() -> int:
    """Bind port 0 on 127.0.0.1, read the port the kernel chose, close it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_temp_path_directives(nginx: str, prefix: Path) -> list[str]:
    """Temp paths inside the prefix for every module this nginx build has.

    Without them nginx falls back to the compiled-in /var/lib/nginx/... paths.
    """
    try:
        configure = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False).stderr
    except OSError:
        configure = ""
    lines = [f"client_body_temp_path {prefix / 'client_body'};"]
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{module}_module" not in configure:
            lines.append(f"{module}_temp_path {prefix / module};")
    return lines


class Nginx:
    """One nginx (master + ONE worker) under a temporary prefix."""

    def __init__(
        self,
        nginx: str,
        cpu: int | None,
        access_log: Path | None = None,
        name: str = "nginx",
        tls: bool = False,
        worker_connections: int = 16384,
        keepalive_timeout: str = "300s",
        log_format: str = "$request",
        http2: bool = False,
    ) -> None:
        self.nginx = nginx
        #: Below the clients' connections, nginx closes idle keep-alive connections to make room
        #: (Debian's default is 768); a short keepalive_timeout closes idle ones too.
        self.worker_connections = worker_connections
        self.keepalive_timeout = keepalive_timeout
        self.cpu = cpu
        self.access_log = access_log
        #: What each access-log line holds (``$msec``: the request's end, for counts per second).
        self.log_format = log_format
        self.prefix = Path(tempfile.mkdtemp(prefix=f"ringload-{name}-"))
        self.port = 0
        #: With ``tls``, a second listener serves the same location over TLS (self-signed).
        self.tls = tls
        self.tls_port = 0
        #: With ``http2``, a third listener speaks h2c (prior knowledge) and the TLS one h2 by ALPN.
        self.http2 = http2
        self.h2c_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker_pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}/"

    @property
    def h2c_url(self) -> str:
        return f"http://127.0.0.1:{self.h2c_port}/"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def config(self) -> str:
        p = self.prefix
        if self.access_log is None:
            log = "access_log off;"
        else:
            log = f"log_format request_only '{self.log_format}';\n    access_log {self.access_log} request_only;"
        temp = "\n    ".join(nginx_temp_path_directives(self.nginx, p))
        tls_server = ""
        h2 = " http2" if self.http2 else ""
        if self.http2:
            tls_server += f"""
    server {{
        listen 127.0.0.1:{self.h2c_port} http2;
        server_name localhost;
        location / {{
            return 200 "hello from nginx\\n";
        }}
    }}"""
        if self.tls:
            tls_server += f"""
    server {{
        listen 127.0.0.1:{self.tls_port} ssl{h2};
        server_name localhost;
        ssl_certificate {p / "cert.pem"};
        ssl_certificate_key {p / "key.pem"};
        location / {{
            return 200 "hello from nginx\\n";
        }}
    }}"""
        return f"""# generated by benches/scripts/compare.py
worker_processes 1;
worker_rlimit_nofile 65536;
pid {p / "nginx.pid"};
error_log {self.error_log} warn;

events {{
    worker_connections {self.worker_connections};
}}

http {{
    default_type text/plain;
    {log}
    {temp}
    keepalive_requests 1000000000;
    keepalive_timeout {self.keepalive_timeout};

    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        location / {{
            return 200 "hello from nginx\\n";
        }}
    }}{tls_server}
}}
"""

    def start(self) -> None:
        last_error = ""
        if self.tls:
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                 "-keyout", str(self.prefix / "key.pem"), "-out", str(self.prefix / "cert.pem")],
                check=True, capture_output=True,
            )  # fmt: skip
        for _attempt in range(3):  # the free port may be taken between close and bind
            self.port = free_port()
            self.tls_port = free_port() if self.tls else 0
            self.h2c_port = free_port() if self.http2 else 0
            conf = self.prefix / "nginx.conf"
            conf.write_text(self.config())
            cmd = [
                self.nginx,
                "-c",
                str(conf),
                "-p",
                str(self.prefix),
                "-g",
                "daemon off;",
            ]
            if self.cpu is not None:
                cmd = ["taskset", "-c", str(self.cpu), *cmd]
            # Own session: a Ctrl-C reaches the load generator and this script,
            # and the script then stops nginx itself (see stop()).
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if self.wait_ready(timeout=10.0):
                self.worker_pid = find_child(self.proc.pid)
                return
            last_error = self.read_error_log()
            self.stop()
        raise HarnessError(
            f"nginx did not start or does not answer on 127.0.0.1:{self.port}.\n"
            f"error log ({self.error_log}):\n{last_error}"
        )

    def wait_ready(self, timeout: float) -> bool:
        """Probe with a real HTTP request until nginx answers 200 with the body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", READY_PATH)
                resp = conn.getresponse()
                body = resp.read().decode("utf-8", "replace")
                conn.close()
                if resp.status == 200 and body == NGINX_BODY:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def read_error_log(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no error log)"

    def stop(self) -> None:
        """Graceful stop (SIGQUIT flushes logs), then SIGTERM, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in (
            (signal.SIGQUIT, 10.0),
            (signal.SIGTERM, 5.0),
            (signal.SIGKILL, 5.0),
        ):
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # A worker orphaned by a killed master would keep the port.
        if self.worker_pid is not None and process_name(self.worker_pid) == "nginx":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.worker_pid, signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


def find_child(pid: int, tries: int = 50) -> int | None:
    """The first child process of pid (nginx's worker), from /proc."""
    for attempt in range(tries):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        if attempt < tries - 1:
            time.sleep(0.02)
    return None


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_cpu_seconds(pid: int | None) -> float | None:
    """user + sys CPU seconds of a process, from /proc/PID/stat."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- #
# Load generators
# --------------------------------------------------------------------------- #


@dataclass
class Parsed:
    completed: int  # full responses received
    duration_s: float | None  # the run's duration as the tool reports it
    errors: int = 0  # non-2xx responses + transport errors, as the tool reports them
    detail: dict = field(default_factory=dict)


def parse_ringload(stdout: str) -> Parsed:
    text = stdout.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end < start:
            raise ParseError("no JSON object on stdout") from None
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError as e:
            raise ParseError(f"bad JSON on stdout: {e}") from None
    if not isinstance(data, dict) or "ok" not in data:
        raise ParseError("JSON object without 'ok'")
    failed = data.get("failed") or {}
    non2xx = sum(int(n) for code, n in (data.get("status") or {}).items() if not str(code).startswith("2"))
    return Parsed(
        completed=int(data["ok"]),
        duration_s=float(data["duration_s"]) if data.get("duration_s") else None,
        errors=sum(int(n) for n in failed.values()) + non2xx,
        detail=data,
    )


def parse_wrk(stdout: str) -> Parsed:
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", stdout)
    if not m:
        raise ParseError("no 'N requests in' line")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(3)]
    detail: dict = {"requests": int(m.group(1))}
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", stdout)
    if non2xx:
        detail["non_2xx_3xx"] = int(non2xx.group(1))
        errors += detail["non_2xx_3xx"]
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    if sock:
        detail["socket_errors"] = dict(
            zip(
                ("connect", "read", "write", "timeout"),
                map(int, sock.groups()),
                strict=True,
            )
        )
        errors += sum(detail["socket_errors"].values())
    rps = re.search(r"Requests/sec:\s*([\d.]+)", stdout)
    if rps:
        detail["tool_rps"] = float(rps.group(1))
    return Parsed(int(m.group(1)), float(m.group(2)) * scale, errors, detail)


def parse_h2load(stdout: str) -> Parsed:
    m = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored, (\d+) timeout",
        stdout,
    )
    if not m:
        raise ParseError("no 'requests: N total, ...' line")
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    detail: dict = dict(zip(keys, map(int, m.groups()), strict=True))
    errors = detail["failed"] + detail["errored"] + detail["timeout"]
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stdout)
    if codes:
        detail["status"] = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, codes.groups()), strict=True))
    fin = re.search(r"finished in ([\d.]+)(us|ms|s)\b, ([\d.]+) req/s", stdout)
    duration = None
    if fin:
        duration = float(fin.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[fin.group(2)]
        detail["tool_rps"] = float(fin.group(3))
    return Parsed(detail["succeeded"], duration, errors, detail)


def parse_oha(stdout: str) -> Parsed:
    text = stdout.strip()
    start = text.find("{")
    if start < 0:
        raise ParseError("no JSON object on stdout")
    try:
        data = json.loads(text[start:])
    except json.JSONDecodeError as e:
        raise ParseError(f"bad JSON on stdout: {e}") from None
    summary = data.get("summary") or {}
    codes = data.get("statusCodeDistribution") or {}
    completed = sum(int(n) for n in codes.values())
    non2xx = sum(int(n) for c, n in codes.items() if not str(c).startswith("2"))
    errs = data.get("errorDistribution") or {}
    # Requests cut off by the -z deadline are reported as errors; not a failure.
    transport = sum(int(n) for k, n in errs.items() if "deadline" not in k.lower())
    detail = {
        "successRate": summary.get("successRate"),
        "tool_rps": summary.get("requestsPerSec"),
        "statusCodeDistribution": codes,
        "errorDistribution": errs,
    }
    total = summary.get("total")
    return Parsed(completed, float(total) if total else None, non2xx + transport, detail)


class Tool:
    name = ""
    parse = staticmethod(parse_wrk)

    def __init__(self, path: str | None) -> None:
        self.path = path

    def missing_reason(self) -> str | None:
        return None if self.path else f"{self.name} is not installed (not on PATH)"

    def command(self, url: str, connections: int, duration: int) -> list[str]:
        raise NotImplementedError

    def version(self) -> str:
        return ""


def first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0].strip() if out else ""


class Ringload(Tool):
    name = "ringload"
    parse = staticmethod(parse_ringload)

    def missing_reason(self) -> str | None:
        if self.path and os.path.isfile(self.path) and os.access(self.path, os.X_OK):
            return None
        return (
            f"ringload binary not found at {self.path} (build it with `cargo build --release`, or pass --ringload PATH)"
        )

    def command(self, url: str, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "-c",
            str(connections),
            "-t",
            "1",
            "-d",
            f"{duration}s",
            "--no-progress",
            "--json",
            url,
        ]

    def version(self) -> str:
        return first_line([self.path, "--version"])


class Wrk(Tool):
    name = "wrk"
    parse = staticmethod(parse_wrk)

    def command(self, url: str, connections: int, duration: int) -> list[str]:
        return [self.path, "-t1", f"-c{connections}", f"-d{duration}s", url]

    def version(self) -> str:
        return first_line([self.path, "--version"])


class H2load(Tool):
    name = "h2load"
    parse = staticmethod(parse_h2load)

    def command(self, url: str, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "--h1",
            "-c",
            str(connections),
            "-t",
            "1",
            "-D",
            str(duration),
            url,
        ]

    def version(self) -> str:
        return first_line([self.path, "--version"])


class Oha(Tool):
    name = "oha"
    parse = staticmethod(parse_oha)

    def __init__(self, path: str | None) -> None:
        super().__init__(path)
        self._json_flag: list[str] | None = None

    def json_flag(self) -> list[str]:
        if self._json_flag is None:
            try:
                help_text = subprocess.run(
                    [self.path, "--help"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                ).stdout
            except (OSError, subprocess.TimeoutExpired):
                help_text = ""
            # Newer oha: --output-format json; older: -j / --json.
            self._json_flag = ["--output-format", "json"] if "--output-format" in help_text else ["-j"]
        return self._json_flag

    def command(self, url: str, connections: int, duration: int) -> list[str]:
        return [
            self.path,
            "-c",
            str(connections),
            "-z",
            f"{duration}s",
            "--no-tui",
            *self.json_flag(),
            url,
        ]

    def version(self) -> str:
        return first_line([self.path, "--version"])


def make_tool(name: str, ringload_path: str) -> Tool:
    if name == "ringload":
        return Ringload(ringload_path)
    cls = {"wrk": Wrk, "oha": Oha, "h2load": H2load}[name]
    return cls(shutil.which(name))


# --------------------------------------------------------------------------- #
# Running and measuring
# --------------------------------------------------------------------------- #


@dataclass
class RunResult:
    tool: str
    round: int
    command: list[str]
    ok: bool
    error: str | None = None
    exit_code: int | None = None
    completed: int = 0
    errors: int = 0
    duration_s: float | None = None
    wall_s: float | None = None
    user_s: float | None = None
    sys_s: float | None = None
    max_rss_kib: int | None = None
    #: Voluntary context switches: how often the client slept (each a wake-up later).
    sleeps: int | None = None
    rps: float | None = None
    cpu_us_per_req: float | None = None
    server_cpu_pct: float | None = None
    affinity_warning: str | None = None
    detail: dict = field(default_factory=dict)
    stderr_tail: str = ""

    @property
    def rss_mib(self) -> float | None:
        return None if self.max_rss_kib is None else self.max_rss_kib / 1024


def run_measured(
    tool: Tool,
    cmd: list[str],
    *,
    round_no: int,
    client_cpu: int | None,
    timeout: float,
    server_pid: int | None = None,
) -> RunResult:
    res = RunResult(tool=tool.name, round=round_no, command=cmd, ok=False)
    srv_before = proc_cpu_seconds(server_pid)
    t0 = time.monotonic()
    # Own process group, so that a timeout or Ctrl-C stops the load
    # generator itself and not only /usr/bin/time.
    with timed(
        cmd,
        cpu=client_cpu,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as run:
        proc = run.proc
        try:
            try:
                # Half a second in, check that no thread of the tool escaped
                # the client CPU (a tool may set its own thread affinity).
                stdout, stderr = proc.communicate(timeout=min(0.5, timeout))
            except subprocess.TimeoutExpired:
                res.affinity_warning = check_affinity(proc.pid, client_cpu)
                stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            stdout, stderr = proc.communicate()
            res.error = f"timed out after {timeout:.0f}s"
            res.stderr_tail = stderr[-2000:]
            return res
        except BaseException:
            kill_group(proc)
            raise
        elapsed = time.monotonic() - t0
        srv_after = proc_cpu_seconds(server_pid)
        time_text = run.time_text()
    res.exit_code = proc.returncode
    res.stderr_tail = stderr[-2000:]
    if srv_before is not None and srv_after is not None and elapsed > 0:
        res.server_cpu_pct = 100.0 * (srv_after - srv_before) / elapsed
    try:
        usage = parse_time_file(time_text)
        res.user_s, res.sys_s, res.wall_s = usage.user_s, usage.sys_s, usage.wall_s
        res.max_rss_kib, res.sleeps = usage.max_rss_kib, usage.voluntary_switches
    except ParseError as e:
        res.error = str(e)
    signalled = re.search(r"terminated by signal (\d+)", time_text)
    if signalled:
        res.error = f"killed by signal {signalled.group(1)}"
        return res
    if proc.returncode != 0:
        res.error = f"exit status {proc.returncode}"
        return res
    if res.error:
        return res
    try:
        parsed = tool.parse(stdout)
    except ParseError as e:
        res.error = f"cannot parse output: {e}"
        res.detail = {"stdout_tail": stdout[-2000:]}
        return res
    res.completed = parsed.completed
    res.errors = parsed.errors
    res.duration_s = parsed.duration_s or res.wall_s
    res.detail = parsed.detail
    if res.completed <= 0:
        res.error = "no request completed"
        return res
    res.rps = res.completed / res.duration_s if res.duration_s else None
    res.cpu_us_per_req = (res.user_s + res.sys_s) * 1e6 / res.completed
    res.ok = True
    return res


def check_affinity(time_pid: int, cpu: int | None) -> str | None:
    """None when every thread of the measured tool may run only on `cpu`."""
    if cpu is None:
        return None
    tool_pid = find_child(time_pid, tries=1)  # taskset execs the tool
    if tool_pid is None:
        return None
    bad = []
    for task in Path(f"/proc/{tool_pid}/task").glob("*"):
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        m = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.MULTILINE)
        if m and m.group(1) != str(cpu):
            bad.append(f"thread {task.name} on CPUs {m.group(1)}")
    if not bad:
        return None
    return f"not confined to CPU {cpu}: " + ", ".join(bad)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the process group of a measured run, and wait
    until the whole group (not only /usr/bin/time) has gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            proc.poll()  # reap /usr/bin/time so that it leaves the group
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)


def fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def describe(r: RunResult) -> str:
    if not r.ok:
        tail = r.stderr_tail.strip().splitlines()[-3:]
        extra = f" | stderr: {' / '.join(tail)}" if tail else ""
        return f"FAILED: {r.error}{extra}"
    return (
        f"{r.rps:10,.0f} req/s  {r.cpu_us_per_req:6.2f} us CPU/req "
        f"(user {r.user_s:.2f}s sys {r.sys_s:.2f}s)  RSS {r.rss_mib:6.1f} MiB  "
        f"completed {r.completed:,}  errors {r.errors:,}  "
        f"nginx CPU {fmt(r.server_cpu_pct, '.0f')}%"
        + (f"\n    WARNING: {r.affinity_warning}" if r.affinity_warning else "")
    )


# --------------------------------------------------------------------------- #
# Modes
# --------------------------------------------------------------------------- #


def summarize(results: list[RunResult], tools: list[Tool]) -> str:
    rows = []
    med: dict[str, dict[str, float]] = {}
    for tool in tools:
        good = [r for r in results if r.tool == tool.name and r.ok]
        runs = [r for r in results if r.tool == tool.name]
        if not good:
            continue
        med[tool.name] = {
            "rps": statistics.median(r.rps for r in good),
            "cpu": statistics.median(r.cpu_us_per_req for r in good),
            "rss": statistics.median(r.rss_mib for r in good),
            "srv": statistics.median(r.server_cpu_pct or 0.0 for r in good),
            "errors": sum(r.errors for r in good),
            "runs": f"{len(good)}/{len(runs)}",
        }
    base = med.get("wrk")
    for name, m in med.items():
        if base:
            cpu_ratio = f"{m['cpu'] / base['cpu']:.2f}x"
            rps_ratio = f"{m['rps'] / base['rps']:.2f}x"
        else:
            cpu_ratio = rps_ratio = "n/a"
        rows.append(
            f"| {name} | {m['runs']} | {m['rps']:,.0f} | {m['cpu']:.2f} "
            f"| {m['rss']:.1f} | {cpu_ratio} | {rps_ratio} | {m['srv']:.0f}% "
            f"| {m['errors']:,} |"
        )
    header = (
        "| tool | runs ok | req/s | client CPU us/req | peak RSS MiB "
        "| CPU/req vs wrk | req/s vs wrk | nginx CPU | errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    return header + "\n" + "\n".join(rows) if rows else "(no successful runs)"


def exactness_check(args: argparse.Namespace, tool: Ringload, nginx_bin: str) -> tuple[bool, dict]:
    n = args.exactness
    log_dir = Path(tempfile.mkdtemp(prefix="ringload-exact-"))
    access_log = log_dir / "access.log"
    server = Nginx(nginx_bin, args.server_cpu, access_log=access_log, name="exact")
    info: dict = {"n": n}
    try:
        server.start()
        cmd = [
            tool.path,
            "-n",
            str(n),
            "-c",
            "64",
            "--no-progress",
            "--json",
            server.url,
        ]
        print(f"\nexactness: {' '.join(cmd)}", flush=True)
        res = run_measured(
            tool,
            cmd,
            round_no=0,
            client_cpu=args.client_cpu,
            timeout=max(120.0, n / 2000.0),
        )
        server.stop()  # graceful: the log is complete once the master exits
        logged, probes, other = count_log(access_log)
        info.update(run=asdict(res), logged=logged, probes=probes, unexpected_lines=other)
    finally:
        server.cleanup()
        shutil.rmtree(log_dir, ignore_errors=True)
    if not res.ok and res.error != "no request completed":
        print(f"exactness: ringload run FAILED: {res.error}")
        print(f"exactness: nginx logged {logged}\nexactness: FAIL")
        return False, info
    reported = res.detail.get("requests")
    ok = res.detail.get("ok")
    passed = reported == n and ok == n and logged == n
    print(f"exactness: ringload reported requests={reported} ok={ok}; nginx logged {logged}")
    if other:
        print(f"exactness: {other} logged lines were not 'GET / HTTP/1.1'")
    print(f"exactness: {'PASS' if passed else 'FAIL'}")
    info["pass"] = passed
    return passed, info


def count_log(path: Path) -> tuple[int, int, int]:
    """(requests to /, readiness probes, other lines) in a `$request` access log."""
    logged = probes = other = 0
    try:
        with path.open("rb") as f:
            for raw in f:
                line = raw.rstrip(b"\n")
                if line == b"GET / HTTP/1.1":
                    logged += 1
                elif READY_PATH.encode() in line:
                    probes += 1
                else:
                    logged += 1
                    other += 1
    except FileNotFoundError:
        pass
    return logged, probes, other


def cpu_busy_fraction(seconds: float) -> float | None:
    """Share of all CPUs' time that was not idle over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return idle, sum(fields[:8])

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 1.0 - (idle1 - idle0) / total


def check_machine(args: argparse.Namespace) -> None:
    cpus = os.sched_getaffinity(0)
    for label, cpu in (("client", args.client_cpu), ("server", args.server_cpu)):
        if cpu is not None and cpu not in cpus:
            raise HarnessError(f"--{label}-cpu {cpu} is not available (CPUs: {sorted(cpus)})")
    if args.client_cpu is not None and args.client_cpu == args.server_cpu:
        print("warning: client and server share one CPU; numbers are not comparable")
    busy = cpu_busy_fraction(1.0)
    if busy is not None and busy > 0.15:
        print(
            f"warning: the machine was {busy:.0%} busy in the second before the "
            "benchmark; other work will disturb the numbers"
        )
    for binary in (TIME_BIN, shutil.which("taskset")):
        if not binary or not os.access(binary, os.X_OK):
            raise HarnessError("needs /usr/bin/time (apt-get install time) and taskset (util-linux)")


def environment(tools: list[Tool], nginx_bin: str) -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "nginx": first_line([nginx_bin, "-v"]),
        "tools": {t.name: t.version() for t in tools},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Compare the client CPU time per request of ringload, wrk, oha and h2load against a local nginx.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--connections", "-c", type=int, default=64)
    ap.add_argument(
        "--duration",
        "-d",
        type=int,
        default=None,
        help="seconds per run (default 10; 60 with --memory)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated, in run order")
    ap.add_argument(
        "--ringload",
        default=str(default_ringload()),
        help="ringload binary",
    )
    ap.add_argument("--json-out", type=Path, help="write every raw per-round result here")
    ap.add_argument(
        "--exactness",
        type=int,
        default=100_000,
        metavar="N",
        help="requests for the ringload exactness check; 0 to skip",
    )
    ap.add_argument(
        "--baseline",
        metavar="PATH",
        help="another ringload binary (an earlier build), run as tool 'before' in every round",
    )
    ap.add_argument(
        "--memory",
        action="store_true",
        help="only one ringload run (60 s, -c 64) and its peak RSS",
    )
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--client-cpu", type=int, default=0, help="CPU for the load generators")
    ap.add_argument("--server-cpu", type=int, default=1, help="CPU for nginx")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds of idle between runs")
    args = ap.parse_args(argv)

    names = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in names if t not in ALL_TOOLS]
    if unknown or not names:
        ap.error(f"unknown tool(s) {unknown}; choose from {','.join(ALL_TOOLS)}")
    if args.connections < 1 or args.rounds < 1 or args.exactness < 0:
        ap.error("--connections and --rounds must be >= 1, --exactness >= 0")
    if args.memory:
        names = ["ringload"]
        args.rounds = 1
        args.duration = args.duration or 60
    args.duration = args.duration or 10
    if args.duration < 1:
        ap.error("--duration must be >= 1")
    if not os.access(args.nginx, os.X_OK):
        print(
            f"error: nginx not found ({args.nginx}); apt-get install nginx-light",
            file=sys.stderr,
        )
        return 3

    # SIGTERM/SIGHUP unwind like Ctrl-C so that nginx is always stopped.
    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tools: list[Tool] = []
    for name in names:
        tool = make_tool(name, args.ringload)
        reason = tool.missing_reason()
        if reason:
            print(f"skipping {name}: {reason}")
        else:
            tools.append(tool)

    if args.baseline:
        before = Ringload(args.baseline)
        before.name = "before"
        reason = before.missing_reason()
        if reason:
            print(f"skipping before: {reason}")
        else:
            tools.append(before)

    if not tools:
        print("error: none of the requested load generators is available")
        return 1
    ringload = next((t for t in tools if isinstance(t, Ringload)), None)
    if args.memory and ringload is None:
        print("error: --memory needs the ringload binary", file=sys.stderr)
        return 1

    results: list[RunResult] = []
    exact_info: dict | None = None
    failed = False
    server: Nginx | None = None
    env = environment(tools, args.nginx)
    try:
        check_machine(args)
        if tools:
            server = Nginx(args.nginx, args.server_cpu)
            server.start()
            print(
                f"nginx: 1 worker (pid {server.worker_pid}) on CPU {args.server_cpu}, "
                f"{server.url}; "
                f"load generators on CPU {args.client_cpu}; -c {args.connections}, "
                f"{args.duration}s x {args.rounds} round(s)",
                flush=True,
            )
            for rnd, tool in alternate(args.rounds, tools):
                if results:
                    time.sleep(args.pause)
                cmd = tool.command(server.url, args.connections, args.duration)
                res = run_measured(
                    tool,
                    cmd,
                    round_no=rnd,
                    client_cpu=args.client_cpu,
                    timeout=args.duration * 2 + 30,
                    server_pid=server.worker_pid,
                )
                results.append(res)
                failed |= not res.ok
                print(
                    f"round {rnd}/{args.rounds} {tool.name:8s} {describe(res)}",
                    flush=True,
                )
            server.cleanup()
            server = None

        if args.memory:
            r = results[0] if results else None
            if r is None or r.max_rss_kib is None:
                print("memory: no measurement")
                failed = True
            else:
                within = r.rss_mib <= MEMORY_TARGET_MIB
                print(
                    f"\nmemory: ringload -c {args.connections} -d {args.duration}s "
                    "peak RSS "
                    f"{r.rss_mib:.1f} MiB ({r.max_rss_kib} KiB); "
                    f"target <= {MEMORY_TARGET_MIB:.0f} MiB: "
                    f"{'PASS' if within else 'FAIL'}"
                )
                failed |= not within
        else:
            if results:
                print("\n" + summarize(results, tools))
                print(
                    "\nclient CPU us/req = (user+sys CPU of the load generator) / "
                    "completed requests; lower is better. Medians over rounds.\n"
                    "nginx CPU = share of CPU the nginx worker used during the run; "
                    "near 100% means the server was the bottleneck."
                )
            if args.exactness > 0:
                if ringload is None:
                    print("\nexactness: SKIPPED (ringload binary not available)")
                else:
                    passed, exact_info = exactness_check(args, ringload, args.nginx)
                    failed |= not passed
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.cleanup()
        if args.json_out:
            payload = {
                "settings": {
                    "connections": args.connections,
                    "duration_s": args.duration,
                    "rounds": args.rounds,
                    "client_cpu": args.client_cpu,
                    "server_cpu": args.server_cpu,
                    "tools": [t.name for t in tools],
                    "memory_mode": args.memory,
                },
                "environment": env,
                "runs": [asdict(r) for r in results],
                "exactness": exact_info,
            }
            args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
            print(f"raw results written to {args.json_out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
