"""The ``ringload`` command that ``pip install .`` puts on PATH, and ``python -m ringload``: the
Rust binary's command line through the extension, so the same options, output, JSON, exit codes
and signals. Each test compares with the cargo-built binary of this checkout where it can."""

from __future__ import annotations

import inspect
import json
import pydoc
import signal
import subprocess
import sys
import time

import pytest
import ringload
from cli_binary import SCHEMA, installed_command, json_shape, rust_cli

# The three ways to run the command line: the package's console script, `python -m ringload`,
# and the cargo-built binary they must behave as.
FACES = {
    "command": lambda: [installed_command("ringload")],
    "module": lambda: [sys.executable, "-m", "ringload"],
}


@pytest.fixture(params=sorted(FACES))
def face(request: pytest.FixtureRequest) -> list[str]:
    return FACES[request.param]()


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_version_is_the_packages_and_the_binarys(face: list[str]) -> None:
    answer = run([*face, "--version"])
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"ringload {ringload.__version__}"
    assert answer.stdout == run([rust_cli(), "--version"]).stdout


def test_help_is_the_binarys(face: list[str]) -> None:
    answer = run([*face, "--help"])
    assert answer.returncode == 0
    assert "--connections" in answer.stdout and "--fail-on" in answer.stdout
    assert answer.stdout == run([rust_cli(), "--help"]).stdout


def test_short_load_has_the_binarys_json(face: list[str], ringload_target: ringload.TargetServer) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    options = ["--json", "--no-progress", "-n", "300", "-c", "2", "-t", "1", ringload_target.url + "/"]
    answer = run([*face, *options])
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    binary = json.loads(run([rust_cli(), *options]).stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert json_shape(report) == json_shape(binary)
    assert report["requests"] == report["ok"] == 300
    assert ringload_target.requests() == 600


@pytest.mark.parametrize(
    ("arguments", "status"),
    [
        (["--connections", "0", "http://127.0.0.1:9/"], 2),  # bad usage, before any connection
        (["--no-such-flag"], 2),
        (["--fail-on", "p99>1ms", "-n", "50", "-c", "1", "{url}/delay/5"], 3),  # a threshold crossed
    ],
)
def test_exit_status_and_message_are_the_binarys(
    face: list[str], ringload_target: ringload.TargetServer, arguments: list[str], status: int
) -> None:
    arguments = [a.replace("{url}", ringload_target.url) for a in arguments]
    answer = run([*face, "--no-progress", *arguments])
    binary = run([rust_cli(), "--no-progress", *arguments])
    assert answer.returncode == binary.returncode == status
    # The same last line, up to the measured value a crossed threshold names.
    last_line = [r.stderr.splitlines()[-1].split(" (observed")[0] for r in (answer, binary)]
    assert last_line[0] == last_line[1]


def _wait_for(process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_with_its_report(
    face: list[str], ringload_target: ringload.TargetServer, signum: int, status: int
) -> None:
    process = subprocess.Popen(
        [*face, "--json", "--no-progress", "-c", "4", "-t", "1", "-d", "60s", ringload_target.url + "/delay/20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Traffic has started once the target counts requests; then the signal goes.
        deadline = time.monotonic() + 20
        while ringload_target.requests() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ringload_target.requests() > 0
        stopped_at = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
        assert time.monotonic() - stopped_at < 2, "the run went on after the signal"
    finally:
        process.kill()
    assert process.returncode == status, err
    report = json.loads(out)
    assert report["interrupted"] is True
    assert report["requests"] > 0


def test_serve_stops_on_ctrl_c(face: list[str]) -> None:
    process = subprocess.Popen([*face, "serve", "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert banner.startswith("ringload target listening on http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        _wait_for(process, 5)
    finally:
        process.kill()
    assert process.wait() == 130


def test_the_command_is_a_python_function_too(ringload_target: ringload.TargetServer, capfd) -> None:
    """`ringload.cli.main` is the console script's entry: it exits with the run's status and
    gives the interpreter its signal handlers back."""
    from ringload.cli import main

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exit:
        main(["--json", "--no-progress", "-n", "20", "-c", "1", ringload_target.url + "/"])
    assert exit.value.code == 0
    assert json.loads(capfd.readouterr().out)["requests"] == 20
    assert signal.getsignal(signal.SIGINT) is before
    # Python's own Ctrl-C handling is back: a SIGINT is a KeyboardInterrupt again.
    if before is signal.default_int_handler:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.1)


@pytest.mark.parametrize(
    "launcher",
    [lambda: [installed_command("ringload-locust")], lambda: [sys.executable, "-m", "ringload.locust"]],
)
def test_locust_launcher_version_names_ringload_and_locust(launcher) -> None:
    import locust

    answer = run([*launcher(), "--version"])
    assert answer.returncode == 0, answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].startswith(f"ringload {ringload.__version__} from ")
    assert lines[1].startswith(f"locust {locust.__version__} from ")


def test_help_of_run_shows_every_argument() -> None:
    parameters = inspect.signature(ringload.run).parameters
    assert {"url", "connections", "duration", "rate", "stages", "timeout", "on_progress"} <= set(parameters)
    text = pydoc.render_doc(ringload.run, renderer=pydoc.plaintext)
    for name in parameters:
        assert f"``{name}``" in text, f"help(ringload.run) does not describe {name}"
    assert ".pyi" not in text


def test_run_options_are_the_arguments_of_run() -> None:
    # run() spells its arguments out (help, stubs); run_async() forwards them as RunOptions.
    import dataclasses

    from ringload._load import RunOptions

    parameters = inspect.signature(ringload.run).parameters
    fields = {field.name: field.default for field in dataclasses.fields(RunOptions)}
    assert fields == {name: parameter.default for name, parameter in parameters.items()}


def test_run_and_run_async_refuse_unknown_arguments_alike() -> None:
    import asyncio

    message = r"\(\) got an unexpected keyword argument 'conections'"
    with pytest.raises(TypeError, match="run" + message):
        ringload.run("http://127.0.0.1:1/", requests=1, conections=2)
    # run_async checks its arguments when awaited, before any connection, as it checks the others.
    with pytest.raises(TypeError, match="run_async" + message):
        asyncio.run(ringload.run_async("http://127.0.0.1:1/", requests=1, conections=2))
