#!/usr/bin/env python3
"""What templated requests cost: client CPU per request with and without placeholders.

Method
------
nginx (one worker, ``location / { return 200 ...; }``, so every path is answered the
same) runs pinned to CPU 1, ringload pinned to CPU 0, as in ``compare.py``. The
variants run in alternating rounds with the same connections, one thread and the
same duration:

* ``plain``: ``ringload -c C -t 1 -d Ns URL/items/42?page=7``;
* ``template``: ``ringload --template -c C -t 1 -d Ns
  'URL/items/{{rand_int 1 1000000}}?page={{seq}}' -H 'X-Request-Id: {{uuid}}'``
  (a random id, a run-wide sequence and a UUID in every request).

Client CPU per request is (user + sys) / completed requests from
``/usr/bin/time``. The summary prints the median over rounds of each variant
and the ratio template / plain against the target (at most 1.3x).

Only 127.0.0.1 is contacted. Python standard library only; reuses compare.py.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Nginx, Ringload, default_ringload, run_measured  # noqa: E402
from measure import alternate  # noqa: E402

TARGET_RATIO = 1.3


def variants(url: str) -> dict[str, list[str]]:
    base = url.rstrip("/")
    return {
        "plain": [f"{base}/items/42?page=7"],
        "template": [
            "--template",
            "-H",
            "X-Request-Id: {{uuid}}",
            f"{base}/items/{{{{rand_int 1 1000000}}}}?page={{{{seq}}}}",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringload", default=str(default_ringload()))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    args = ap.parse_args(argv)

    tool = Ringload(args.ringload)
    if reason := tool.missing_reason():
        print(reason, file=sys.stderr)
        return 2
    nginx = Nginx(args.nginx, args.server_cpu)
    nginx.start()
    cpu: dict[str, list[float]] = {"plain": [], "template": []}
    rps: dict[str, list[float]] = {"plain": [], "template": []}
    try:
        for round_no, (name, extra) in alternate(args.rounds, list(variants(nginx.url).items())):
            cmd = tool.command(nginx.url, args.connections, args.duration)
            cmd = cmd[:-1] + extra  # the URL (last) replaced by the variant's arguments
            run = run_measured(
                tool,
                cmd,
                round_no=round_no,
                client_cpu=args.client_cpu,
                timeout=args.duration + 30,
                server_pid=nginx.worker_pid,
            )
            if not run.ok or run.cpu_us_per_req is None or run.rps is None:
                print(f"{name} round {round_no} failed: {run.error}\n{run.stderr_tail}", file=sys.stderr)
                return 1
            cpu[name].append(run.cpu_us_per_req)
            rps[name].append(run.rps)
            print(
                f"round {round_no} {name:8s} {run.rps:10.0f} req/s  {run.cpu_us_per_req:6.2f} us CPU/request  "
                f"nginx {run.server_cpu_pct or 0:.0f}% CPU"
            )
    finally:
        nginx.stop()
        nginx.cleanup()
    plain, templated = statistics.median(cpu["plain"]), statistics.median(cpu["template"])
    ratio = templated / plain
    print(f"\nmedian CPU/request: plain {plain:.2f} us, template {templated:.2f} us")
    plain_rps, template_rps = statistics.median(rps["plain"]), statistics.median(rps["template"])
    print(f"median req/s: plain {plain_rps:.0f}, template {template_rps:.0f}")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"template / plain CPU per request: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
