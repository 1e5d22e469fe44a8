"""The ``ringload`` command that ``pip install`` puts on PATH, and ``python -m ringload``.

Both run the Rust binary's own command line through the extension (``ringload --help``): the
same options, output, JSON, exit codes and Ctrl-C handling as ``cargo install``'s binary.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from ringload import _ringload


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    # Whatever Python buffered must come out before the engine writes to the same descriptors.
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(_ringload.cli_main(["ringload", *args]))


if __name__ == "__main__":
    main()
