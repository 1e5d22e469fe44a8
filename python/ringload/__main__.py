"""``python -m ringload ARGS`` is the ``ringload`` command (``python -m ringload --help``)."""

if __name__ == "__main__":
    from ringload.cli import main

    main()
