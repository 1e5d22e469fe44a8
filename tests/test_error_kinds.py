"""The kinds of request failure are defined once, in the engine (`with_error_kinds!` in
`rust/ringload-engine/src/error.rs`); the extension's `ErrorKind` is generated from that list.
The hand-written stub must list the same kinds, so a kind added in Rust fails here until the stub
says it too."""

from __future__ import annotations

import re
from pathlib import Path

from ringload._ringload import ErrorKind

ROOT = Path(__file__).resolve().parent.parent


def stub_kinds() -> list[str]:
    stub = (ROOT / "python" / "ringload" / "_ringload.pyi").read_text()
    block = re.search(r"^class ErrorKind:\n(.*?)^\S", stub, re.DOTALL | re.MULTILINE)
    assert block is not None, "_ringload.pyi has no class ErrorKind"
    return re.findall(r"^    ([A-Z_]+): ErrorKind$", block.group(1), re.MULTILINE)


def engine_kinds() -> list[str]:
    source = (ROOT / "rust" / "ringload-engine" / "src" / "error.rs").read_text()
    return [name.upper() for name in re.findall(r'^\s+[A-Z][A-Za-z]+ => "([a-z_]+)",$', source, re.MULTILINE)]


def test_the_stub_lists_every_kind_of_the_extension() -> None:
    runtime = [name for name in dir(ErrorKind) if name.isupper()]
    assert sorted(stub_kinds()) == sorted(runtime)
    # In the engine's order, so the stub reads as the engine's list.
    assert stub_kinds() == engine_kinds()


def test_each_label_is_the_name_reports_use() -> None:
    for name in stub_kinds():
        assert getattr(ErrorKind, name).label == name.lower()
