"""``python -m ringload ARGS`` is the ``ringload`` command (``python -m ringload --help``)."""

from ringload.cli import main

main()
