"""``ringload.run()`` from plain threads, asyncio and gevent, each in a fresh interpreter (this
pytest process is monkey-patched by Locust's import elsewhere in the suite).

Each script starts the built-in target server itself and prints one JSON line of facts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest


def run_script(code: str, timeout: float = 60) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_threads_run_concurrently_with_the_gil_released() -> None:
    facts = run_script(
        """
        import json, threading, time
        import ringload

        with ringload.TargetServer() as target:
            results, spans = {}, {}

            def load(name):
                started = time.monotonic()
                results[name] = ringload.run(target.url + "/", duration=1.0, rate=1000, connections=4, threads=1)
                spans[name] = (started, time.monotonic())

            spins = 0
            done = threading.Event()

            def spin():
                # Pure Python: it only advances while the load threads leave the GIL free.
                global spins
                while not done.is_set():
                    spins += 1

            spinner = threading.Thread(target=spin)
            spinner.start()
            time.sleep(0.1)
            spins_before = spins
            workers = [threading.Thread(target=load, args=(n,)) for n in ("a", "b")]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            spins_during = spins - spins_before
            done.set()
            spinner.join()
            (a0, a1), (b0, b1) = spans["a"], spans["b"]
            print(json.dumps({
                "requests": [results[n].requests for n in ("a", "b")],
                "server": target.requests(),
                "overlap": min(a1, b1) - max(a0, b0),
                "spins_during": spins_during,
            }))
        """
    )
    assert all(300 <= n <= 1005 for n in facts["requests"]), facts
    assert facts["server"] == sum(facts["requests"])
    # Both one-second runs went on at the same time ...
    assert facts["overlap"] > 0.5, facts
    # ... while a pure-Python loop kept running: the runs held no GIL (held, it would be ~0).
    assert facts["spins_during"] > 1_000_000, facts


def test_asyncio_run_async_keeps_the_loop_running_and_cancels() -> None:
    facts = run_script(
        """
        import asyncio, json, time
        import ringload

        async def main():
            with ringload.TargetServer() as target:
                ticks = 0

                async def tick():
                    nonlocal ticks
                    while True:
                        await asyncio.sleep(0.01)
                        ticks += 1

                ticker = asyncio.create_task(tick())
                result = await ringload.run_async(target.url + "/", duration=1.0, rate=500, connections=4)
                ticks_during_run = ticks

                both = await asyncio.gather(
                    ringload.run_async(target.url + "/", requests=1000, connections=2),
                    ringload.run_async(target.url + "/", requests=1000, connections=2),
                )

                task = asyncio.create_task(ringload.run_async(target.url + "/", duration=30, connections=2))
                await asyncio.sleep(0.5)
                started = time.monotonic()
                task.cancel()
                try:
                    await task
                    cancelled = False
                except asyncio.CancelledError:
                    cancelled = True
                cancel_took = time.monotonic() - started
                ticker.cancel()
                try:
                    await ringload.run_async(target.url + "/", connections=0, requests=1)
                    error = None
                except ValueError as e:
                    error = str(e)
                return {
                    "requests": result.requests,
                    "ticks": ticks_during_run,
                    "both": [r.requests for r in both],
                    "cancelled": cancelled,
                    "cancel_took": cancel_took,
                    "error": error,
                }

        print(json.dumps(asyncio.run(main())))
        """
    )
    assert 300 <= facts["requests"] <= 505
    # A 10 ms ticker over a 1 s run: the loop was never blocked.
    assert facts["ticks"] >= 50, facts
    assert facts["both"] == [1000, 1000]
    assert facts["cancelled"] is True
    assert facts["cancel_took"] < 3, facts
    assert "connections" in facts["error"]


@pytest.mark.parametrize("monkey_patch", [False, True])
def test_gevent_hub_keeps_running_during_a_run(monkey_patch: bool) -> None:
    facts = run_script(
        f"""
        if {monkey_patch}:
            from gevent import monkey
            monkey.patch_all()
        import json
        import gevent
        from gevent.pywsgi import WSGIServer
        import urllib.request
        import ringload

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"pong"]

        # A gevent server in this very thread must keep answering while the run is going on.
        server = WSGIServer(("127.0.0.1", 0), app, log=None)
        server.start()
        ticks = 0

        def tick():
            global ticks
            while True:
                gevent.sleep(0.01)
                ticks += 1

        with ringload.TargetServer() as target:
            ticker = gevent.spawn(tick)
            load = gevent.spawn(ringload.run, target.url + "/", duration=1.0, rate=500, connections=4)
            gevent.sleep(0.3)
            # The load test itself, pointed at the gevent server, while the first run goes on.
            probe = ringload.run(f"http://127.0.0.1:{{server.server_port}}/", requests=50, connections=2)
            result = load.get(timeout=10)
            ticker.kill()
            print(json.dumps({{
                "requests": result.requests,
                "ticks": ticks,
                "probe_ok": probe.ok,
                "server": target.requests(),
            }}))
        server.stop()
        """
    )
    assert 300 <= facts["requests"] <= 505
    assert facts["requests"] == facts["server"]
    assert facts["ticks"] >= 50, facts
    assert facts["probe_ok"] == 50


def test_ctrl_c_stops_the_run_and_raises_keyboard_interrupt() -> None:
    code = textwrap.dedent(
        """
        import json, signal, sys, time
        import ringload

        # As in a terminal. A process started in the background by a shell without job control
        # (a CI runner's `cmd &`) inherits SIGINT ignored, and Python then leaves it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)

        with ringload.TargetServer() as target:
            print("ready", flush=True)
            started = time.monotonic()
            try:
                ringload.run(target.url + "/", duration=60, connections=2)
                outcome = "finished"
            except KeyboardInterrupt:
                outcome = "interrupted"
            print(json.dumps({"outcome": outcome, "took": time.monotonic() - started}), flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    with open(f"/proc/{process.pid}/status") as status:
        ignored = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        sigint_ignored = bool(ignored & (1 << (signal.SIGINT - 1)))
        pytest.fail(f"still running 20 s after SIGINT (SIGINT ignored in it: {sigint_ignored}); output {out!r}")
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts["outcome"] == "interrupted"
    assert facts["took"] < 10, facts


def test_a_killed_greenlet_stops_its_run() -> None:
    facts = run_script(
        """
        import json, time
        import gevent
        import ringload

        with ringload.TargetServer() as target:
            load = gevent.spawn(ringload.run, target.url + "/", duration=30, rate=200, connections=2)
            gevent.sleep(0.5)
            load.kill()
            killed_at = target.requests()
            gevent.sleep(1.0)
            print(json.dumps({"at_kill": killed_at, "a_second_later": target.requests()}))
        """
    )
    # Requests in flight at the kill may still land; the 200/s schedule does not go on.
    assert facts["a_second_later"] - facts["at_kill"] < 20, facts


def test_importing_ringload_and_its_pytest_plugin_does_not_import_locust_or_gevent() -> None:
    facts = run_script(
        """
        import json, sys
        import ringload, ringload.pytest_plugin, ringload.testing
        print(json.dumps({name: name in sys.modules for name in ("locust", "gevent", "asyncio")}))
        """
    )
    assert facts == {"locust": False, "gevent": False, "asyncio": False}
