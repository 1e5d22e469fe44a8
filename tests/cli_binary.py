"""The Rust `ringload` binary of this checkout, the commands pip installed, and what "the same
JSON object" means, for the tests that compare the Python faces with the binary."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "rust" / "ringload-cli" / "schema" / "report.schema.json"


def rust_cli() -> str:
    """The `ringload` binary: the newest cargo build of this checkout (`make test` builds it
    before pytest runs), else built now. Not the command on PATH, which may be the package's."""
    built = [ROOT / "target" / build / "ringload" for build in ("debug", "release")]
    built = [binary for binary in built if binary.exists()]
    if built:
        return str(max(built, key=lambda binary: binary.stat().st_mtime))
    if shutil.which("cargo") is None:
        raise RuntimeError("the tests compare with the Rust binary: install Rust (cargo) or run `make build`")
    subprocess.run(["cargo", "build", "--locked", "-p", "ringload-cli"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "ringload")


def json_shape(value: object) -> object:
    """Keys and types, not values: what "the same object" means for two runs."""
    if isinstance(value, dict):
        return {k: json_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shape(v) for v in value]
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def installed_command(name: str) -> str:
    """The console script pip installed beside this interpreter (not whatever PATH finds)."""
    script = Path(sysconfig.get_path("scripts")) / name
    if not script.exists():
        script = Path(sys.executable).parent / name
    assert script.exists(), f"{name} is not installed beside {sys.executable}: run `pip install .`"
    return str(script)
