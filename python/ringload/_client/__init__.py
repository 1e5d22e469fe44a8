"""The Locust-compatible client on the engine, shared by ``FastHttpUser`` and ``HttpUser``.

Private: locustfiles import its names from ``ringload.contrib.fasthttp`` (or ``ringload.httpuser``)."""
