"""README's first code block is the contract with a new user and with CI: exactly two lines,
the install-and-run command and then the test command, which `.ci/run` runs as it is."""

from __future__ import annotations

import re
import shlex
import subprocess

from cli_binary import ROOT, installed_command


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "README.md starts with no ```sh block"
    lines = block.group(1).splitlines()
    # A trailing "# comment" explains the command; it is not part of it.
    return [line.split("   #")[0].strip() for line in lines]


def test_readme_starts_with_the_install_and_the_test_command() -> None:
    install, test = readme_commands()
    assert install == "pip install . && ringload demo"
    assert test == "make test"


def test_ci_runs_exactly_the_test_command() -> None:
    [_, test] = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in ci if line and not line.startswith("#")]
    assert commands[-1] == test
    # Nothing else that installs or runs: only bash's strictness and the checkout's root.
    assert commands[:-1] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']


def test_the_installed_demo_runs_the_built_in_target() -> None:
    """The first command's second half, as pip installed it (shorter than the 3 s default)."""
    demo = subprocess.run(
        [installed_command("ringload"), *shlex.split("demo -d 1s -c 4")], capture_output=True, text=True, timeout=60
    )
    assert demo.returncode == 0, demo.stderr
    served = re.search(r"demo: the target counted (\d+) requests", demo.stderr)
    assert served and int(served.group(1)) > 0
    assert re.search(r"Requests: \d+\s+ok \d+", demo.stdout)
